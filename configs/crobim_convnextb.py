# CroBIM-ConvNeXt: crobim_swinb.py with MMPretrain's ConvNeXt-B (ImageNet-22k
# weights; 128/256/512/1024 channels at strides 4..32, like Swin-B). The
# paper reports this variant; its size and weights are not given, ConvNeXt-B
# is our guess. Recipe as crobim_swinb.py (batch 8 = 4 GPUs x 2).
# Train: tools/dist_train.sh configs/crobim_convnextb.py 4
_base_ = ['./crobim_swinb.py']
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-base_3rdparty_in21k_20220301-262fd037.pth'  # noqa
# channels_last: convolutions in NHWC, the same function; on the 2-core CPU
# the training step took 0.86x and inference 0.83x the time (medians of 3
# alternating rounds, 480x480, batch 1); not yet measured on a GPU:
# --cfg-options model.channels_last=False gives the standard layout
model = dict(
    channels_last=True,
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
