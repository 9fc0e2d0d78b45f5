# BTDNet: Swin-B (window 12, ImageNet-22k 384) + BERT-base-uncased, BSC in
# every stage, T-BTD decoder, D-MOLS in training; 480x480 on RefSegRS.
# The paper's training recipe was not available to us: LAVT/RMSIN's
# (AdamW 5e-5, wd 0.01, poly 0.9, 40 epochs), as in configs/lavt_swinb.py.
# Effective batch: 8 GPUs x 4 images = 32.
# Train: tools/dist_train.sh configs/btdnet_swinb.py 8
_base_ = [
    '_base_/models/btdnet_swin.py', '_base_/datasets/refsegrs.py',
    '_base_/default_runtime.py', '_base_/schedules/schedule_40e.py'
]
