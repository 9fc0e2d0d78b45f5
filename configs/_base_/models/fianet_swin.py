# FIANet (Lei et al., TGRS 2024): LAVT's Swin-B + BERT-base + LAVT decoder,
# with FIAM (context PWAM + ground-object branch gated by the spatial-position
# map + channel gate) inside every stage, the expression split into object /
# spatial token masks (SplitTextEncoder: BERT runs once per mask), and TMEM
# (text-aware multi-scale enhancement) as a neck. Leaf configs set the class
# word list and the number of TMEM blocks.
_base_ = ['./lavt_swin.py']
swin_channels = [128, 256, 512, 1024]
model = dict(
    text_encoder=dict(
        type='SplitTextEncoder',
        # rule tagger + FIANet's chunk grammar and word-index placement
        # (mode='official' runs NLTK itself: needs its tagger data)
        splitter=dict(class_words='refsegrs', mode='rule',
                      placement='official')),
    fusion=dict(_delete_=True, type='FIAM', in_channels=swin_channels,
                num_heads=1, dropout=0.0),
    neck=dict(type='TMEM', in_channels=swin_channels, text_channels=None,
              num_blocks=1, norm_cfg={{_base_.norm_cfg}}))
