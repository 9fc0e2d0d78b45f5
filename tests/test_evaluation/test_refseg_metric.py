"""Tests of RefSegMetric with hand-computed numbers."""
import json
import logging
import os
import os.path as osp
import socket

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample
from PIL import Image

from mmrrsis.evaluation import (RefSegMetric, intersection_and_union,
                                resize_label_nearest, size_bucket)


def _sample(pred, gt, idx, text='the thing', pred_input=None,
            img_shape=None, ori_shape=None, category=None):
    """Build ``SegDataSample.to_dict()`` as the evaluator passes it."""
    pred = torch.as_tensor(np.asarray(pred), dtype=torch.int64)[None]
    gt = torch.as_tensor(np.asarray(gt), dtype=torch.int64)[None]
    ds = SegDataSample()
    ds.pred_sem_seg = PixelData(data=pred)
    ds.gt_sem_seg = PixelData(data=gt)
    if pred_input is not None:
        ds.pred_sem_seg_input = PixelData(
            data=torch.as_tensor(np.asarray(pred_input))[None])
    ds.set_metainfo(
        dict(
            sample_idx=idx,
            text=text,
            img_path=f'/data/img_{idx}.png',
            ori_shape=ori_shape or tuple(gt.shape[1:]),
            img_shape=img_shape or tuple(gt.shape[1:])))
    if category is not None:
        ds.set_metainfo(dict(category=category))
    return ds.to_dict()


def _three_samples():
    """Three 4x4 samples (label 1 = referred object).

    A: GT = pred = 2x2 block             -> I=4, U=4, IoU=1
    B: GT 2x2, pred 2x3 covering it      -> I=4, U=6, IoU=2/3
    C: GT two full rows (8 px), pred 2 px inside, plus one GT pixel = 255
       that the prediction marks as 1 (ignored) -> I=2, U=8, IoU=1/4
    oIoU = (4+4+2)/(4+6+8) = 10/18 = 55.5556 %
    mIoU = (1 + 2/3 + 1/4)/3 = 23/36 = 63.8889 %
    Prec@0.5 = Prec@0.6 = 2/3 (A, B), Prec@0.7..0.9 = 1/3 (A).
    """
    z = np.zeros((4, 4), np.int64)
    ga, pa = z.copy(), z.copy()
    ga[:2, :2] = 1
    pa[:2, :2] = 1
    gb, pb = z.copy(), z.copy()
    gb[:2, :2] = 1
    pb[:2, :3] = 1
    gc, pc = z.copy(), z.copy()
    gc[:2, :] = 1
    gc[3, 3] = 255
    pc[0, :2] = 1
    pc[3, 3] = 1
    return [_sample(pa, ga, 0), _sample(pb, gb, 1), _sample(pc, gc, 2)]


def test_registered():
    metric = METRICS.build(dict(type='RefSegMetric'))
    assert isinstance(metric, RefSegMetric)


def test_intersection_and_union_ignore():
    gt = np.array([[1, 1], [255, 0]])
    pred = np.array([[1, 0], [1, 1]])
    # (1,0) ignored; I = 1 (0,0); U = (0,0),(0,1),(1,1) = 3
    assert intersection_and_union(pred, gt) == (1, 3)
    assert intersection_and_union(pred, gt, ignore_index=None) == (1, 4)


