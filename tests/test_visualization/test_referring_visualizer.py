"""Tests of ReferringLocalVisualizer and draw_referring_overlay."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.structures import SegDataSample

from mmrrsis.visualization import (ReferringLocalVisualizer,
                                   draw_referring_overlay)

H, W = 48, 64
GREY = 128


def _masks():
    gt = np.zeros((H, W), np.uint8)
    gt[10:30, 10:30] = 1
    pred = np.zeros((H, W), np.uint8)
    pred[10:30, 20:40] = 1  # I = 200, U = 600 -> IoU 33.3 %
    return pred, gt


def _image():
    return np.full((H, W, 3), GREY, np.uint8)


def test_overlay_layout_and_colours():
    pred, gt = _masks()
    out = draw_referring_overlay(_image(), 'the red roof', pred, gt)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    banner_h = out.shape[0] - H
    assert banner_h > 0
    assert out.shape[1] > 2 * W  # two panels + gap
    gt_panel = out[banner_h:, :W]
    pred_panel = out[banner_h:, -W:]
    # interior of the predicted mask is cyan in the prediction panel
    r, g, b = pred_panel[20, 32].astype(int)
    assert g > r + 50 and b > r + 50
    # interior of the GT mask is greenish in the GT panel
    r, g, b = gt_panel[20, 15].astype(int)
    assert g > r + 50 and g > b + 50
    # outside both masks the image is untouched
    np.testing.assert_array_equal(pred_panel[40, 55], [GREY] * 3)
    np.testing.assert_array_equal(gt_panel[40, 55], [GREY] * 3)
    # the banner holds some bright text pixels on a dark background
    banner = out[:banner_h]
    assert banner.max() > 200 and np.median(banner) < 60


def test_overlay_single_panel_and_long_text_wraps():
    pred, _ = _masks()
    short = draw_referring_overlay(_image(), 'a', pred_mask=pred)
    long_text = ' '.join(['storage tank near the road'] * 8)
    long = draw_referring_overlay(_image(), long_text, pred_mask=pred)
    assert short.shape[1] == W and long.shape[1] == W
    assert long.shape[0] - H > 3 * (short.shape[0] - H)  # several lines
    # no masks at all: just banner + image; non-ASCII text is tolerated
    plain = draw_referring_overlay(_image(), 'caf\u00e9 \u5854', None, None)
    assert plain.shape[1] == W
    np.testing.assert_array_equal(plain[-H:], _image())


def test_overlay_input_variants():
    pred, gt = _masks()
    grey16 = (np.arange(H * W).reshape(H, W) * 10).astype(np.uint16)
    out = draw_referring_overlay(grey16, None, torch.from_numpy(pred)[None],
                                 PixelData(data=torch.from_numpy(gt)[None]))
    assert out.dtype == np.uint8 and out.shape[2] == 3
    # a mask at another size is resized to the image
    small = cv2.resize(pred, (W // 2, H // 2),
                       interpolation=cv2.INTER_NEAREST)
    out2 = draw_referring_overlay(np.zeros((H, W, 4), np.uint8), 'x', small)
    assert out2.shape[1] == W


def _data_sample(text='the building left of the pool'):
    pred, gt = _masks()
    ds = SegDataSample()
    ds.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
    ds.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None].long())
    ds.set_metainfo(dict(text=text, img_path='x.png', sample_idx=0))
    return ds


def test_visualizer_add_datasample(tmp_path):
    vis = VISUALIZERS.build(
        dict(
            type='ReferringLocalVisualizer',
            name='test_vis_add',
            vis_backends=[dict(type='LocalVisBackend')],
            save_dir=str(tmp_path)))
    assert isinstance(vis, ReferringLocalVisualizer)
    ds = _data_sample()
    out_file = osp.join(tmp_path, 'out.png')
    vis.add_datasample('s0', _image(), ds, out_file=out_file)
    saved = cv2.imread(out_file)[..., ::-1]
    expected = draw_referring_overlay(_image(), ds.metainfo['text'],
                                      ds.pred_sem_seg, ds.gt_sem_seg,
                                      alpha=vis.alpha)
    np.testing.assert_array_equal(saved, expected)
    np.testing.assert_array_equal(vis.get_image(), expected)
    # backend path: {save_dir}/vis_data/vis_image/{name}_{step}.png
    vis.add_datasample('s1', _image(), ds, step=3)
    assert osp.isfile(osp.join(tmp_path, 'vis_data', 'vis_image',
                               's1_3.png'))
    # prediction only
    vis.add_datasample('s2', _image(), ds, draw_gt=False,
                       out_file=osp.join(tmp_path, 'pred_only.png'))
    pred_only = cv2.imread(osp.join(tmp_path, 'pred_only.png'))
    assert pred_only.shape[1] == W


def test_visualizer_banner_mentions_iou():
    """The IoU line changes the banner pixels only when GT exists."""
    vis = ReferringLocalVisualizer(name='test_vis_iou')
    ds = _data_sample(text='t')
    with_gt = vis.draw_referring(_image(), ds)
    without_gt = vis.draw_referring(_image(), ds, draw_gt=False)
    plain = draw_referring_overlay(_image(), 't', ds.pred_sem_seg)
    np.testing.assert_array_equal(without_gt, plain)
    explicit = draw_referring_overlay(_image(), 't', ds.pred_sem_seg,
                                      ds.gt_sem_seg, iou=200 / 600)
    np.testing.assert_array_equal(with_gt, explicit)


@pytest.mark.parametrize('alpha', [0.3, 0.8])
def test_alpha_controls_blend(alpha):
    pred, _ = _masks()
    out = draw_referring_overlay(_image(), None, pred, alpha=alpha)
    r, g = (int(v) for v in out[-H:][20, 32, :2])
    assert g == round(GREY * (1 - alpha) + 255 * alpha)
    assert r == round(GREY * (1 - alpha))
