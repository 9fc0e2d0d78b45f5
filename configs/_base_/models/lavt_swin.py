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
        # RMSIN's / FIANet's loss/loss.py (swinb_bert.py: rmsin_loss)
        loss_decode={{_base_.rmsin_loss}}))
