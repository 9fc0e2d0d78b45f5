# CroBIM-Swin on RefSegRS: Swin-B (ImageNet-22k 384) + BERT-base-uncased,
# CAPM + LGFA + MID, 480x480.
# CroBIM's code and training recipe are not public: the lineage recipe of
# the LAVT/RMSIN code it credits (configs/lavt_swinb.py): batch 8 = 4 GPUs
# x 2 (GroupNorm: independent of images per GPU), 40 epochs, AdamW 5e-5,
# poly 0.9, BERT layers 0-9, 20 tokens, seed 2401, RMSIN's loss.
# Evaluation: the best val oIoU checkpoint is kept, final numbers on test.
# Train: tools/dist_train.sh configs/crobim_swinb.py 4
_base_ = [
    '_base_/models/crobim_swin.py', '_base_/datasets/refsegrs.py',
    '_base_/default_runtime.py', '_base_/schedules/schedule_40e.py'
]
