# A small CroBIM for the CPU demo, modelled on lavt_tiny_synthetic.py (same
# half-width ResNet-18 from scratch, frozen cached MiniLM, 96x96, schedule
# and hooks), with CroBIM's modules instead of PWAM + LAVT decoder:
# CAPM (4 prompts) wrapping LGFA (64 wide) and a 3-layer MID (64 wide).
# python demo/synthetic_demo.py --config configs/crobim/crobim_tiny_synthetic.py
_base_ = ['../lavt_tiny_synthetic.py']
channels = [32, 64, 128, 256]
width = 64
gn = dict(type='GN', num_groups=8)
model = dict(
    fusion=None,
    neck=dict(
        type='CAPM',
        in_channels=channels,
        text_channels=None,
        num_prompts=4,
        pool_size=4,
        num_heads=4,
        num_layers=1,
        visual_neck=dict(
            type='LGFA',
            in_channels=channels,
            text_channels=None,
            channels=width,
            num_heads=4,
            norm_cfg=gn)),
    decode_head=dict(
        type='MIDHead',
        in_channels=[width] * 4,
        channels=width,
        text_channels=None,
        num_layers=3,
        num_heads=4,
        norm_cfg=gn))
