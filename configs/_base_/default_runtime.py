# Runtime shared by every mmrrsis config (MMSeg conventions).
custom_imports = dict(imports=['mmrrsis'], allow_failed_imports=False)
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='ReferringLocalVisualizer', vis_backends=vis_backends,
    name='visualizer')
log_processor = dict(by_epoch=True)
log_level = 'INFO'
# RMSIN and FIANet fix seed 2401 (their train.py seed_everything) with
# cuDNN benchmark off (env_cfg above). deterministic=False: MMEngine's
# switch also calls torch.use_deterministic_algorithms(True), which raises
# on CUDA's bilinear-upsampling backward that every head here uses.
randomness = dict(seed=2401, deterministic=False)
# default_hooks (schedules, tiny configs) use mmrrsis' SafeCheckpointHook:
# MMEngine's CheckpointHook with atomic saves; --resume reads this run's own
# work dir and falls back past a cut-off checkpoint; never deletes outside
# it.
load_from = None
resume = False
# tools/test.py --tta wraps the model (tta_pipeline: the dataset bases):
# one merged prediction per sample, views flipped back and averaged
tta_model = dict(type='ReferringTTAModel')
