# RefSegRS (Yuan et al., TGRS 2024) as released: images/*.tif, masks/*.tif,
# output_phrase_{train,val,test}.txt (2,172 / 431 / 1,817 expressions,
# 512x512; docs/datasets.md). LAVT/RMSIN protocol: 480x480 resize, no flip,
# ImageNet normalisation (in the model's data preprocessor), and scoring
# against the ground truth resized to the network input.
dataset_type = 'RefSegRSDataset'
data_root = 'data/RefSegRS'
img_scale = (480, 480)
# PIL resize, as the lineage's torchvision transforms on PIL images:
# antialiased bilinear for the image, centre-aligned nearest for the mask
# (the 'input' metric resizes the ground truth with PIL the same way)
mask_threshold = 50  # RefSegRS masks are 8-bit with soft edges: fg = > 50
# check_files: drop (and list by ref id) samples whose image / mask is
# missing; masks are not read at load (set check_masks=True to list empty
# or all-foreground masks, ~0.5 ms per mask)
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
    # per GPU; 4 GPUs x 2 = 8 per step, the batch the RRSIS lineage trains
    # RefSegRS with (FIANet 1 x 8; RMSIN's layout 4 x 2)
    batch_size=2,
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
# Paper protocol (LAVT/RMSIN test.py): metrics at the 480x480 network input,
# and IoU = 0 for a sample whose prediction and ground truth are both empty
# Model selection (save_best) on val, final numbers on test; `tools/train.py
# --select-on test` selects on test as FIANet's code does (docs/datasets.md).
val_evaluator = dict(
    type='RefSegMetric', eval_resolution='input', empty_union_iou=0.0)
test_evaluator = val_evaluator
