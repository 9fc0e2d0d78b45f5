# LAVT baseline on RefSegRS: Swin-B (window 12, ImageNet-22k 384) + BERT-base-
# uncased (layers 0-9 trained), PWAM + gate in every stage, LAVT decoder.
# Recipe (source: LAVT-RIS / RMSIN train.py, the RRSIS lineage):
#   batch 8 per step = 4 GPUs x 2 (RMSIN layout; RefSegRS is trained at 8 in
#   the lineage, FIANet 1 x 8), 40 epochs (272 iterations each), AdamW 5e-5,
#   wd 0.01 (none on norms / position tables), poly 0.9 per iteration,
#   20 tokens, seed 2401, PIL resize to 480x480, RMSIN's loss
#   (0.9 weighted CE + 0.1 two-class summed Dice; LAVT itself used CE only).
# Evaluation: the best val oIoU checkpoint is kept, final numbers on test.
# Check before a run: python tools/analysis_tools/print_recipe.py \
#   configs/lavt_swinb.py --gpus 4
# Train: tools/dist_train.sh configs/lavt_swinb.py 4
_base_ = [
    '_base_/models/lavt_swin.py', '_base_/datasets/refsegrs.py',
    '_base_/default_runtime.py', '_base_/schedules/schedule_40e.py'
]
