# FIANet on RefSegRS: Swin-B (window 12, ImageNet-22k 384) + BERT-base, FIAM in
# every stage, 1 TMEM block, 480x480, AdamW lr 5e-5 (wd 0.01, none on norms and
# position tables; BERT's embeddings and last two layers frozen), poly 0.9 per
# iteration, 60 epochs, batch 8 on one GPU, 0.9 CE (0.9/1.1) + 0.1 Dice.
# Train: tools/train.py configs/fianet_swinb.py
_base_ = [
    '_base_/models/fianet_swin.py', '_base_/datasets/refsegrs.py',
    '_base_/default_runtime.py', '_base_/schedules/schedule_fianet.py'
]
max_epochs = 60
train_dataloader = dict(batch_size=8)  # FIANet: 1 GPU x 8
optim_wrapper = dict(optimizer=dict(lr=5e-5))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_epochs,
         by_epoch=True, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
