"""FIAM: context PWAM + object branch gated by the spatial map."""
import torch
from mmseg.registry import MODELS

from mmrrsis.models.fusion import PWAM, BaseReferringFusion
from mmrrsis.models.utils import (ImageLanguageAttention, TextFeatures,
                                  attend_to_words)

B, C, H, W, L, CT = 2, 32, 5, 6, 7, 12


def _text(seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[0, 5:] = 0
    obj = torch.zeros(B, L, dtype=torch.long)
    obj[0, 1:3] = 1
    obj[1, 2] = 1
    sp = torch.zeros(B, L, dtype=torch.long)
    sp[0, 3:5] = 1
    sp[1] = mask[1]
    return TextFeatures(feats=torch.randn(B, L, CT, generator=g), mask=mask,
                        object_feats=torch.randn(B, L, CT, generator=g),
                        object_mask=obj,
                        spatial_feats=torch.randn(B, L, CT, generator=g),
                        spatial_mask=sp)


def _fiam(**kwargs):
    torch.manual_seed(0)
    m = MODELS.build(dict(type='FIAM', in_channels=C, text_channels=CT,
                          **kwargs))
    m.init_weights()
    return m


def test_shapes_and_out_is_the_context_pwam():
    m = _fiam()
    assert isinstance(m, BaseReferringFusion)
    x, text = torch.randn(B, C, H, W), _text()
    stream, out, text_out = m.fuse(x, text)
    assert text_out is text  # FIAM reads the texts, does not refine them
    assert stream.shape == out.shape == x.shape
    # out is the context PWAM output alone (LAVT's decoder input)
    _, ref = m.context_attn(x, text.feats, text.mask)
    torch.testing.assert_close(out, ref)
    assert not torch.allclose(stream, x)


def test_every_parameter_gets_a_gradient():
    m = _fiam()
    # channel means away from zero, as real features (the channel gate's
    # ReLU would otherwise see ~0 input)
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(B, C, H, W, generator=g) +
         torch.randn(1, C, 1, 1, generator=g)).requires_grad_(True)
    text = _text()
    stream, out = m(x, text)
    (stream.square().mean() + out.square().mean()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_stream_only_parameters_are_all_but_the_context_pwam():
    m = _fiam()
    ids = {id(p) for p in m.stream_only_parameters()}
    ctx = {id(p) for p in m.context_attn.parameters()}
    assert not ids & ctx
    assert ids | ctx == {id(p) for p in m.parameters()}


def test_empty_object_mask_zeroes_the_object_branch():
    m = _fiam()
    x, text = torch.randn(B, C, H, W), _text()
    att = m.object_attn(x.flatten(2), text.object_feats,
                        torch.zeros(B, L, dtype=torch.long))
    assert att.abs().max() < 1e-5
    # then only the context branch moves the stream
    text = text.replace(object_mask=torch.zeros(B, L, dtype=torch.long))
    stream, out = m(x, text)
    g = m.channel_gate(x.flatten(2).mean(2)).unsqueeze(2)
    xr = out.flatten(2)
    gate = m.context_gate(xr.transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(stream.flatten(2),
                               x.flatten(2) + gate * xr * g)


def test_spatial_branch_gates_the_object_branch():
    x, text = torch.randn(B, C, H, W), _text()
    with_sp, without = _fiam(), _fiam(with_spatial=False)
    assert not hasattr(without, 'spatial_attn')
    without.load_state_dict(with_sp.state_dict(), strict=False)
    s1, o1 = with_sp(x, text)
    s2, o2 = without(x, text)
    torch.testing.assert_close(o1, o2)
    assert not torch.allclose(s1, s2)
    # the spatial map depends on the spatial text and lies in (0, 1)
    smap = with_sp.spatial_map(x.flatten(2), text, (H, W))
    assert smap.shape == (B, 1, H * W) and (smap > 0).all() and (
        smap < 1).all()
    other = text.replace(spatial_feats=torch.randn(B, L, CT))
    assert not torch.allclose(
        smap, with_sp.spatial_map(x.flatten(2), other, (H, W)))


def test_attention_reuses_pwam():
    """One pixel-word attention (models/utils) serves FIAM and PWAM: with
    PWAM's projections copied in, the outputs are equal."""
    assert ImageLanguageAttention.forward is attend_to_words
    a = ImageLanguageAttention(C, CT, num_heads=2)
    p = PWAM(C, CT, num_heads=2)
    a.load_state_dict({k: v for k, v in p.state_dict().items()
                       if k.split('.')[0] in ('f_query', 'f_key', 'f_value',
                                              'W')})
    x, words = torch.randn(B, C, H * W), torch.randn(B, L, CT)
    mask = torch.ones(B, L)
    mask[0, 3:] = 0
    out = a(x, words, mask)
    assert out.shape == (B, C, H * W)
    torch.testing.assert_close(out, p.attend(x, words, mask), rtol=0,
                               atol=0)


def test_needs_the_split_texts():
    import pytest
    text = _text()
    plain = TextFeatures(feats=text.feats, mask=text.mask)
    with pytest.raises(ValueError, match='SplitTextEncoder'):
        _fiam()(torch.randn(B, C, H, W), plain)
