"""Referring transforms: loading policy, masks, text cleaning, flip, pack."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from mmrrsis.datasets.transforms import (CleanExpression,
                                         LoadReferringAnnotations,
                                         LoadRSImageFromFile,
                                         PackReferringInputs,
                                         TextAwareRandomFlip,
                                         swap_direction_words)


def _load(path):
    return LoadRSImageFromFile()(dict(img_path=str(path)))


# ------------------------------------------------------------ image loading
def test_rgb_tif_loads_as_bgr(tmp_path):
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 10  # R, G, B
    path = tmp_path / 'a.tif'
    cv2.imwrite(str(path), rgb[..., ::-1])  # cv2 writes BGR arrays as RGB
    res = _load(path)
    assert res['img'].dtype == np.uint8 and res['img'].shape == (5, 7, 3)
    assert res['img'][0, 0].tolist() == [10, 100, 200]  # B, G, R
    assert res['img_shape'] == (5, 7) and res['ori_shape'] == (5, 7)


def test_greyscale_is_replicated(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 10
    path = tmp_path / 'g.png'
    cv2.imwrite(str(path), grey)
    img = _load(path)['img']
    assert img.shape == (4, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], grey)


def test_four_bands_keep_first_three_as_rgb(tmp_path):
    # file bands: R=10, G=20, B=30, NIR=250 (cv2 writes B,G,R,A arrays as
    # R,G,B,A in the file)
    bgra = np.zeros((3, 3, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 30, 20, 10, 250
    path = tmp_path / 'rgbn.tif'
    cv2.imwrite(str(path), bgra)
    img = _load(path)['img']
    assert img.shape == (3, 3, 3)
    assert img[1, 1].tolist() == [30, 20, 10]  # B, G, R; NIR dropped


def test_many_bands_keep_first_three(tmp_path):
    tifffile = pytest.importorskip('tifffile')
    bands = np.zeros((6, 6, 5), np.uint8)
    for b in range(5):
        bands[..., b] = 40 * (b + 1)  # R=40, G=80, B=120, then 160, 200
    path = tmp_path / 'ms.tif'
    tifffile.imwrite(str(path), bands, photometric='minisblack',
                     planarconfig='contig')
    img = _load(path)['img']
    assert img.shape == (6, 6, 3)
    assert img[0, 0].tolist() == [120, 80, 40]


def test_uint16_and_float_are_rescaled_per_image(tmp_path):
    data = np.zeros((4, 4, 3), np.uint16)
    data[0, 0] = 1000
    data[3, 3] = 3000
    data[1, 1] = 2000
    path = tmp_path / 'deep.tif'
    cv2.imwrite(str(path), data)
    img = _load(path)['img']
    assert img.dtype == np.uint8
    assert img[0, 0].tolist() == [85, 85, 85]  # (1000-0)/3000*255
    assert img[3, 3].tolist() == [255, 255, 255]
    assert img[2, 2].tolist() == [0, 0, 0]
    f = np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4)
    fpath = tmp_path / 'f.tif'
    cv2.imwrite(str(fpath), f)
    fimg = _load(fpath)['img']
    assert fimg.dtype == np.uint8 and fimg.shape == (4, 4, 3)
    assert fimg[0, 0, 0] == 0 and fimg[3, 3, 0] == 255


def test_image_errors_name_the_file(tmp_path):
    missing = tmp_path / 'nope.tif'
    with pytest.raises(FileNotFoundError, match='nope.tif'):
        _load(missing)
    broken = tmp_path / 'broken.tif'
    broken.write_bytes(b'not an image at all')
    with pytest.raises(OSError, match='broken.tif'):
        _load(broken)


# ------------------------------------------------------------ annotations
def test_mask_threshold_and_seg_fields(tmp_path):
    mask = np.array([[0, 50, 51], [255, 10, 200]], np.uint8)
    path = tmp_path / 'm.tif'
    cv2.imwrite(str(path), mask)
    res = LoadReferringAnnotations()(dict(seg_map_path=str(path),
                                          seg_fields=[]))
    assert res['gt_seg_map'].dtype == np.uint8
    assert res['gt_seg_map'].tolist() == [[0, 0, 1], [1, 0, 1]]
    assert res['seg_fields'] == ['gt_seg_map']
    res = LoadReferringAnnotations(threshold=0)(dict(seg_map_path=str(path)))
    assert res['gt_seg_map'].tolist() == [[0, 1, 1], [1, 1, 1]]


def test_multichannel_mask_uses_first_channel(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0, 0] = 255  # only R (band 1) set here
    rgb[1, 1, 2] = 255  # only B set here
    path = tmp_path / 'm3.png'
    cv2.imwrite(str(path), rgb[..., ::-1])
    res = LoadReferringAnnotations()(dict(seg_map_path=str(path)))
    assert res['gt_seg_map'].tolist() == [[1, 0], [0, 0]]


def test_in_memory_mask_is_used(tmp_path):
    gt = np.array([[0, 1], [1, 0]], np.uint8)
    res = LoadReferringAnnotations()(dict(
        gt_mask=gt, seg_map_path=str(tmp_path / 'missing.tif'),
        seg_fields=['gt_seg_map']))
    assert res['gt_seg_map'].tolist() == [[0, 1], [1, 0]]
    assert res['seg_fields'] == ['gt_seg_map']
    res = LoadReferringAnnotations()(dict(gt_mask=gt.astype(bool) * 255))
    assert res['gt_seg_map'].tolist() == [[0, 1], [1, 0]]


def test_mask_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='gone.tif'):
        LoadReferringAnnotations()(dict(seg_map_path=str(tmp_path /
                                                         'gone.tif')))
    bad = tmp_path / 'bad.tif'
    bad.write_bytes(b'\x00\x01garbage')
    with pytest.raises(OSError, match='bad.tif'):
        LoadReferringAnnotations()(dict(seg_map_path=str(bad)))
    with pytest.raises(KeyError, match='seg_map_path'):
        LoadReferringAnnotations()(dict(sample_idx=4))
    ok = tmp_path / 'ok.png'
    cv2.imwrite(str(ok), np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match='size'):
        LoadReferringAnnotations()(dict(seg_map_path=str(ok),
                                        ori_shape=(4, 4),
                                        img_path='img.tif'))


# ------------------------------------------------------------ text
def test_clean_expression():
    t = CleanExpression()
    res = t(dict(text='  The\u00a0red\t\tbuilding\u200b\n near  ﬁeld\x07 '))
    assert res['text'] == 'The red building near field'
    assert CleanExpression(lowercase=True)(dict(text='Ｔhe  CAR'))[
        'text'] == 'the car'


def test_clean_expression_empty_names_sample():
    with pytest.raises(ValueError) as err:
        CleanExpression()(dict(text=' \u200b\t ', sample_idx=17,
                               ref_id='00012_1', img_path='/d/x.tif'))
    msg = str(err.value)
    assert '17' in msg and '00012_1' in msg and '/d/x.tif' in msg


@pytest.mark.parametrize('text,h,v,expected', [
    ('the building on the left', True, False, 'the building on the right'),
    ('The Leftmost tank', True, False, 'The Rightmost tank'),
    ('car at the upper left', True, False, 'car at the upper right'),
    ('car at the upper left', False, True, 'car at the lower left'),
    ('car at the upper left', True, True, 'car at the lower right'),
    ('the top-left building', False, True, 'the bottom-left building'),
    ('tank above the pool', False, True, 'tank below the pool'),
    ('ship east of the pier', True, False, 'ship west of the pier'),
    ('the northwest corner', True, False, 'the northeast corner'),
    ('the northwest corner', False, True, 'the southwest corner'),
    ('RIGHT side', True, False, 'LEFT side'),
    ('the rightful top car', True, False, 'the rightful top car'),
    ('the car on top of the roof', False, True, 'the car on top of the roof'),
    ('left of the house', False, True, 'left of the house'),
    ('the topmost tank', False, True, 'the bottommost tank'),
])
def test_swap_direction_words(text, h, v, expected):
    assert swap_direction_words(text, horizontal=h, vertical=v) == expected


def _flip_sample():
    img = np.zeros((4, 6, 3), np.uint8)
    img[0, 0] = 255
    gt = np.zeros((4, 6), np.uint8)
    gt[0, 0] = 1
    return dict(img=img, gt_seg_map=gt, seg_fields=['gt_seg_map'],
                text='the car at the top left, left of the tank')


@pytest.mark.parametrize('direction,pixel,text', [
    ('horizontal', (0, 5), 'the car at the top right, right of the tank'),
    ('vertical', (3, 0), 'the car at the bottom left, left of the tank'),
    ('diagonal', (3, 5), 'the car at the bottom right, right of the tank'),
])
def test_text_aware_flip(direction, pixel, text):
    flip = TRANSFORMS.build(dict(type='TextAwareRandomFlip', prob=1.0,
                                 direction=direction))
    res = flip(_flip_sample())
    assert res['flip'] is True and res['flip_direction'] == direction
    assert res['text'] == text
    assert res['img'][pixel].tolist() == [255, 255, 255]
    assert res['gt_seg_map'][pixel] == 1 and res['gt_seg_map'].sum() == 1


def test_text_aware_flip_without_flipping():
    res = TextAwareRandomFlip(prob=0.0)(_flip_sample())
    assert res['flip'] is False
    assert res['text'] == 'the car at the top left, left of the tank'
    assert res['gt_seg_map'][0, 0] == 1


# ------------------------------------------------------------ pack
def test_pack_referring_inputs_meta_keys():
    default = PackSegInputs().meta_keys
    pack = PackReferringInputs()
    assert tuple(pack.meta_keys) == tuple(default) + (
        'text', 'ref_id', 'sent_id', 'img_id', 'sample_idx', 'category')
    res = pack(dict(img=np.zeros((4, 5, 3), np.uint8),
                    gt_seg_map=np.eye(4, 5, dtype=np.uint8),
                    text='the red car', ref_id='3', sent_id=0, img_id='3',
                    sample_idx=9, img_path='x.tif', ori_shape=(4, 5),
                    img_shape=(4, 5), category='car'))
    assert tuple(res['inputs'].shape) == (3, 4, 5)
    meta = res['data_samples'].metainfo
    assert meta['text'] == 'the red car' and meta['sample_idx'] == 9
    assert meta['ref_id'] == '3' and meta['img_id'] == '3'
    assert meta['category'] == 'car'  # for per-category IoU
    assert res['data_samples'].gt_sem_seg.data.shape == (1, 4, 5)
    assert osp.basename(meta['img_path']) == 'x.tif'