def test_hand_computed_numbers():
    metric = RefSegMetric()
    metric.process({}, _three_samples())
    res = metric.compute_metrics(metric.results)
    assert res['oIoU'] == pytest.approx(1000 / 18)
    assert res['mIoU'] == pytest.approx(2300 / 36)
    assert res['Prec@0.5'] == pytest.approx(200 / 3)
    assert res['Prec@0.6'] == pytest.approx(200 / 3)
    for t in ('0.7', '0.8', '0.9'):
        assert res[f'Prec@{t}'] == pytest.approx(100 / 3)
    # the paper keys, plus the size buckets present (all 3 objects < 32**2)
    assert set(res) == {'oIoU', 'mIoU', 'Prec@0.5', 'Prec@0.6', 'Prec@0.7',
                        'Prec@0.8', 'Prec@0.9', 'oIoU/small', 'mIoU/small'}
    assert res['oIoU/small'] == pytest.approx(res['oIoU'])
    # only counts are stored, no masks (GT area: 8 px, the 255 is not fg)
    assert metric.results[2] == dict(sample_idx=2, intersection=2, union=8,
                                     gt_area=8, num_pixels=16, category=None)


def test_threshold_is_inclusive_and_configurable():
    # GT 4 px, pred 2 px inside it -> IoU exactly 0.5
    gt = np.zeros((2, 4), np.int64)
    gt[0, :] = 1
    pred = np.zeros((2, 4), np.int64)
    pred[0, :2] = 1
    metric = RefSegMetric(prec_thresholds=(0.5, 0.75))
    metric.process({}, [_sample(pred, gt, 0)])
    res = metric.compute_metrics(metric.results)
    assert res['Prec@0.5'] == 100.0
    assert res['Prec@0.75'] == 0.0
    assert 'Prec@0.9' not in res


def _empty_and_full():
    z = np.zeros((3, 3), np.int64)
    full = z.copy()
    full[1, 1] = 1
    # sample 0: I=U=1 (IoU 1); sample 1: both empty (U=0)
    return [_sample(full, full, 0), _sample(z, z, 1)]


@pytest.mark.parametrize('policy, miou, prec', [(1.0, 100.0, 100.0),
                                                (0.0, 50.0, 50.0),
                                                (None, 100.0, 100.0)])
def test_empty_union_policy(policy, miou, prec):
    metric = RefSegMetric(empty_union_iou=policy)
    metric.process({}, _empty_and_full())
    res = metric.compute_metrics(metric.results)
    # the empty sample adds 0/0 to the oIoU sums
    assert res['oIoU'] == pytest.approx(100.0)
    assert res['mIoU'] == pytest.approx(miou)
    assert res['Prec@0.5'] == pytest.approx(prec)


def test_empty_gt_nonempty_pred_counts_as_zero():
    z = np.zeros((3, 3), np.int64)
    pred = z.copy()
    pred[0, :] = 1
    full = z.copy()
    full[1, 1] = 1
    metric = RefSegMetric()
    metric.process({}, [_sample(full, full, 0), _sample(pred, z, 1)])
    res = metric.compute_metrics(metric.results)
    assert res['oIoU'] == pytest.approx(100 * 1 / 4)  # I=1, U=1+3
    assert res['mIoU'] == pytest.approx(50.0)


def test_all_empty():
    z = np.zeros((3, 3), np.int64)
    metric = RefSegMetric()
    metric.process({}, [_sample(z, z, 0)])
    assert metric.compute_metrics(metric.results)['oIoU'] == 100.0
    metric = RefSegMetric(empty_union_iou=None)
    metric.process({}, [_sample(z, z, 0)])
    res = metric.compute_metrics(metric.results)
    assert np.isnan(res['oIoU']) and np.isnan(res['mIoU'])


def test_input_resolution_with_resized_gt():
    # Original 8x8 GT with a 4x4 block; network input 4x4 -> GT block 2x2.
    gt = np.zeros((8, 8), np.int64)
    gt[:4, :4] = 1
    pred_ori = np.zeros((8, 8), np.int64)  # must be ignored in 'input' mode
    pred_in = np.zeros((4, 4), np.int64)
    pred_in[:2, :3] = 1  # I = 4, U = 6
    ds = _sample(pred_ori, gt, 7, pred_input=pred_in, img_shape=(4, 4))
    for backend in ('pil', 'cv2'):
        metric = RefSegMetric(eval_resolution='input',
                              gt_resize_backend=backend)
        metric.process({}, [ds])
        assert metric.results[0]['intersection'] == 4
        assert metric.results[0]['union'] == 6
        res = metric.compute_metrics(metric.results)
        assert res['oIoU'] == pytest.approx(400 / 6)
    metric = RefSegMetric(eval_resolution='original')
    metric.process({}, [ds])
    assert metric.results[0] == dict(sample_idx=7, intersection=0, union=16,
                                     gt_area=16, num_pixels=64, category=None)


