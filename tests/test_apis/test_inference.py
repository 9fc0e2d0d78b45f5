"""``init_model`` / ``inference_model`` / ``load_checkpoint_strict`` on a
checkpoint written by ``tools/train.py``."""
import logging
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmseg.structures import SegDataSample
from tool_test_utils import CONFIG

import mmrrsis  # noqa: F401
from mmrrsis.apis import inference_model, init_model, load_checkpoint_strict
from mmrrsis.utils import safe_torch_load


@pytest.fixture(scope='module')
def model(tiny_checkpoint):
    return init_model(CONFIG, tiny_checkpoint, device='cpu')


@pytest.fixture(scope='module')
def images(refseg_data):
    ids = refseg_data['test_ids']
    return [osp.join(refseg_data['root'], 'images', f'{i}.tif')
            for i in ids[:2]]


def _mask(sample):
    assert isinstance(sample, SegDataSample)
    return sample.pred_sem_seg.data


def test_init_model_loads_checkpoint(model, tiny_checkpoint):
    assert not model.training
    assert next(model.parameters()).device.type == 'cpu'
    state = safe_torch_load(tiny_checkpoint, map_location='cpu')['state_dict']
    own = model.state_dict()
    assert set(state) == set(own)
    for key in list(state)[:: max(1, len(state) // 25)]:
        assert torch.equal(own[key], state[key]), key
    assert model.dataset_meta['classes'] == ('background', 'target')


def test_inference_path(model, images):
    result = inference_model(model, images[0], 'the red building')
    h, w = cv2.imread(images[0]).shape[:2]
    mask = _mask(result)
    # the data pipeline resizes to 96x96; the mask is back at 64x64
    assert tuple(mask.shape) == (1, h, w)
    assert (h, w) != tuple(model.cfg.crop_size)
    assert set(torch.unique(mask).tolist()) <= {0, 1}
    assert result.metainfo['text'] == 'the red building'
    assert result.seg_logits.data.shape[-2:] == (h, w)


def test_inference_numpy_bgr_matches_path(model, images):
    bgr = cv2.imread(images[0])
    from_path = inference_model(model, images[0], 'the red building')
    from_array = inference_model(model, bgr, 'the red building')
    assert torch.equal(_mask(from_array), _mask(from_path))

    crop = np.ascontiguousarray(bgr[:50, :40])  # any size, not square
    assert tuple(_mask(inference_model(model, crop, 'a car')).shape) == (
        1, 50, 40)


def test_inference_batch(model, images):
    texts = ['the red building', 'the leftmost vehicle']
    results = inference_model(model, images, texts)
    assert isinstance(results, list) and len(results) == 2
    for img_path, text, result in zip(images, texts, results):
        h, w = cv2.imread(img_path).shape[:2]
        assert tuple(_mask(result).shape) == (1, h, w)
        assert result.metainfo['text'] == text
    # the same sample alone gives the same mask as in the batch
    alone = inference_model(model, images[1], texts[1])
    assert torch.equal(_mask(alone), _mask(results[1]))


@pytest.mark.parametrize('text', ['', '   '])
def test_inference_empty_expression(model, images, text):
    with pytest.raises(ValueError):
        inference_model(model, images[0], text)


def test_inference_missing_image(model, tmp_path):
    missing = str(tmp_path / 'no_such_image.tif')
    with pytest.raises(FileNotFoundError, match='no_such_image.tif'):
        inference_model(model, missing, 'the red building')


def _altered_checkpoint(tiny_checkpoint, tmp_path):
    """A checkpoint with one key removed and one renamed."""
    ckpt = safe_torch_load(tiny_checkpoint, map_location='cpu')
    state = dict(ckpt['state_dict'])
    keys = [k for k in state if k.startswith('decode_head.')]
    removed, renamed = keys[0], keys[-1]
    new_name = renamed.replace('decode_head.', 'decode_head.renamed_', 1)
    del state[removed]
    state[new_name] = state.pop(renamed)
    path = tmp_path / 'altered.pth'
    torch.save({'state_dict': state, 'meta': {}}, path)
    return str(path), removed, renamed, new_name, ckpt['state_dict']


class _Records(logging.Handler):

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_init_model_strict_lists_keys(tiny_checkpoint, tmp_path):
    path, removed, renamed, new_name, _ = _altered_checkpoint(
        tiny_checkpoint, tmp_path)
    with pytest.raises(RuntimeError) as err:
        init_model(CONFIG, path, device='cpu')
    msg = str(err.value)
    assert 'missing' in msg and 'unexpected' in msg
    assert removed in msg and renamed in msg and new_name in msg


def test_init_model_non_strict_loads_and_logs(tiny_checkpoint, tmp_path):
    path, removed, renamed, new_name, full = _altered_checkpoint(
        tiny_checkpoint, tmp_path)
    logger = MMLogger.get_current_instance()
    records = _Records()
    logger.addHandler(records)
    try:
        model = init_model(CONFIG, path, device='cpu', strict=False)
    finally:
        logger.removeHandler(records)
    log = '\n'.join(records.messages)
    assert removed in log and new_name in log, log[-2000:]
    own = model.state_dict()
    # everything that fits was loaded
    kept = [k for k in full if k not in (removed, renamed)]
    for key in kept[:: max(1, len(kept) // 25)]:
        assert torch.equal(own[key], full[key]), key


def test_load_checkpoint_strict_shape_mismatch(model, tiny_checkpoint,
                                               tmp_path):
    state = dict(
        safe_torch_load(tiny_checkpoint, map_location='cpu')['state_dict'])
    key = next(k for k, v in state.items() if v.ndim == 4)
    state[key] = torch.zeros(*state[key].shape[:-1], state[key].shape[-1] + 1)
    path = tmp_path / 'shape.pth'
    torch.save({'state_dict': state}, path)
    with pytest.raises(RuntimeError, match='shape mismatch') as err:
        load_checkpoint_strict(model, str(path), strict=True)
    assert key in str(err.value)
