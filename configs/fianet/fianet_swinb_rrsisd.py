# FIANet on RRSIS-D, the official recipe (Shaosifan/FIANet README/args.py):
# 3 TMEM blocks, 22 tokens, the 20 DIOR class words, lr 3e-5, 40 epochs,
# batch 8 on one GPU, occlusion boxes on 20% of the training references
# (configs/_base_/datasets/rrsisd.py); otherwise as configs/fianet_swinb.py.
# Evaluation: the best val oIoU checkpoint is kept, final numbers on test.
# Train: python tools/train.py configs/fianet/fianet_swinb_rrsisd.py
_base_ = [
    '../_base_/models/fianet_swin.py', '../_base_/datasets/rrsisd.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_fianet.py'
]
max_epochs = 40
model = dict(
    text_encoder=dict(
        max_length=22,
        splitter=dict(class_words='rrsisd', mode='rule',
                      placement='official')),
    neck=dict(num_blocks=3))
train_dataloader = dict(batch_size=8)  # FIANet: 1 GPU x 8
optim_wrapper = dict(optimizer=dict(lr=3e-5))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_epochs,
         by_epoch=True, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