def test_input_resolution_missing_prediction_raises():
    z = np.zeros((4, 4), np.int64)
    metric = RefSegMetric(eval_resolution='input')
    with pytest.raises(KeyError, match='pred_sem_seg_input'):
        metric.process({}, [_sample(z, z, 0)])
    bad = _sample(z, z, 0, pred_input=np.zeros((3, 3)), img_shape=(4, 4))
    with pytest.raises(ValueError, match='img_shape'):
        metric.process({}, [bad])


def test_resize_label_nearest_backends():
    rng = np.random.RandomState(0)
    lab = rng.randint(0, 2, (37, 53)).astype(np.uint8)
    lab[0, 0] = 255
    pil = np.asarray(Image.fromarray(lab).resize((20, 11), Image.NEAREST))
    np.testing.assert_array_equal(
        resize_label_nearest(lab, (11, 20), 'pil'), pil)
    out = resize_label_nearest(torch.from_numpy(lab)[None], (11, 20), 'cv2')
    assert out.shape == (11, 20)
    assert set(np.unique(out)) <= {0, 1, 255}


def test_bad_arguments():
    with pytest.raises(ValueError):
        RefSegMetric(eval_resolution='foo')
    with pytest.raises(ValueError):
        RefSegMetric(save_per_sample=True)
    with pytest.raises(ValueError):
        RefSegMetric(prec_thresholds=(0.5, 1.5))


def test_per_sample_json(tmp_path):
    metric = RefSegMetric(output_dir=str(tmp_path), save_per_sample=True)
    metric.process({}, _three_samples())
    metric.compute_metrics(metric.results)
    with open(osp.join(tmp_path, 'per_sample_iou.json')) as f:
        records = json.load(f)['samples']
    assert [r['sample_idx'] for r in records] == [2, 1, 0]  # worst first
    assert records[0]['iou'] == pytest.approx(0.25)
    assert records[0]['text'] == 'the thing'
    assert records[0]['img_path'] == '/data/img_2.png'


def test_split_ranks_equal_single_process():
    samples = _three_samples() + [_sample(*[np.eye(4, dtype=np.int64)] * 2,
                                          idx=3)]
    single = RefSegMetric()
    single.process({}, samples)
    expected = single.compute_metrics(single.results)
    rank0, rank1 = RefSegMetric(), RefSegMetric()
    rank0.process({}, samples[0::2])
    rank1.process({}, samples[1::2])
    merged = rank0.results + rank1.results
    got = RefSegMetric().compute_metrics(merged)
    assert got == pytest.approx(expected)


# --------------------------------------------------------------------------
# real 2-process gloo run through mmengine's collect_results
# --------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_worker(rank, world_size, port, out_dir):
    import torch.distributed as tdist
    os.chdir(out_dir)
    tdist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
        world_size=world_size)
    try:
        samples = _five_samples()
        # DefaultSampler(shuffle=False) view: rank r gets r::2, padded
        # by repeating the first indices so every rank has 3 samples.
        indices = list(range(len(samples)))
        indices += indices[:6 - len(indices)]
        metric = RefSegMetric(collect_dir=osp.join(out_dir, 'collect'))
        for i in indices[rank::world_size]:
            metric.process({}, [samples[i]])
        res = metric.evaluate(size=len(samples))
        with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(res, f)
    finally:
        tdist.destroy_process_group()


