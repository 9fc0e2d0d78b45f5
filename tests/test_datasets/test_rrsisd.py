"""RRSISDDataset on the released layout (real pickle + COCO json)."""
import json
import logging
import os
import os.path as osp
import pickle

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmseg.registry import DATASETS
from released_utils import (DATA, base_config, fixture_copy, fixture_spec,
                            run_pipeline)

from mmrrsis.datasets import CocoMask, RRSISDDataset

ROOT = osp.join(DATA, 'rrsisd')
SPEC = fixture_spec()


def _refs(split):
    return [r for r in SPEC.RRSISD_REFS if r[1] == split]


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_loads_released_layout(split):
    ds = DATASETS.build(dict(type='RRSISDDataset', data_root=ROOT,
                             split=split, check_files=True))
    refs = _refs(split)
    expected = [(r[0], s) for r in refs for s in r[2]]  # one per sentence
    assert [(i['ref_id'], i['text']) for i in ds] == expected
    assert len({i['sent_id'] for i in ds}) == len(ds)
    for idx in range(len(ds)):
        info = ds.get_data_info(idx)
        ref_id = info['ref_id']
        assert info['img_path'] == osp.join(
            ROOT, 'images', 'rrsisd', 'JPEGImages', f'{ref_id:05d}.jpg')
        assert info['seg_map_path'] is None
        assert info['img_id'] == info['ann_id'] == ref_id
        assert info['sample_idx'] == idx
        assert isinstance(info['gt_mask'], CocoMask)
    assert ds.load_report == {}


def test_sentence_modes():
    first = RRSISDDataset(ROOT, split='train', sentences='first')
    assert [i['text'] for i in first] == [r[2][0] for r in _refs('train')]
    rnd = RRSISDDataset(ROOT, split='train', sentences='random')
    assert len(rnd) == len(_refs('train'))  # one sample per ref
    two = [i for i, r in enumerate(_refs('train')) if len(r[2]) == 2][0]
    np.random.seed(0)
    drawn = {rnd.get_data_info(two)['text'] for _ in range(30)}
    assert drawn == set(_refs('train')[two][2])  # redrawn at every fetch
    with pytest.raises(ValueError, match='sentences'):
        RRSISDDataset(ROOT, split='train', sentences='last')


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_masks_decode_every_coco_form(split):
    # rle_list (the release), polygon and uncompressed RLE all give the
    # fixture's rectangle exactly
    ds = RRSISDDataset(ROOT, split=split)
    kinds = {r[0]: r[4] for r in SPEC.RRSISD_REFS}
    shapes = {r[0]: r[3] for r in SPEC.RRSISD_REFS}
    for info in ds:
        mask = np.asarray(info['gt_mask'])
        assert mask.dtype == np.uint8 and mask.shape == (32, 32)
        np.testing.assert_array_equal(mask,
                                      SPEC.shape_mask(shapes[info['ref_id']]),
                                      err_msg=kinds[info['ref_id']])
        assert info['gt_mask'].area() == mask.sum()


