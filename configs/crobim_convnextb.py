# CroBIM-ConvNeXt: crobim_swinb.py with MMPretrain's ConvNeXt-B (ImageNet-22k
# weights; 128/256/512/1024 channels at strides 4..32, like Swin-B). The
# paper reports this variant; its size and weights are not given, ConvNeXt-B
# is our guess. Recipe as crobim_swinb.py (batch 8 = 4 GPUs x 2).
# Train: tools/dist_train.sh configs/crobim_convnextb.py 4
_base_ = ['./crobim_swinb.py']
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-base_3rdparty_in21k_20220301-262fd037.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='base',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        gap_before_final_norm=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')))
