"""Masks stay visible on objects of any colour; panels align whatever the
caption length (issue 12, item 5)."""
import numpy as np
import pytest

from mmrrsis.visualization import (PRED_COLOR, ReferringLocalVisualizer,
                                   contact_sheet, draw_referring_overlay)

H, W = 96, 96
# the synthetic generator's object colours (RGB), and cyan / green objects
OBJECT_COLOURS = {
    'red': (205, 45, 40), 'white': (238, 238, 232), 'blue': (40, 85, 215),
    'yellow': (238, 205, 40), 'cyan': (0, 255, 255), 'green': (0, 255, 0),
}


def _scene(colour):
    """Grass with one object (a rectangle) of ``colour``; its mask."""
    img = np.zeros((H, W, 3), np.uint8)
    img[:] = (70, 110, 60)
    mask = np.zeros((H, W), np.uint8)
    mask[30:60, 25:70] = 1
    img[mask == 1] = colour
    return img, mask


def _boundary(mask):
    import cv2
    k = np.ones((3, 3), np.uint8)
    m = mask.astype(np.uint8)
    return (cv2.dilate(m, k) - cv2.erode(m, k)).astype(bool)


@pytest.mark.parametrize('name', sorted(OBJECT_COLOURS))
def test_prediction_visible_on_any_object(name):
    img, mask = _scene(OBJECT_COLOURS[name])
    out = draw_referring_overlay(img, None, pred_mask=mask)
    panel = out[-H:].astype(int)
    inside = mask.astype(bool)
    # the fill changes the object's colour visibly (except on a cyan
    # object, where the outline alone shows the mask) ...
    change = np.abs(panel[inside] - img[inside].astype(int)).sum(1)
    if name != 'cyan':
        assert np.median(change) > 60, name
    # ... and the contour holds dark outline pixels next to the object,
    # so the edge shows even where the fill is close to the object colour
    ring = panel[_boundary(mask)]
    dark = (ring.max(1) < 60).mean()
    assert dark > 0.2, (name, dark)


def test_red_prediction_used_to_vanish_on_red_vehicle():
    """The old default (red fill, red contour) barely changes a red
    vehicle; the new default changes it several times more."""
    img, mask = _scene(OBJECT_COLOURS['red'])
    inside = mask.astype(bool)
    old = draw_referring_overlay(img, None, pred_mask=mask,
                                 pred_color=(255, 0, 0), outline_color=None)
    new = draw_referring_overlay(img, None, pred_mask=mask)
    d_old = np.abs(old[-H:][inside].astype(int) - img[inside]).sum(1).mean()
    d_new = np.abs(new[-H:][inside].astype(int) - img[inside]).sum(1).mean()
    assert d_old < 90 and d_new > 4 * d_old
    assert tuple(PRED_COLOR) == (0, 255, 255)


def test_visualizer_uses_the_same_drawing():
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    img, mask = _scene(OBJECT_COLOURS['red'])
    ds = SegDataSample()
    ds.pred_sem_seg = PixelData(data=torch.from_numpy(mask)[None].long())
    ds.set_metainfo(dict(text='the red vehicle'))
    vis = ReferringLocalVisualizer(name='test_vis_visible')
    np.testing.assert_array_equal(
        vis.draw_referring(img, ds),
        draw_referring_overlay(img, 'the red vehicle', pred_mask=mask))


def test_banner_lines_keep_sizes_equal():
    img, mask = _scene(OBJECT_COLOURS['blue'])
    short = draw_referring_overlay(img, 'a', pred_mask=mask, banner_lines=8)
    long = draw_referring_overlay(img, 'the blue vehicle to the left of the '
                                  'white storage tank near the road',
                                  pred_mask=mask, banner_lines=8)
    assert short.shape == long.shape
    np.testing.assert_array_equal(short[-H:], long[-H:])


def test_contact_sheet_aligns_panels():
    img, mask = _scene(OBJECT_COLOURS['yellow'])
    texts = ['a', 'the yellow vehicle ' * 6, 'b', 'c']
    tiles = [draw_referring_overlay(img, t, pred_mask=mask, gt_mask=mask)
             for t in texts]
    heights = {t.shape[0] for t in tiles}
    assert len(heights) > 1  # the long caption wraps
    sheet = contact_sheet(tiles, panel_height=H, cols=4, gap=4)
    # every panel ends on the sheet's last row and starts on one row
    tile_w = max(t.shape[1] for t in tiles)
    top = sheet.shape[0] - H
    for i, t in enumerate(tiles):
        x0 = i * (tile_w + 4)
        np.testing.assert_array_equal(
            sheet[top:, x0:x0 + t.shape[1]], t[-H:])
    # the naive layout (pad at the bottom) would misalign them
    assert max(heights) - min(heights) > 0
    with pytest.raises(ValueError, match='at least one'):
        contact_sheet([], panel_height=H)


@pytest.mark.parametrize('shape', [(8, 8), (1, 40), (40, 1), (3, 2)])
def test_narrow_images_draw(shape):
    """A banner narrower than one character used to wrap for ever."""
    import signal

    def hang(*_):
        raise TimeoutError('draw_referring_overlay did not return')

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        img = np.zeros(shape + (3, ), np.uint8)
        mask = np.ones(shape, np.uint8)
        out = draw_referring_overlay(img, 'the red vehicle', pred_mask=mask)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert out.shape[1] == shape[1] and out.shape[0] > shape[0]
