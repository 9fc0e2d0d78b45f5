"""RISBenchDataset on the released layout, and its empty-mask rule."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import DATASETS
from released_utils import (DATA, base_config, fixture_copy, fixture_spec,
                            run_pipeline)

from mmrrsis.datasets import RISBenchDataset
from mmrrsis.evaluation import RefSegMetric

ROOT = osp.join(DATA, 'risbench')
SPEC = fixture_spec()


def _lines(split):
    return [x for x in SPEC.RISBENCH_LINES if x[0] == split]


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_loads_released_layout(split):
    ds = DATASETS.build(dict(type='RISBenchDataset', data_root=ROOT,
                             split=split, check_files=True))
    lines = _lines(split)
    assert len(ds) == len(lines)
    for i, (_, name, text, _) in enumerate(lines):
        info = ds.get_data_info(i)
        # the line's first token is the file name, extension included
        assert info['img_path'] == osp.join(ROOT, 'img_rgb', name)
        assert info['seg_map_path'] == osp.join(ROOT, 'mask', name)
        assert info['ref_id'] == info['img_id'] == osp.splitext(name)[0]
        assert info['text'] == text and info['sent_id'] == i
    if split == 'val':  # val lines name train_* images, as released
        assert all(osp.basename(i['img_path']).startswith('train_')
                   for i in ds)


def test_pipeline_threshold_and_empty_mask():
    cfg = base_config('risbench')
    ds = RISBenchDataset(ROOT, split='test')
    for i, (_, _, _, shape) in enumerate(_lines('test')):
        out = run_pipeline(cfg.test_pipeline, ds.get_data_info(i))
        assert tuple(out['inputs'].shape) == (3, 480, 480)
        gt = out['data_samples'].gt_sem_seg.data[0].numpy()
        np.testing.assert_array_equal(gt, SPEC.shape_mask(shape))
    assert SPEC.shape_mask(_lines('test')[1][3]).sum() == 0  # the empty one


def test_check_masks_lists_the_empty_test_mask():
    ds = RISBenchDataset(ROOT, split='test', check_masks=True)
    assert len(ds) == 2  # kept: it is part of the benchmark
    assert ds.load_report['empty_mask'] == [('test_1_0', 'empty mask')]
    skipped = RISBenchDataset(ROOT, split='test', check_masks=True,
                              invalid_mask='skip')
    assert [i['ref_id'] for i in skipped] == ['test_0_0']


def _perfect_sample(gt: np.ndarray) -> dict:
    t = torch.from_numpy(gt[None].astype(np.int64))
    return dict(pred_sem_seg=PixelData(data=t).to_dict(),
                gt_sem_seg=PixelData(data=t).to_dict(),
                pred_sem_seg_input=PixelData(data=t).to_dict(),
                img_shape=gt.shape, ori_shape=gt.shape, sample_idx=0)


def test_configured_rule_for_empty_masks():
    """The config's rule (paper parity): an empty GT predicted empty scores
    IoU 0; with 1.0 it would be a hit."""
    cfg = base_config('risbench')
    assert cfg.test_evaluator.empty_union_iou == 0.0
    gts = [SPEC.shape_mask(x[3]) for x in _lines('test')]
    results = {}
    for rule in (0.0, 1.0):
        metric = RefSegMetric(eval_resolution='input', empty_union_iou=rule)
        metric.dataset_meta = dict(classes=('background', 'target'))
        for gt in gts:
            metric.process({}, [_perfect_sample(gt)])
        results[rule] = metric.evaluate(len(gts))
    assert results[0.0]['oIoU'] == pytest.approx(100.0)
    assert results[0.0]['mIoU'] == pytest.approx(50.0)
    assert results[1.0]['mIoU'] == pytest.approx(100.0)


def test_bad_input(tmp_path):
    root = fixture_copy('risbench', tmp_path)
    with open(osp.join(root, 'output_phrase_train.txt'), 'a') as f:
        f.write('train_9_9.png\n')  # a file name without an expression
    with pytest.raises(ValueError) as err:
        RISBenchDataset(root, split='train')
    msg = str(err.value)
    assert "ref 'train_9_9'" in msg and 'line 5' in msg
    assert 'output_phrase_train.txt' in msg
    assert len(RISBenchDataset(root, split='train', skip_invalid=True)) == 4
    os.remove(osp.join(root, 'mask', 'test_0_0.png'))
    ds = RISBenchDataset(root, split='test', check_files=True)
    assert [i['ref_id'] for i in ds] == ['test_1_0']
    assert ds.load_report['missing_file'][0][0] == 'test_0_0'
    assert 'mask' in ds.load_report['missing_file'][0][1]
    os.remove(osp.join(root, 'output_phrase_val.txt'))
    with pytest.raises(FileNotFoundError) as err:
        RISBenchDataset(root, split='val')
    assert osp.join(root, 'output_phrase_val.txt') in str(err.value)
    assert "'val'" in str(err.value)
    with pytest.raises(FileNotFoundError) as err:
        RISBenchDataset(osp.join(root, 'img_rgb'), split='test')
    assert 'RISBench image folder (<file>)' in str(err.value)