def _five_samples():
    extra = np.zeros((4, 4), np.int64)
    extra[1:3, 1:3] = 1
    pred = np.zeros((4, 4), np.int64)
    pred[1:3, 1:] = 1
    return _three_samples() + [_sample(pred, extra, 3),
                               _sample(extra * 0, extra, 4)]


def test_distributed_gloo_matches_single_process(tmp_path):
    import torch.multiprocessing as mp
    single = RefSegMetric()
    single.process({}, _five_samples())
    expected = single.compute_metrics(single.results)
    mp.spawn(_dist_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2,
             join=True)
    for rank in range(2):
        with open(osp.join(tmp_path, f'rank{rank}.json')) as f:
            got = json.load(f)
        assert got == pytest.approx(expected)


# --------------------------------------------------------------------------
# breakdowns: by object size and by category
# --------------------------------------------------------------------------
def _five_with_groups():
    """The three samples of :func:`_three_samples` plus two, with
    categories; sizes under ``size_thresholds=(4, 8)`` (pixels).

    A ship,    GT 4 px (medium), I=4, U=4, IoU 1
    B ship,    GT 4 px (medium), I=4, U=6, IoU 2/3
    C vehicle, GT 8 px (large),  I=2, U=8, IoU 1/4
    D no cat,  GT 1 px (small),  I=1, U=2, IoU 1/2
    E vehicle, GT empty, pred empty (U=0): IoU 1 (empty_union_iou=1.0)
    """
    a, b, c = _three_samples()
    z = np.zeros((4, 4), np.int64)
    gd, pd = z.copy(), z.copy()
    gd[0, 0] = 1
    pd[0, :2] = 1
    samples = [
        _sample(a['pred_sem_seg']['data'][0], a['gt_sem_seg']['data'][0], 0,
                category='ship'),
        _sample(b['pred_sem_seg']['data'][0], b['gt_sem_seg']['data'][0], 1,
                category='ship'),
        _sample(c['pred_sem_seg']['data'][0], c['gt_sem_seg']['data'][0], 2,
                category='vehicle'),
        _sample(pd, gd, 3),
        _sample(z, z, 4, category='vehicle'),
    ]
    return samples


def test_size_bucket_coco_boundaries():
    # COCO: small < 32**2 <= medium < 96**2 <= large (pixels)
    assert size_bucket(0, 100) == 'empty'
    assert size_bucket(1, 10**6) == 'small'
    assert size_bucket(32 * 32 - 1, 10**6) == 'small'
    assert size_bucket(32 * 32, 10**6) == 'medium'
    assert size_bucket(96 * 96 - 1, 10**6) == 'medium'
    assert size_bucket(96 * 96, 10**6) == 'large'
    # as a fraction of the image
    assert size_bucket(5, 100, (0.05, 0.2), 'fraction') == 'medium'
    assert size_bucket(4, 100, (0.05, 0.2), 'fraction') == 'small'
    assert size_bucket(20, 100, (0.05, 0.2), 'fraction') == 'large'


@pytest.mark.parametrize('unit, thresholds', [('pixels', (4, 8)),
                                              ('fraction', (0.2, 0.5))])
