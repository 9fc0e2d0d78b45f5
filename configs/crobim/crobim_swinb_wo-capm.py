# Ablation: without CAPM. LGFA is the neck itself; MID reads the plain words
# (no prompts, no visual context in the language).
_base_ = ['../crobim_swinb.py']
model = dict(
    neck=dict(
        _delete_=True,
        type='LGFA',
        in_channels=[128, 256, 512, 1024],
        text_channels=None,
        channels=256,
        num_heads=8,
        norm_cfg=dict(type='GN', num_groups=32)))
