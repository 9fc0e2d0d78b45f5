# BTDNet on RefSegRS: Swin-B (window 12, ImageNet-22k 384) + BERT-base, BSC
# in every stage, T-BTD decoder, D-MOLS in training; 480x480.
# BTDNet's code and training recipe are not public: the lineage recipe of
# configs/lavt_swinb.py (the setup its tables compare against):
#   batch 8 = 4 GPUs x 2, 40 epochs, AdamW 5e-5, poly 0.9, BERT layers 0-9,
#   20 tokens, seed 2401, RMSIN's loss on the joint output (+ the stream and
#   D-MOLS losses, configs/btdnet/README.md).
# Evaluation: the best val oIoU checkpoint is kept, final numbers on test.
# Train: tools/dist_train.sh configs/btdnet_swinb.py 4
_base_ = [
    '_base_/models/btdnet_swin.py', '_base_/datasets/refsegrs.py',
    '_base_/default_runtime.py', '_base_/schedules/schedule_40e.py'
]