def test_breakdown_hand_computed(unit, thresholds):
    metric = RefSegMetric(size_thresholds=thresholds, size_unit=unit,
                          log_breakdowns=('size', 'category'))
    metric.process({}, _five_with_groups())
    res = metric.compute_metrics(metric.results)
    # overall: I = 4+4+2+1+0, U = 4+6+8+2+0; IoUs 1, 2/3, 1/4, 1/2, 1
    assert res['oIoU'] == pytest.approx(1100 / 20)
    assert res['mIoU'] == pytest.approx(100 * (1 + 2 / 3 + 0.25 + 0.5 + 1) / 5)
    groups = metric.breakdown(metric.results)
    size, cat = groups['by_size'], groups['by_category']
    assert list(size) == ['small', 'medium', 'large', 'empty']
    assert [size[b]['count'] for b in size] == [1, 2, 1, 1]
    assert size['small']['oIoU'] == pytest.approx(50.0)
    assert size['medium']['oIoU'] == pytest.approx(800 / 10)
    assert size['medium']['mIoU'] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert size['medium']['Prec@0.7'] == pytest.approx(50.0)
    assert size['large']['oIoU'] == pytest.approx(25.0)
    assert size['large']['Prec@0.5'] == 0.0
    assert size['empty']['mIoU'] == pytest.approx(100.0)
    # categories sorted, samples without one last
    assert list(cat) == ['ship', 'vehicle', '(none)']
    assert [cat[c]['count'] for c in cat] == [2, 2, 1]
    assert cat['ship']['oIoU'] == pytest.approx(80.0)
    assert cat['vehicle']['oIoU'] == pytest.approx(25.0)  # E adds 0 / 0
    assert cat['vehicle']['mIoU'] == pytest.approx(62.5)  # (1/4 + 1) / 2
    assert cat['vehicle']['Prec@0.5'] == pytest.approx(50.0)
    assert cat['(none)']['mIoU'] == pytest.approx(50.0)
    # returned (logged) keys: the non-empty size buckets and the categories
    assert res['oIoU/small'] == pytest.approx(50.0)
    assert res['oIoU/medium'] == pytest.approx(80.0)
    assert res['mIoU/large'] == pytest.approx(25.0)
    assert res['oIoU/cat/ship'] == pytest.approx(80.0)
    assert res['mIoU/cat/vehicle'] == pytest.approx(62.5)
    assert 'oIoU/empty' not in res


def test_breakdown_follows_empty_union_policy():
    metric = RefSegMetric(size_thresholds=(4, 8), empty_union_iou=0.0)
    metric.process({}, _five_with_groups())
    groups = metric.breakdown(metric.results)
    assert groups['by_category']['vehicle']['mIoU'] == pytest.approx(12.5)
    assert groups['by_size']['empty']['mIoU'] == 0.0
    assert groups['by_size']['empty']['oIoU'] == 0.0


class _capture(logging.Handler):
    """Collect what ``print_log(logger='current')`` writes to ``logger``."""

    def __init__(self, logger):
        super().__init__()
        self.logger = logger
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def __enter__(self):
        self.logger.addHandler(self)
        return self.lines

    def __exit__(self, *exc):
        self.logger.removeHandler(self)


def test_default_logged_keys_and_printed_tables():
    logger = MMLogger.get_instance('refseg_tables', log_level='INFO')
    metric = RefSegMetric(size_thresholds=(4, 8))
    metric.process({}, _five_with_groups())
    with _capture(logger) as lines:
        res = metric.compute_metrics(metric.results)
    # categories are printed, not returned, unless asked for
    assert set(res) == {
        'oIoU', 'mIoU', 'Prec@0.5', 'Prec@0.6', 'Prec@0.7', 'Prec@0.8',
        'Prec@0.9', 'oIoU/small', 'mIoU/small', 'oIoU/medium',
        'mIoU/medium', 'oIoU/large', 'mIoU/large'
    }
    text = '\n'.join(lines)
    assert 'IoU by object size' in text and 'small < 4 px' in text
    assert 'IoU by category' in text
    row = [ln for ln in text.splitlines()
           if ln.split('|')[1:2] and ln.split('|')[1].strip() == 'ship']
    assert row and '80.00' in row[0], text
    # no category anywhere -> no category table
    metric = RefSegMetric()
    metric.process({}, _three_samples())
    with _capture(logger) as lines:
        metric.compute_metrics(metric.results)
    assert 'IoU by category' not in '\n'.join(lines)
    assert 'IoU by object size' in '\n'.join(lines)


