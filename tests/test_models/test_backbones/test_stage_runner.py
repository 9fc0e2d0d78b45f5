"""run_with_fusion drives unmodified backbones stage by stage."""
import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS
from model_test_utils import SWIN_CHANNELS, tiny_swin_cfg

from mmrrsis.models.backbones.stage_runner import (run_with_fusion,
                                                   supports_early_fusion)
from mmrrsis.models.fusion.pwam import PWAM

IMG = 64


def _swin():
    return MODELS.build(tiny_swin_cfg()), SWIN_CHANNELS, [16, 8, 4, 2]


def _resnet():
    return (MODELS.build(dict(type='ResNetV1c', depth=18, init_cfg=None)),
            [64, 128, 256, 512], [16, 8, 4, 2])


def _convnext():
    channels = [16, 32, 64, 128]
    return (MODELS.build(
        dict(type='mmpretrain.ConvNeXt',
             arch=dict(depths=[1, 1, 1, 1], channels=channels),
             out_indices=(0, 1, 2, 3), gap_before_final_norm=False,
             drop_path_rate=0.0, init_cfg=None)), channels, [16, 8, 4, 2])


BACKBONES = dict(swin=_swin, resnet=_resnet, convnext=_convnext)


@pytest.fixture(scope='module', params=list(BACKBONES))
def backbone(request):
    torch.manual_seed(0)
    model, channels, sizes = BACKBONES[request.param]()
    model.init_weights()
    model.eval()
    return request.param, model, channels, sizes


def _img(seed=0):
    return torch.randn(2, 3, IMG, IMG,
                       generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def test_identity_fusion_matches_backbone_forward(backbone):
    name, model, channels, sizes = backbone
    assert supports_early_fusion(model)
    img = _img()
    ref = list(model(img))
    calls = []

    def fuse(i, x):
        calls.append((i, tuple(x.shape)))
        return x, x

    outs = run_with_fusion(model, img, fuse)
    assert len(outs) == len(ref) == 4
    for o, r in zip(outs, ref):
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5)
    # one call per stage, in order, with that stage's channels and size
    assert [c[0] for c in calls] == [0, 1, 2, 3]
    assert [c[1] for c in calls] == [(2, ch, s, s)
                                     for ch, s in zip(channels, sizes)]


@torch.no_grad()
def test_zero_gate_pwam_matches_backbone_forward(backbone):
    """A freshly initialised PWAM (closed gate) leaves the stream alone: with
    the fusion's ``out`` replaced by the stream, the outputs are the
    backbone's own."""
    name, model, channels, _ = backbone
    torch.manual_seed(1)
    fusions = [PWAM(c, 24, gate_init='zero') for c in channels]
    for f in fusions:
        f.init_weights()
    text = torch.randn(2, 5, 24)
    mask = torch.ones(2, 5)
    outs_seen = []

    def fuse(i, x):
        stream, out = fusions[i](x, text, mask)
        outs_seen.append(out)
        return stream, stream

    img = _img(1)
    outs = run_with_fusion(model, img, fuse)
    for o, r in zip(outs, model(img)):
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5)
    assert len(outs_seen) == 4


@torch.no_grad()
def test_out_goes_to_outputs_and_stream_continues(backbone):
    """``stream`` feeds the next stage, ``out`` becomes the stage output."""
    name, model, channels, _ = backbone
    img = _img(2)
    ref = list(model(img))

    def fuse_out(i, x):  # change only what is returned as output
        return x, x + 1.0

    outs = run_with_fusion(model, img, fuse_out)
    for o, r in zip(outs, ref):
        assert not torch.allclose(o, r)
    # changing the stream at stage 0 changes every later stage (a random
    # perturbation: norms would cancel a scale or a constant shift)
    noise = torch.randn(2, channels[0], 16, 16,
                        generator=torch.Generator().manual_seed(5))

    def fuse_stream(i, x):
        return (x + noise if i == 0 else x), x

    outs = run_with_fusion(model, img, fuse_stream)
    torch.testing.assert_close(outs[0], ref[0], rtol=1e-5, atol=1e-5)
    for o, r in zip(outs[1:], ref[1:]):
        assert not torch.allclose(o, r, atol=1e-4)


def test_out_indices_subset():
    torch.manual_seed(0)
    model = MODELS.build(tiny_swin_cfg(out_indices=(1, 3)))
    model.eval()
    img = _img()
    calls = []

    def fuse(i, x):
        calls.append(i)
        return x, x

    with torch.no_grad():
        outs = run_with_fusion(model, img, fuse)
        ref = model(img)
    assert calls == [0, 1, 2, 3]  # fusion runs in every stage
    assert len(outs) == len(ref) == 2
    for o, r in zip(outs, ref):
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5)


def test_convnext_gap_before_final_norm_rejected():
    model = MODELS.build(
        dict(type='mmpretrain.ConvNeXt',
             arch=dict(depths=[1, 1, 1, 1], channels=[8, 8, 8, 8]),
             gap_before_final_norm=True))
    with pytest.raises(ValueError, match='gap_before_final_norm'):
        run_with_fusion(model, _img(), lambda i, x: (x, x))


def test_unsupported_backbone_raises_type_error():
    model = MODELS.build(
        dict(type='MixVisionTransformer', embed_dims=8, num_layers=[1, 1, 1,
                                                                    1],
             num_heads=[1, 1, 1, 1]))
    assert not supports_early_fusion(model)
    with pytest.raises(TypeError, match="fusion_mode='late'"):
        run_with_fusion(model, _img(), lambda i, x: (x, x))
    assert not supports_early_fusion(nn.Conv2d(3, 3, 1))


def test_custom_forward_with_fusion_hook():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, 2, 1)
            self.b = nn.Conv2d(4, 4, 3, 2, 1)

        def forward_with_fusion(self, x, fuse):
            x, o0 = fuse(0, self.a(x))
            x, o1 = fuse(1, self.b(x))
            return o0, o1

    model = Custom()
    assert supports_early_fusion(model)
    seen = []
    outs = run_with_fusion(model, _img(),
                           lambda i, x: (seen.append(i) or x, x))
    assert seen == [0, 1]
    assert [tuple(o.shape) for o in outs] == [(2, 4, 32, 32), (2, 4, 16, 16)]
