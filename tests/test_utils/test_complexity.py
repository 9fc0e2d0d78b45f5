"""FLOPs of a referring model with a sentence (issue 14, item 2)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmrrsis  # noqa: F401
from mmrrsis.utils.complexity import (format_flops, is_referring_model,
                                      peak_tflops, referring_flops,
                                      training_flops)

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


def _tiny_lavt_batch(model, batch_size=2, size=96):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for i in range(batch_size):
        s = SegDataSample(metainfo=dict(
            text=['the red building', 'the pool at the top'][i % 2],
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size)))
        gt = torch.zeros((1, size, size), dtype=torch.long)
        gt[:, :size // 2, :size // 3] = 1
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    inputs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
              for _ in range(batch_size)]
    return dict(inputs=inputs, data_samples=samples)


def test_training_flops_forward_and_backward():
    """A training step's FLOPs: the loss forward pass counts what the
    inference count does; the backward pass about twice the trainable
    part's forward (a gradient for the input and one for the weight of
    every matmul / convolution; the frozen MiniLM has none, the first
    convolution no input gradient)."""
    from mmseg.registry import MODELS
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'lavt', 'lavt_tiny_synthetic.py'))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert not any(p.requires_grad
                   for p in model.text_encoder.parameters())
    torch.manual_seed(0)
    batch = _tiny_lavt_batch(model)
    model.train()
    data = model.data_preprocessor(batch, True)
    train = training_flops(model, data['inputs'], data['data_samples'])
    model.eval()
    data = model.data_preprocessor(_tiny_lavt_batch(model), False)
    infer = referring_flops(model, data['inputs'], data['data_samples'])
    assert train['batch_size'] == 2
    assert train['flops'] == train['forward_flops'] + train['backward_flops']
    assert train['forward_flops'] == pytest.approx(infer['flops'], rel=0.01)
    trainable_fwd = infer['flops'] - infer['parts']['text_encoder']
    assert 1.5 * trainable_fwd < train['backward_flops'] < 2.0 * trainable_fwd
    assert all(p.grad is None for p in model.parameters())


def test_peak_tflops_table():
    assert peak_tflops('NVIDIA H200', 'bf16') == 989.4
    assert peak_tflops('NVIDIA H100 80GB HBM3', 'fp32') == 494.7
    assert peak_tflops('NVIDIA H100 PCIe', 'fp16') == 756.0
    assert peak_tflops('cpu x2 threads', 'bf16') is None
    assert peak_tflops('Tesla V100-SXM2-16GB', 'fp32') is None
    with pytest.raises(ValueError, match='precision'):
        peak_tflops('NVIDIA H200', 'int8')
