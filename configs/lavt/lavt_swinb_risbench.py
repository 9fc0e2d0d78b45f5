# configs/lavt_swinb.py (LAVT: Swin-B + BERT-base + PWAM, 480x480, 40
# epochs, 0.9 CE + 0.1 Dice) trained and scored on RISBench instead of
# RefSegRS, lr 3e-5 (the RMSIN-stack setting used on RISBench; CroBIM's own
# recipe is unpublished). The parts are listed rather than
# `_base_ = '../lavt_swinb.py'` because MMEngine refuses two bases that both
# define the dataloaders; lavt_swinb.py holds nothing else.
# Effective batch: 4 GPUs x 2 = 8. Data and the empty-mask rule:
# configs/_base_/datasets/risbench.py, docs/datasets.md.
# Train: tools/dist_train.sh configs/lavt/lavt_swinb_risbench.py 4
_base_ = [
    '../_base_/models/lavt_swin.py', '../_base_/datasets/risbench.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40e.py'
]
optim_wrapper = dict(optimizer=dict(lr=3e-5))
