# What the paper models share: the referring segmentor around a Swin-B
# (window 12, ImageNet-22k 384) and BERT-base-uncased (20 tokens), with the
# ImageNet data preprocessor at 480x480. No fusion, neck or head: each
# model's base (lavt_swin.py, fianet_swin.py, crobim_swin.py,
# btdnet_swin.py) declares its own, with its loss and align_corners.
norm_cfg = dict(type='SyncBN', requires_grad=True)  # decoders' default norm
crop_size = (480, 480)
swin_channels = [128, 256, 512, 1024]
# RMSIN / FIANet loss/loss.py, taken by the LAVT, FIANet, CroBIM and BTDNet
# heads as `loss_decode={{_base_.rmsin_loss}}`: 0.9 * CE (class weights
# 0.9/1.1) + 0.1 * Dice on the softmax of both classes, smooth 1e-6, summed
# over the batch x 2 classes (so it scales with images per GPU)
rmsin_loss = [
    dict(type='WeightedCrossEntropyLoss', class_weight=[0.9, 1.1],
         loss_weight=0.9),
    dict(type='ForegroundDiceLoss', loss_weight=0.1,
         include_background=True, reduction='sum', eps=1e-6),
]
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],  # ImageNet, RGB
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    type='ReferringEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        # MMSeg's Swin taking a fusion block inside every stage (without
        # fusion: MMSeg's Swin), loading the official release (converted on
        # load) or MMSeg's converted file
        # (download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/
        # swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth), and
        # refusing a checkpoint that does not cover it
        type='LanguageAwareSwin',
        pretrain_img_size=384,
        embed_dims=128,
        patch_size=4,
        window_size=12,
        mlp_ratio=4,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.3,
        patch_norm=True,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/SwinTransformer/storage/releases/'
            'download/v1.0.0/swin_base_patch4_window12_384_22k.pth')),
    text_encoder=dict(
        type='HFTextEncoder',
        model_name_or_path='bert-base-uncased',
        max_length=20,
        # a longer sentence keeps its first 20 ids, [SEP] lost, as the
        # LAVT / RMSIN / FIANet loaders (encode(text)[:20])
        keep_sep_on_truncation=False,
        # LAVT / RMSIN / FIANet optimise BERT layers 0-9 only; the
        # embeddings and layers 10-11 get requires_grad=False
        trainable_layers=10),
    # fusion blocks (inside the backbone stages), neck and heads: the model
    # bases; 'early' is the segmentor's default, stated for the bases that
    # set no fusion
    fusion_mode='early',
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
