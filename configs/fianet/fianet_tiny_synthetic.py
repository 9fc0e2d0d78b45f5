# The tiny models' half-width ResNet-18 from scratch and frozen cached MiniLM
# at 96x96 (_base_/models/tiny_resnet18_minilm.py) with FIANet's parts: the
# split expression (synthetic class words), FIAM in every stage, one TMEM
# block and LAVT's decoder, on the tiny schedule.
_base_ = [
    '../_base_/models/tiny_resnet18_minilm.py',
    '../_base_/datasets/synthetic_refseg.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_6k_cpu.py'
]
channels = [32, 64, 128, 256]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    text_encoder=dict(type='SplitTextEncoder',
                      splitter=dict(class_words='synthetic')),
    fusion=dict(type='FIAM', in_channels=channels),
    neck=dict(type='TMEM', in_channels=channels, text_channels=None,
              num_blocks=1, norm_cfg=norm_cfg),
    decode_head=dict(
        type='LAVTHead',
        in_channels=channels,
        channels=64,
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=True,
        # as the tiny LAVT: equal CE and Dice (targets cover ~3% of a scene)
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=1.0),
            dict(type='ForegroundDiceLoss', loss_weight=1.0),
        ]))

log_processor = dict(by_epoch=False)  # iterations (schedule_6k_cpu.py)
randomness = dict(seed=0)
