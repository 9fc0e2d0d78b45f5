# A small LAVT that learns the synthetic referring dataset on a laptop CPU:
# PWAM + language gate after every backbone stage and the LAVT decoder, on
# the tiny models' half-width ResNet-18 (from scratch) and frozen MiniLM
# (_base_/models/tiny_resnet18_minilm.py), 96x96 images. Used by the demo
# and the tests.
_base_ = [
    '../_base_/models/tiny_resnet18_minilm.py',
    '../_base_/datasets/synthetic_refseg.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_6k_cpu.py'
]
channels = [32, 64, 128, 256]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    # closed language gate at start (the README's demo figures); the paper
    # configs start from LAVT's small open gate
    fusion=dict(type='PWAM', in_channels=channels, num_heads=1, dropout=0.0,
                gate_init='zero'),
    decode_head=dict(
        type='LAVTHead',
        in_channels=channels,
        channels=64,
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=True,
        # targets cover ~3% of a 96x96 scene: an equal-weight Dice term
        # stops the from-scratch model collapsing to "all background"
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=1.0),
            dict(type='ForegroundDiceLoss', loss_weight=1.0),
        ]))

log_processor = dict(by_epoch=False)  # iterations (schedule_6k_cpu.py)
randomness = dict(seed=0)
