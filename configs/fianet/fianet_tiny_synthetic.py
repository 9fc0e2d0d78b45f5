# The CPU demo model (configs/lavt/lavt_tiny_synthetic.py: half-width ResNet-18
# from scratch, frozen cached MiniLM, 96x96) with FIANet's parts: the split
# expression (synthetic class words), FIAM in every stage and one TMEM block.
_base_ = ['../lavt/lavt_tiny_synthetic.py']
channels = [32, 64, 128, 256]
model = dict(
    text_encoder=dict(type='SplitTextEncoder',
                      splitter=dict(class_words='synthetic')),
    fusion=dict(_delete_=True, type='FIAM', in_channels=channels),
    neck=dict(type='TMEM', in_channels=channels, text_channels=None,
              num_blocks=1, norm_cfg=dict(type='BN', requires_grad=True)))
