# CroBIM-Swin: Swin-B (ImageNet-22k 384) + BERT-base-uncased, CAPM + LGFA +
# MID, 480x480, AdamW 5e-5 (wd 0.01), poly, 40 epochs, 0.9 CE + 0.1 Dice, on
# RefSegRS. Effective batch: 8 GPUs x 1 image = 8, the batch of the
# LAVT/RMSIN family CroBIM builds on (RMSIN 4 GPUs x 2, DiCoR 8).
# Train: tools/dist_train.sh configs/crobim_swinb.py 8
_base_ = [
    '_base_/models/crobim_swin.py', '_base_/datasets/refsegrs.py',
    '_base_/default_runtime.py', '_base_/schedules/schedule_40e.py'
]
train_dataloader = dict(batch_size=1)  # per GPU: 8 GPUs x 1 = 8 per step
