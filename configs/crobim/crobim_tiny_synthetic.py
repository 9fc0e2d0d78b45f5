# A small CroBIM for the CPU demo: the tiny models' half-width ResNet-18
# from scratch and frozen cached MiniLM at 96x96
# (_base_/models/tiny_resnet18_minilm.py), the tiny schedule, and CroBIM's
# modules: CAPM (4 prompts) wrapping LGFA (64 wide) and a 3-layer MID
# (64 wide). The default model of the CPU demo (python
# demo/synthetic_demo.py).
_base_ = [
    '../_base_/models/tiny_resnet18_minilm.py',
    '../_base_/datasets/synthetic_refseg.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_6k_cpu.py'
]
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
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True),
        align_corners=True,
        # as the tiny LAVT: equal CE and Dice (targets cover ~3% of a scene)
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=1.0),
            dict(type='ForegroundDiceLoss', loss_weight=1.0),
        ]))

# 3000 iterations: on the 2-core CPU this reaches test oIoU 79.5 (shuffled
# sentences 14.0) in about 12 minutes; the LAVT tiny model needs 6000 for 64.
max_iters = 3000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=100, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=1000)
log_processor = dict(by_epoch=False)  # iterations
randomness = dict(seed=0)
