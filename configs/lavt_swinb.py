# LAVT baseline: Swin-B (window 12, ImageNet-22k 384) + BERT-base-uncased,
# 480x480, AdamW 5e-5, poly, 40 epochs, 0.9 CE + 0.1 Dice (RMSIN's loss),
# on RefSegRS. Effective batch: 8 GPUs x 4 images = 32.
# Train: tools/dist_train.sh configs/lavt_swinb.py 8
_base_ = [
    '_base_/models/lavt_swin.py', '_base_/datasets/refsegrs.py',
    '_base_/default_runtime.py', '_base_/schedules/schedule_40e.py'
]
