# RRSIS-D (RMSIN, CVPR 2024) as released: rrsisd/refs(unc).p,
# rrsisd/instances.json (COCO RLE masks), images/rrsisd/JPEGImages/*.jpg
# (12,181 / 1,740 / 3,481 refs, one sentence each, 800x800;
# docs/datasets.md). LAVT/RMSIN protocol: 480x480 resize, no flip, ImageNet
# normalisation (in the model's data preprocessor), metrics at the input.
dataset_type = 'RRSISDDataset'
data_root = 'data/RRSIS-D'  # RMSIN's refer/data folder
img_scale = (480, 480)
# PIL resize, as the lineage's torchvision transforms on PIL images:
# antialiased bilinear for the image, centre-aligned nearest for the mask
# (the 'input' metric resizes the ground truth with PIL the same way)
# masks are decoded in LoadReferringAnnotations from the RLE (gt_mask);
# empty / all-foreground masks are listed by ref id at load (cheap: areas
# come from the RLE); missing images are dropped and listed
dataset_checks = dict(check_files=True, check_masks=True)
train_pipeline = [
    dict(type='LoadRSImageFromFile'),
    # RMSIN's and FIANet's RRSIS-D loaders: 20-60 black 32x32 boxes on the
    # original image of a fixed 20% of the training references. Off:
    # --cfg-options train_dataloader.dataset.pipeline.1.ratio=0
    dict(type='RandomOcclusionBoxes', ratio=0.2, min_boxes=20, max_boxes=60,
         box_size=32, seed=2401),
    dict(type='LoadReferringAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=False,
         backend='pillow'),
    dict(type='CleanExpression'),
    dict(type='PackReferringInputs'),
]
test_pipeline = [
    dict(type='LoadRSImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False,
         backend='pillow'),
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
    batch_size=2,  # per GPU; 4 GPUs x 2 = 8 per step (RMSIN recipe)
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # one sample per (ref, sentence); RMSIN draws one random sentence per
    # ref (sentences='random'): identical on RRSIS-D (one sentence per ref)
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 sentences='all', pipeline=train_pipeline, **dataset_checks))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    # every sentence of every ref is scored (RMSIN test.py)
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 sentences='all', pipeline=test_pipeline, **dataset_checks))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 sentences='all', pipeline=test_pipeline, **dataset_checks))
# Paper protocol (RMSIN test.py): metrics at the 480x480 network input, and
# IoU = 0 for a sample whose prediction and ground truth are both empty
# Model selection (save_best) on val, final numbers on test; `tools/train.py
# --select-on test` selects on test as FIANet's code does (docs/datasets.md).
val_evaluator = dict(
    type='RefSegMetric', eval_resolution='input', empty_union_iou=0.0)
test_evaluator = val_evaluator