def test_config_pipeline_decodes_the_mask():
    cfg = base_config('rrsisd')
    ds = RRSISDDataset(ROOT, split='val', sentences='all')
    info = ds.get_data_info(1)  # the polygon annotation
    out = run_pipeline(cfg.test_pipeline, info)
    assert tuple(out['inputs'].shape) == (3, 480, 480)
    meta = out['data_samples'].metainfo
    assert meta['text'] == 'the windmill on the right'
    assert meta['ref_id'] == 202 and meta['ori_shape'] == (32, 32)
    gt = out['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(gt, SPEC.shape_mask(_refs('val')[1][3]))
    train = run_pipeline(cfg.train_pipeline, ds.get_data_info(0))
    assert tuple(train['data_samples'].gt_sem_seg.data.shape) == (1, 480,
                                                                  480)


def test_test_split_takes_every_test_subsplit(tmp_path):
    root = fixture_copy('rrsisd', tmp_path)
    path = osp.join(root, 'rrsisd', 'refs(unc).p')
    with open(path, 'rb') as f:
        refs = pickle.load(f)
    refs[-1]['split'] = 'testB'  # REFER: 'test' matches any 'test*' split
    with open(path, 'wb') as f:
        pickle.dump(refs, f)
    assert [i['ref_id'] for i in RRSISDDataset(root, split='test')] == [
        301, 302]


# ------------------------------------------------------------- bad input
def _edit(root, refs_fn=None, inst_fn=None):
    rp = osp.join(root, 'rrsisd', 'refs(unc).p')
    ip = osp.join(root, 'rrsisd', 'instances.json')
    if refs_fn:
        with open(rp, 'rb') as f:
            refs = pickle.load(f)
        refs_fn(refs)
        with open(rp, 'wb') as f:
            pickle.dump(refs, f)
    if inst_fn:
        with open(ip) as f:
            inst = json.load(f)
        inst_fn(inst)
        with open(ip, 'w') as f:
            json.dump(inst, f)


def test_wrong_data_root_says_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        RRSISDDataset(str(tmp_path / 'nowhere'), split='val')
    msg = str(err.value)
    assert 'not a directory' in msg and 'refs(unc).p' in msg
    assert 'instances.json' in msg and 'JPEGImages' in msg
    # a folder that is RMSIN's refer/ instead of refer/data/
    (tmp_path / 'refer').mkdir()
    with pytest.raises(FileNotFoundError) as err:
        RRSISDDataset(str(tmp_path / 'refer'), split='val')
    msg = str(err.value)
    assert osp.join(str(tmp_path / 'refer'), 'rrsisd', 'refs(unc).p') in msg
    assert "split='val'" in msg


def test_missing_annotation_file_names_file_and_split(tmp_path):
    root = fixture_copy('rrsisd', tmp_path)
    os.remove(osp.join(root, 'rrsisd', 'instances.json'))
    with pytest.raises(FileNotFoundError) as err:
        RRSISDDataset(root, split='test')
    msg = str(err.value)
    assert osp.join(root, 'rrsisd', 'instances.json') in msg
    assert "split='test'" in msg


def test_bad_refs_are_listed_by_ref_id(tmp_path):
    root = fixture_copy('rrsisd', tmp_path)

    def break_refs(refs):
        refs[0]['sentences'] = [dict(raw='  ', sent='', sent_id=1)]  # 101
        refs[1]['ann_id'] = 999  # 102: annotation missing
        refs[2]['image_id'] = 998  # 103: image entry missing

    _edit(root, refs_fn=break_refs)
    with pytest.raises(ValueError) as err:
        RRSISDDataset(root, split='train')
    msg = str(err.value)
    assert '3 invalid sample(s)' in msg and "split 'train'" in msg
    assert 'ref 101: no sentence' in msg
    assert 'ref 102: annotation id 999' in msg
    assert 'ref 103: image id 998' in msg
    assert 'skip_invalid=True' in msg
    ds = RRSISDDataset(root, split='train', skip_invalid=True)
    assert [i['ref_id'] for i in ds] == [104]
    assert [r for r, _ in ds.load_report['invalid']] == [101, 102, 103]


def test_missing_image_is_skipped_and_reported(tmp_path):
    root = fixture_copy('rrsisd', tmp_path)
    os.remove(osp.join(root, 'images', 'rrsisd', 'JPEGImages', '00201.jpg'))
    logger = MMLogger.get_current_instance()
    records = []
    handler = _ListHandler(records)
    logger.addHandler(handler)
    try:
        ds = RRSISDDataset(root, split='val', check_files=True)
    finally:
        logger.removeHandler(handler)
    assert [i['ref_id'] for i in ds] == [202]
    assert ds.load_report['missing_file'][0][0] == 201
    text = '\n'.join(records)
    assert 'ref 201' in text and '00201.jpg' in text and "'val'" in text
    # without check_files nothing is stat'ed: the sample stays
    assert len(RRSISDDataset(root, split='val')) == 2


def test_empty_and_full_masks(tmp_path):
    root = fixture_copy('rrsisd', tmp_path)
    from pycocotools import mask as mask_utils

    def rle(mask):
        r = mask_utils.encode(np.asfortranarray(mask))
        return [dict(size=[32, 32], counts=r['counts'].decode())]

    def break_masks(inst):
        by_id = {a['id']: a for a in inst['annotations']}
        by_id[301]['segmentation'] = rle(np.zeros((32, 32), np.uint8))
        by_id[302]['segmentation'] = rle(np.ones((32, 32), np.uint8))

    _edit(root, inst_fn=break_masks)
    ds = RRSISDDataset(root, split='test')  # default: warn and keep
    assert len(ds) == 2
    assert ds.load_report['empty_mask'] == [(301, 'empty mask')]
    assert ds.load_report['full_mask'] == [(302, 'all-foreground mask')]
    # 'skip' drops both, which leaves nothing: an error, not an empty set
    with pytest.raises(ValueError, match='no usable sample'):
        RRSISDDataset(root, split='test', invalid_mask='skip')
    with pytest.raises(ValueError) as err:
        RRSISDDataset(root, split='test', invalid_mask='raise')
    assert 'ref 301: empty mask' in str(err.value)
    assert 'ref 302: all-foreground mask' in str(err.value)


def test_rle_size_mismatch_is_rejected(tmp_path):
    root = fixture_copy('rrsisd', tmp_path)

    def shrink(inst):
        for img in inst['images']:
            if img['id'] == 201:
                img['height'] = img['width'] = 16

    _edit(root, inst_fn=shrink)
    with pytest.raises(ValueError) as err:
        RRSISDDataset(root, split='val')
    assert 'ref 201: cannot read its mask' in str(err.value)
    assert 'RLE size [32, 32]' in str(err.value)


def test_serialised_sample_still_decodes():
    ds = RRSISDDataset(ROOT, split='test', serialize_data=True)
    info = ds.get_data_info(0)
    assert isinstance(info['gt_mask'], CocoMask)
    assert np.asarray(info['gt_mask']).sum() == 256


class _ListHandler(logging.Handler):
    """Collect the messages of the MMEngine logger."""

    def __init__(self, records):
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record):
        self.records.append(record.getMessage())
