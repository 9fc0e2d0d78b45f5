# configs/lavt_swinb.py (LAVT: Swin-B + BERT-base + PWAM) trained and scored on
# RRSIS-D instead of RefSegRS, with RMSIN's RRSIS-D recipe (Lsan2401/RMSIN, the
# dataset's own code): batch 8 = 4 GPUs x 2, 40 epochs, AdamW 3e-5, poly 0.9
# per iteration, BERT layers 0-9, 20 tokens, seed 2401, PIL resize, RMSIN's
# loss, and its occlusion boxes on 20% of the training references
# (configs/_base_/datasets/rrsisd.py).
# Evaluation: the best val oIoU checkpoint is kept, final numbers on test.
# The parts are listed rather than inheriting the RefSegRS config because
# MMEngine refuses two bases that both define the dataloaders.
# Data: docs/datasets.md.
# Train: tools/dist_train.sh configs/lavt/lavt_swinb_rrsisd.py 4
_base_ = [
    '../_base_/models/lavt_swin.py', '../_base_/datasets/rrsisd.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
optim_wrapper = dict(optimizer=dict(lr=3e-5))  # RMSIN / FIANet on RRSIS-D
