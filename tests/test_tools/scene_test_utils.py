"""Stand-ins for the large-scene and batch tests (tests/test_apis,
tests/test_tools): a model whose behaviour is known and rasters written in
the test."""
import warnings

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

GRASS = (60, 110, 70)  # RGB
RED = (205, 45, 40)


def utm_georef():
    """(CRS, transform) of the test scenes: UTM 33N, 0.5 m pixels."""
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    return CRS.from_epsg(32633), from_origin(500000.0, 4200000.0, 0.5, 0.5)


class RedObjectModel(torch.nn.Module):
    """Segments red pixels; "bottom left" in the sentence keeps only the
    red component whose centre lies in the bottom-left ninth of the input
    (what a referring model does with the whole scene in view)."""

    def __init__(self, scale: int = 64) -> None:
        super().__init__()
        init_default_scope('mmseg')
        self.cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
            dict(type='LoadRSImageFromFile'),
            dict(type='Resize', scale=(scale, scale), keep_ratio=False),
            dict(type='CleanExpression'),
            dict(type='PackReferringInputs'),
        ]))))
        self.texts = []
        self.input_sizes = []

    def test_step(self, batch):
        out = []
        for inp, ds in zip(batch['inputs'], batch['data_samples']):
            text = ds.metainfo['text']
            self.texts.append(text)
            bgr = inp.numpy().transpose(1, 2, 0).astype(np.float32)
            self.input_sizes.append(bgr.shape[:2])
            red = ((bgr[..., 2] > 130) & (bgr[..., 1] < 90)).astype(np.uint8)
            if 'bottom left' in text:
                h, w = red.shape
                n, lab, _, cents = cv2.connectedComponentsWithStats(red)
                keep = np.zeros(n, bool)
                for i in range(1, n):
                    cx, cy = cents[i]
                    keep[i] = cx < w / 3 and cy > 2 * h / 3
                red = keep[lab].astype(np.uint8)
            oh, ow = ds.metainfo['ori_shape']
            logit = cv2.resize(red.astype(np.float32) * 8 - 4, (ow, oh),
                               interpolation=cv2.INTER_LINEAR)
            logit = torch.from_numpy(logit)
            res = SegDataSample(metainfo=ds.metainfo)
            res.seg_logits = PixelData(data=torch.stack([-logit, logit]))
            res.pred_sem_seg = PixelData(data=(logit > 0)[None].long())
            out.append(res)
        return out


def vehicles(h, w):
    """Red 'vehicles' (rectangles) in four places; the bottom-left one is
    the target. Returns (boxes, target mask)."""
    boxes = [  # y0, x0, bh, bw
        (int(h * 0.80), int(w * 0.10), 70, 110),   # bottom left: target
        (int(h * 0.12), int(w * 0.75), 70, 110),   # top right
        (int(h * 0.45), int(w * 0.45), 70, 110),   # centre
        (int(h * 0.80), int(w * 0.78), 70, 110),   # bottom right
    ]
    target = np.zeros((h, w), np.uint8)
    y, x, bh, bw = boxes[0]
    target[y:y + bh, x:x + bw] = 1
    return boxes, target


def write_scene(path, h=1500, w=2000, bands=4, dtype='uint16',
                crs='utm', transform=None, driver='GTiff'):
    """A scene with red vehicles on grass; uint16 values are uint8 * 16
    plus 100 (so the scene's scaling matters), band 4 a NIR-like ramp."""
    import rasterio
    if crs == 'utm':
        crs, transform = utm_georef()
    boxes, target = vehicles(h, w)
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = GRASS
    for y, x, bh, bw in boxes:
        rgb[y:y + bh, x:x + bw] = RED
    rng = np.random.default_rng(0)
    rgb = np.clip(rgb.astype(int) + rng.integers(-6, 7, rgb.shape), 0,
                  255).astype(np.uint8)
    if dtype == 'uint16':
        data = rgb.astype(np.uint16) * 16 + 100
    else:
        data = rgb
    data = np.moveaxis(data, -1, 0)
    if bands > 3:
        extra = np.broadcast_to(
            np.linspace(0, 1, w, dtype=np.float32)[None, None] *
            data.max(), (bands - 3, h, w)).astype(data.dtype)
        data = np.concatenate([data, extra], axis=0)
    profile = dict(driver=driver, height=h, width=w, count=bands,
                   dtype=dtype)
    if driver == 'GTiff':
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with rasterio.open(path, 'w', **profile) as dst:
            dst.write(data)
    return target