def test_size_is_measured_at_the_evaluation_resolution():
    # 8x8 GT with a 4x4 block (16 px); at the 4x4 input it is 4 px
    gt = np.zeros((8, 8), np.int64)
    gt[:4, :4] = 1
    pred_in = np.zeros((4, 4), np.int64)
    pred_in[:2, :2] = 1
    ds = _sample(gt, gt, 0, pred_input=pred_in, img_shape=(4, 4))
    buckets = {}
    for res in ('original', 'input'):
        metric = RefSegMetric(eval_resolution=res, size_thresholds=(5, 10))
        metric.process({}, [ds])
        buckets[res] = metric.breakdown(metric.results)['by_size']
    assert buckets['original']['large']['count'] == 1
    assert buckets['input']['small']['count'] == 1


def test_breakdown_json(tmp_path):
    metric = RefSegMetric(size_thresholds=(4, 8), output_dir=str(tmp_path),
                          save_per_sample=True)
    metric.process({}, _five_with_groups())
    res = metric.compute_metrics(metric.results)
    with open(osp.join(tmp_path, 'per_sample_iou.json')) as f:
        report = json.load(f)
    assert set(report) == {'protocol', 'summary', 'samples'}
    assert report['protocol']['size_thresholds'] == [4.0, 8.0]
    assert report['protocol']['size_unit'] == 'pixels'
    summary = report['summary']
    assert summary['overall']['count'] == 5
    assert summary['overall']['oIoU'] == pytest.approx(res['oIoU'], abs=1e-4)
    assert summary['by_size']['medium'] == pytest.approx(
        {'count': 2, 'oIoU': 80.0, 'mIoU': 83.3333, 'Prec@0.5': 100.0,
         'Prec@0.6': 100.0, 'Prec@0.7': 50.0, 'Prec@0.8': 50.0,
         'Prec@0.9': 50.0}, abs=1e-4)
    assert summary['by_category']['ship']['count'] == 2
    assert summary['by_category']['(none)']['oIoU'] == 50.0
    by_idx = {r['sample_idx']: r for r in report['samples']}
    assert by_idx[2]['category'] == 'vehicle' and by_idx[2]['size'] == 'large'
    assert by_idx[3]['category'] is None and by_idx[3]['size'] == 'small'
    assert by_idx[4]['size'] == 'empty' and by_idx[4]['gt_area'] == 0
    # an empty bucket is null in the json (valid json, no NaN)
    metric = RefSegMetric(output_dir=str(tmp_path), save_per_sample=True)
    metric.process({}, _three_samples())
    metric.compute_metrics(metric.results)
    with open(osp.join(tmp_path, 'per_sample_iou.json')) as f:
        text = f.read()
    assert 'NaN' not in text
    large = json.loads(text)['summary']['by_size']['large']
    assert large['count'] == 0 and large['oIoU'] is None
    assert json.loads(text)['summary']['by_category'] == {}


def test_breakdown_across_ranks_equals_single_process():
    samples = _five_with_groups()
    single = RefSegMetric(size_thresholds=(4, 8),
                          log_breakdowns=('size', 'category'))
    single.process({}, samples)
    expected = single.compute_metrics(single.results)
    rank0, rank1 = RefSegMetric(), RefSegMetric()
    rank0.process({}, samples[0::2])
    rank1.process({}, samples[1::2])
    got = RefSegMetric(size_thresholds=(4, 8),
                       log_breakdowns=('size', 'category')).compute_metrics(
                           rank0.results + rank1.results)
    assert got == pytest.approx(expected)


def test_breakdown_bad_arguments():
    with pytest.raises(ValueError, match='size_unit'):
        RefSegMetric(size_unit='percent')
    with pytest.raises(ValueError, match='size_thresholds'):
        RefSegMetric(size_thresholds=(96, 32))
    with pytest.raises(ValueError, match='fraction'):
        RefSegMetric(size_thresholds=(32, 96), size_unit='fraction')
    with pytest.raises(ValueError, match='log_breakdowns'):
        RefSegMetric(log_breakdowns=('colour', ))
