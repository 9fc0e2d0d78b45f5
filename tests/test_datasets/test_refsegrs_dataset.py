"""RefSegRSDataset: loading the RefSegRS layout, and its errors."""
import os
import os.path as osp

import pytest
from mmseg.registry import DATASETS

from mmrrsis.datasets import BaseReferringDataset, RefSegRSDataset

KEYS = {'img_path', 'seg_map_path', 'text', 'ref_id', 'sent_id', 'img_id',
        'sample_idx', 'seg_fields', 'reduce_zero_label', 'label_map',
        'category'}


def _make_root(tmp_path, lines, split='train'):
    root = tmp_path / 'refsegrs'
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    (root / f'output_phrase_{split}.txt').write_text(lines, encoding='utf-8')
    return root


def test_loads_generated_set(tiny_set):
    root, summary = tiny_set
    ds = DATASETS.build(dict(type='RefSegRSDataset', data_root=str(root),
                             split='val'))
    assert isinstance(ds, RefSegRSDataset)
    assert isinstance(ds, BaseReferringDataset)
    expected = [s for s in summary['samples'] if s['split'] == 'val']
    assert len(ds) == len(expected)
    for i, s in enumerate(expected):
        info = ds.get_data_info(i)
        assert set(info) == KEYS
        assert info['img_path'] == osp.join(str(root), 'images',
                                            s['id'] + '.tif')
        assert info['seg_map_path'] == osp.join(str(root), 'masks',
                                                s['id'] + '.tif')
        assert info['text'] == s['text']
        assert info['ref_id'] == info['img_id'] == s['id']
        assert info['sent_id'] == i and info['sample_idx'] == i
        assert info['seg_fields'] == [] and info['label_map'] is None
        assert info['reduce_zero_label'] is False
    assert ds.metainfo['classes'] == ('background', 'target')
    assert ds.metainfo['palette'] == [[0, 0, 0], [255, 0, 0]]


def test_parsing_splits_on_first_whitespace(tmp_path):
    root = _make_root(
        tmp_path, '\ufeff12 the  red\tbuilding \n\n7\tvehicle on the left\r\n'
        '  \n')
    ds = RefSegRSDataset(data_root=str(root), split='train')
    assert len(ds) == 2  # blank lines skipped
    first, second = ds.get_data_info(0), ds.get_data_info(1)
    assert first['ref_id'] == '12'
    assert first['text'] == 'the  red\tbuilding'  # raw, only trimmed
    assert first['img_path'].endswith(osp.join('images', '12.tif'))
    assert second['ref_id'] == '7' and second['text'] == 'vehicle on the left'


def test_loading_does_not_open_images(tmp_path):
    # the referenced image/mask files do not exist: loading still works
    lines = ''.join(f'{i} object number {i}\n' for i in range(2000))
    root = _make_root(tmp_path, lines)
    ds = RefSegRSDataset(data_root=str(root), split='train')
    assert len(ds) == 2000
    assert not os.listdir(root / 'images')


def test_empty_expression_is_refused(tmp_path):
    root = _make_root(tmp_path, '1 the red building\n2 \t \n3 a car\n')
    with pytest.raises(ValueError) as err:
        RefSegRSDataset(data_root=str(root), split='train')
    msg = str(err.value)
    assert "'2'" in msg and 'line 2' in msg
    assert 'output_phrase_train.txt' in msg


def test_missing_phrase_file_names_file_and_split(tmp_path):
    root = _make_root(tmp_path, '1 the red building\n', split='train')
    with pytest.raises(FileNotFoundError) as err:
        RefSegRSDataset(data_root=str(root), split='val')
    msg = str(err.value)
    assert osp.join(str(root), 'output_phrase_val.txt') in msg
    assert "'val'" in msg


def test_wrong_data_root(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError) as err:
        RefSegRSDataset(data_root=str(missing), split='test')
    msg = str(err.value)
    assert str(missing) in msg and 'not a directory' in msg
    assert 'images/' in msg and 'masks/' in msg
    assert 'output_phrase_test.txt' in msg
    # an existing folder that is not a RefSegRS root
    (tmp_path / 'other').mkdir()
    with pytest.raises(FileNotFoundError) as err:
        RefSegRSDataset(data_root=str(tmp_path / 'other'))
    msg = str(err.value)
    assert osp.join(str(tmp_path / 'other'), 'images') in msg
    assert 'image folder' in msg


def test_bad_split(tmp_path):
    root = _make_root(tmp_path, '1 a\n')
    with pytest.raises(ValueError, match='split'):
        RefSegRSDataset(data_root=str(root), split='testA')


def test_indices_and_lazy_init(tiny_set):
    root, _ = tiny_set
    ds = RefSegRSDataset(data_root=str(root), split='train', indices=3)
    assert len(ds) == 3
    lazy = RefSegRSDataset(data_root=str(root), split='train',
                           lazy_init=True)
    assert lazy.metainfo['classes'] == ('background', 'target')
