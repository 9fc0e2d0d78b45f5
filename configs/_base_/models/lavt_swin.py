# LAVT (Yang et al., CVPR 2022): Swin with a PWAM + language gate inside every
# stage, BERT-base-uncased (20 tokens), and the LAVT top-down decoder.
# Sizes are Swin-B window 12 (ImageNet-22k, 384 px); leaf configs override.
norm_cfg = dict(type='SyncBN', requires_grad=True)
crop_size = (480, 480)
swin_channels = [128, 256, 512, 1024]
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
        # MMSeg's Swin, loading the official release (converted on load) or
        # MMSeg's converted file
        # (download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/
        # swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth), and
        # refusing a checkpoint that does not cover it
        type='PretrainedSwinTransformer',
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
    fusion=dict(type='PWAM', in_channels=swin_channels, num_heads=1,
                dropout=0.0),
    fusion_mode='early',
    decode_head=dict(
        type='LAVTHead',
        in_channels=swin_channels,
        channels=swin_channels[-1] // 2,  # LAVT: C4 / 2
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=True,
        # RMSIN / FIANet loss/loss.py: 0.9 * CE (class weights 0.9/1.1)
        # + 0.1 * Dice on the softmax of both classes, smooth 1e-6, summed
        # over the batch x 2 classes (so it scales with images per GPU)
        loss_decode=[
            dict(type='WeightedCrossEntropyLoss', class_weight=[0.9, 1.1],
                 loss_weight=0.9),
            dict(type='ForegroundDiceLoss', loss_weight=0.1,
                 include_background=True, reduction='sum', eps=1e-6),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
