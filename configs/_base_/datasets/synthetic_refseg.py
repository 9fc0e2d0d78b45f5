# The synthetic referring dataset (tools/misc/make_synthetic_refseg.py),
# written in the RefSegRS on-disk layout and read by RefSegRSDataset.
# data/synthetic_refseg (relative to the repository root, where the tools
# run) is also where demo/synthetic_demo.py writes it; elsewhere: the tools'
# --data-root DIR.
dataset_type = 'RefSegRSDataset'
data_root = 'data/synthetic_refseg'
# check_files: drop (and list by ref id) samples whose image / mask is
# missing at load, instead of a crash in a dataloader worker mid-training
dataset_checks = dict(check_files=True)
img_scale = (96, 96)
train_pipeline = [
    dict(type='LoadRSImageFromFile'),
    dict(type='LoadReferringAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='CleanExpression'),
    dict(type='PackReferringInputs'),
]
test_pipeline = [
    dict(type='LoadRSImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadReferringAnnotations'),
    dict(type='CleanExpression'),
    dict(type='PackReferringInputs'),
]
# tools/test.py --tta: each sample as is and mirrored left-right with its
# sentence mirrored too (TextAwareRandomFlip: "left" <-> "right", "east" <->
# "west"); ReferringTTAModel (default_runtime.py) flips the logits back and
# averages the probabilities. The steps of test_pipeline up to the packing.
tta_pipeline = test_pipeline[:-1] + [
    dict(type='TestTimeAug', transforms=[
        [dict(type='TextAwareRandomFlip', prob=0., direction='horizontal'),
         dict(type='TextAwareRandomFlip', prob=1., direction='horizontal')],
        [dict(type='PackReferringInputs')]])
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 category_words='synthetic', pipeline=train_pipeline,
                 **dataset_checks))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 category_words='synthetic', pipeline=test_pipeline,
                 **dataset_checks))
test_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 category_words='synthetic', pipeline=test_pipeline,
                 **dataset_checks))
# category: the synthetic categories named in the sentence (per-category
# IoU in the metric's tables)
val_evaluator = dict(type='RefSegMetric', eval_resolution='original')
test_evaluator = val_evaluator
