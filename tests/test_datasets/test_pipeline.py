"""End to end: RefSegRSDataset + the referring pipeline through Compose."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmseg.registry import DATASETS

from mmrrsis.datasets.transforms import swap_direction_words

TRAIN_PIPELINE = [
    dict(type='LoadRSImageFromFile'),
    dict(type='LoadReferringAnnotations'),
    dict(type='CleanExpression'),
    dict(type='TextAwareRandomFlip', prob=1.0, direction='horizontal'),
    dict(type='PackReferringInputs'),
]
TEST_PIPELINE = [
    dict(type='LoadRSImageFromFile'),
    dict(type='Resize', scale=(80, 80), keep_ratio=False),
    dict(type='LoadReferringAnnotations'),
    dict(type='CleanExpression'),
    dict(type='PackReferringInputs'),
]


def test_compose_pipeline_on_generated_sample(tiny_set):
    root, summary = tiny_set
    ds = DATASETS.build(dict(type='RefSegRSDataset', data_root=str(root),
                             split='train'))
    info = ds.get_data_info(1)
    out = Compose(TEST_PIPELINE)(info)
    assert out['inputs'].dtype == torch.uint8
    assert tuple(out['inputs'].shape) == (3, 80, 80)
    sample = out['data_samples']
    meta = sample.metainfo
    assert meta['text'] == summary['samples'][1]['text']
    for key in ('ref_id', 'sent_id', 'img_id', 'sample_idx'):
        assert meta[key] == info[key]
    assert meta['img_shape'] == (80, 80) and meta['ori_shape'] == (64, 64)
    gt = sample.gt_sem_seg.data
    # GT stays at the original size in test pipelines (MMSeg convention)
    assert tuple(gt.shape) == (1, 64, 64)
    assert set(gt.unique().tolist()) == {0, 1}
    mask = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(gt[0].numpy(), (mask > 50).astype(int))
    # inputs are BGR: same as the file read by OpenCV, resized
    img = cv2.imread(info['img_path'])
    ref = cv2.resize(img, (80, 80), interpolation=cv2.INTER_LINEAR)
    diff = np.abs(out['inputs'].permute(1, 2, 0).numpy().astype(int) -
                  ref.astype(int))
    assert diff.mean() < 2


def test_dataset_getitem_with_flip_and_collate(tiny_set):
    root, _ = tiny_set
    ds = DATASETS.build(dict(type='RefSegRSDataset', data_root=str(root),
                             split='test', pipeline=TRAIN_PIPELINE))
    raw = ds.get_data_info(0)
    item = ds[0]
    meta = item['data_samples'].metainfo
    assert meta['flip'] is True and meta['flip_direction'] == 'horizontal'
    mask = cv2.imread(raw['seg_map_path'], cv2.IMREAD_UNCHANGED) > 50
    gt = item['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(gt, mask[:, ::-1].astype(int))
    words = raw['text'].split()
    flipped = meta['text'].split()
    assert len(words) == len(flipped)
    for a, b in zip(words, flipped):
        pairs = {('left', 'right'), ('right', 'left'), ('leftmost',
                                                        'rightmost'),
                 ('rightmost', 'leftmost'), ('east', 'west'),
                 ('west', 'east')}
        assert a == b or (a, b) in pairs
    batch = pseudo_collate([ds[0], ds[1]])
    texts = [s.metainfo['text'] for s in batch['data_samples']]
    assert texts[1] == swap_direction_words(
        ds.get_data_info(1)['text'], horizontal=True)
    assert batch['inputs'][0].shape == (3, 64, 64)


def test_cli_prints_summary(tmp_path, capsys):
    path = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'misc',
                    'make_synthetic_refseg.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_refseg',
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / 'cli'
    summary = mod.main([str(out), '--seed', '5', '--img-size', '64',
                        '--num-train', '2', '--num-val', '1',
                        '--num-test', '1'])
    text = capsys.readouterr().out
    assert 'train' in text and 'val' in text and 'test' in text
    assert 'example:' in text and summary['samples'][0]['text'] in text
    assert f"{summary['splits']['train']['mean_objects']:.2f}" in text
    assert summary['img_size'] == 64
    assert osp.isfile(out / 'output_phrase_train.txt')
    assert len((out / 'output_phrase_train.txt').read_text().splitlines()) \
        == summary['splits']['train']['num_samples']


def test_paper_pipelines_resize_as_pil():
    """The paper dataset pipelines resize like the lineage's torchvision
    transforms on PIL images: bilinear (antialiased) image, nearest mask."""
    import numpy as np
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import TRANSFORMS
    from PIL import Image
    init_default_scope('mmseg')
    cfg = Config.fromfile('configs/_base_/datasets/refsegrs.py')
    resize = [s for s in cfg.train_pipeline if s.type == 'Resize'][0]
    t = TRANSFORMS.build(resize)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    mask = (rng.random((512, 512)) > 0.5).astype(np.uint8)
    out = t(dict(img=img, gt_seg_map=mask, seg_fields=['gt_seg_map'],
                 img_shape=img.shape[:2]))
    want_img = np.asarray(Image.fromarray(img).resize((480, 480),
                                                      Image.BILINEAR))
    want_mask = np.asarray(Image.fromarray(mask).resize((480, 480),
                                                        Image.NEAREST))
    np.testing.assert_array_equal(out['img'], want_img)
    np.testing.assert_array_equal(out['gt_seg_map'], want_mask)
