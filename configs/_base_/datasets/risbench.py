# RISBench (CroBIM, arXiv 2410.08613) as released: img_rgb/<file>,
# mask/<file> (same name, 0/255), output_phrase_{train,val,test}.txt with
# '<file> <expression>' (26,300 / 10,013 / 16,158 expressions, 512x512;
# docs/datasets.md). LAVT/RMSIN protocol: 480x480 resize, no flip, ImageNet
# normalisation (in the model's data preprocessor), metrics at the input.
dataset_type = 'RISBenchDataset'
data_root = 'data/RISBench'
img_scale = (480, 480)
# PIL resize, as the lineage's torchvision transforms on PIL images:
# antialiased bilinear for the image, centre-aligned nearest for the mask
# (the 'input' metric resizes the ground truth with PIL the same way)
mask_threshold = 0  # binary 0/255 masks: fg = > 0, as the public loaders
dataset_checks = dict(check_files=True)
train_pipeline = [
    dict(type='LoadRSImageFromFile'),
    dict(type='LoadReferringAnnotations', threshold=mask_threshold),
    dict(type='Resize', scale=img_scale, keep_ratio=False,
         backend='pillow'),
    dict(type='CleanExpression'),
    dict(type='PackReferringInputs'),
]
test_pipeline = [
    dict(type='LoadRSImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False,
         backend='pillow'),
    dict(type='LoadReferringAnnotations', threshold=mask_threshold),
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
    batch_size=2,  # per GPU; 4 GPUs x 2 = 8 per step (RMSIN recipe)
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline, **dataset_checks))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 pipeline=test_pipeline, **dataset_checks))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 pipeline=test_pipeline, **dataset_checks))
# Empty test masks (some exist in the release) are kept and scored by the
# LAVT/RMSIN rule the published RISBench tables come from: a sample whose
# union is empty has IoU 0, i.e. it counts as a miss even when the model
# correctly predicts nothing (it adds nothing to oIoU either way). Use
# empty_union_iou=1.0 to count a correct empty prediction as a hit, or None
# to leave such samples out of mIoU and Prec@X.
# Model selection (save_best) on val, final numbers on test; `tools/train.py
# --select-on test` selects on test as FIANet's code does (docs/datasets.md).
val_evaluator = dict(
    type='RefSegMetric', eval_resolution='input', empty_union_iou=0.0)
test_evaluator = val_evaluator
