# LAVT (Yang et al., CVPR 2022): Swin with a PWAM + language gate inside every
# stage, BERT-base-uncased (20 tokens), and the LAVT top-down decoder.
# Sizes are Swin-B window 12 (ImageNet-22k, 384 px); leaf configs override.
_base_ = ['./swinb_bert.py']  # Swin-B, BERT, data preprocessor
swin_channels = [128, 256, 512, 1024]
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
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
        ]))
