"""FLOPs of a referring model with a sentence (issue 14, item 2)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmrrsis  # noqa: F401
from mmrrsis.utils.complexity import (format_flops, is_referring_model,
                                      referring_flops)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def crobim():
    from mmseg.registry import MODELS
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'crobim', 'crobim_tiny_synthetic.py'))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.eval()
    return model


def test_crobim_flops_with_a_sentence(crobim):
    """CroBIM's CAPM passes a parameter as a module input (the case that
    broke FlopCounterMode under no_grad); its sentence cache is warm on the
    second count, which must not hide the text encoder."""
    assert is_referring_model(crobim)
    assert crobim.text_encoder.cache_size > 0
    x = torch.rand(1, 3, 96, 96)
    first = referring_flops(crobim, x, sentence='the red building')
    second = referring_flops(crobim, x, sentence='the red building')
    assert first['flops'] == second['flops'] > 0
    assert first['macs'] == first['flops'] // 2
    parts = first['parts']
    assert {'backbone', 'neck', 'decode_head', 'text_encoder'} <= set(parts)
    assert sum(parts.values()) == pytest.approx(first['flops'], rel=0.01)
    # all-MiniLM-L6-v2 at 20 tokens: 6 x 20 x (4 x 384^2 + 2 x 384 x 1536)
    assert parts['text_encoder'] // 2 >= 6 * 20 * (4 * 384**2 +
                                                   2 * 384 * 1536)
    assert crobim.text_encoder.cache_size > 0  # restored
    assert first['sentence'] == 'the red building'
    lines = format_flops(first)
    assert lines[0].startswith('GMACs per image: ')
    assert "sentence: 'the red building'" in lines


def test_batch_counts_every_image(crobim):
    one = referring_flops(crobim, torch.rand(1, 3, 96, 96))
    two = referring_flops(crobim, torch.rand(2, 3, 96, 96))
    assert two['flops'] == pytest.approx(2 * one['flops'], rel=0.01)
    assert two['batch_size'] == 2
