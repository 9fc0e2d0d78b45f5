# RefSegRS (Yuan et al., TGRS 2024) as released: images/*.tif, masks/*.tif,
# output_phrase_{train,val,test}.txt. LAVT/RMSIN protocol: 480x480 resize,
# no flip, ImageNet normalisation (in the model's data preprocessor), and
# scoring against the ground truth resized to the network input.
dataset_type = 'RefSegRSDataset'
data_root = 'data/RefSegRS'
img_scale = (480, 480)
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
train_dataloader = dict(
    batch_size=4,  # per GPU; 8 GPUs x 4 = 32 per step (LAVT lavt_one)
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val',
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 pipeline=test_pipeline))
val_evaluator = dict(type='RefSegMetric', eval_resolution='input')
test_evaluator = val_evaluator
