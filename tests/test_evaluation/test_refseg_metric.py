"""Tests of RefSegMetric with hand-computed numbers."""
import json
import os
import os.path as osp
import socket

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from PIL import Image

from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from mmrrsis.evaluation import (RefSegMetric, intersection_and_union,
                                resize_label_nearest)


def _sample(pred, gt, idx, text='the thing', pred_input=None,
            img_shape=None, ori_shape=None):
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
    assert set(res) == {'oIoU', 'mIoU', 'Prec@0.5', 'Prec@0.6', 'Prec@0.7',
                        'Prec@0.8', 'Prec@0.9'}
    # only counts are stored, no masks
    assert metric.results[2] == dict(sample_idx=2, intersection=2, union=8)


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
    assert metric.results[0] == dict(sample_idx=7, intersection=0, union=16)


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
        records = json.load(f)
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
