# The tiny models' schedule (CPU demo and tests): 6000 iterations of AdamW
# (lr 1e-3, weight decay 0.01, none on norms), 100 warm-up iterations then
# poly(0.9) decay, validation every 2000 iterations (the best val oIoU is
# kept), a checkpoint every 1000 (the last two kept, written atomically).
# Pair it with log_processor = dict(by_epoch=False) in the config (the
# runtime base, which defines log_processor, cannot share it).
max_iters = 6000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=100, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=1000,
                    max_keep_ckpts=2, save_best='oIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='ReferringVisualizationHook'))
