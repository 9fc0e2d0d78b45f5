# Example project: the tiny synthetic LAVT with its PWAM blocks replaced by
# GatedFiLMFusion and its decoder by FiLMHead (both in ../gated_film).
# Train it from the repository root:
#   python tools/train.py \
#       projects/example_project/configs/gated_film_tiny_synthetic.py
# (data: data/synthetic_refseg, written by demo/synthetic_demo.py or
# tools/misc/make_synthetic_refseg.py; --data-root DIR for another folder).
_base_ = ['../../../configs/lavt/lavt_tiny_synthetic.py']

# Register the project's modules. tools/train.py puts the repository root on
# sys.path, so the project imports as ``projects.example_project.<pkg>``;
# 'mmrrsis' stays listed because this list replaces the base's.
custom_imports = dict(
    imports=['mmrrsis', 'projects.example_project.gated_film'],
    allow_failed_imports=False)

channels = [32, 64, 128, 256]  # the base's half-width ResNet-18
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    # one block after every stage; the segmentor fills text_channels (of
    # the blocks and the head) with the text encoder's width
    fusion=dict(_delete_=True, type='GatedFiLMFusion', in_channels=channels),
    decode_head=dict(
        _delete_=True,
        type='FiLMHead',
        in_channels=channels,
        channels=64,
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=1.0),
            dict(type='ForegroundDiceLoss', loss_weight=1.0),
        ]))
