# FIANet (Lei et al., TGRS 2024): LAVT's Swin-B + BERT-base + LAVT decoder,
# with FIAM (context PWAM + ground-object branch gated by the spatial-position
# map + channel gate) inside every stage, the expression split into object /
# spatial token masks (SplitTextEncoder: BERT runs once per mask), and TMEM
# (text-aware multi-scale enhancement) as a neck. Leaf configs set the class
# word list and the number of TMEM blocks.
_base_ = ['./swinb_bert.py']  # Swin-B, BERT, data preprocessor
swin_channels = [128, 256, 512, 1024]
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    text_encoder=dict(
        type='SplitTextEncoder',
        # rule tagger + FIANet's chunk grammar and word-index placement
        # (mode='official' runs NLTK itself: needs its tagger data)
        splitter=dict(class_words='refsegrs', mode='rule',
                      placement='official')),
    fusion=dict(type='FIAM', in_channels=swin_channels, num_heads=1,
                dropout=0.0),
    fusion_mode='early',
    neck=dict(type='TMEM', in_channels=swin_channels, text_channels=None,
              num_blocks=1, norm_cfg=norm_cfg),
    # FIANet keeps LAVT's decoder (configs/fianet/README.md)
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
