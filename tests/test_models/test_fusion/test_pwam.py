"""PWAM: pixel-word attention + language gate."""
import pytest
import torch
from mmseg.registry import MODELS

from mmrrsis.models.fusion.pwam import PWAM

B, C, H, W, L, CT = 2, 8, 5, 6, 7, 12


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, C, H, W, generator=g)
    text = torch.randn(B, L, CT, generator=g)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[0, 4:] = 0  # sample 0 has 4 real tokens
    mask[1, 6:] = 0
    return x, text, mask


def _pwam(**kwargs):
    torch.manual_seed(0)
    m = PWAM(C, CT, **kwargs)
    m.init_weights()
    return m


def test_registered_and_shapes():
    m = MODELS.build(dict(type='PWAM', in_channels=C, text_channels=CT))
    m.init_weights()
    x, text, mask = _inputs()
    stream, out = m(x, text, mask)
    assert stream.shape == out.shape == x.shape


def test_official_gate_init_is_small_and_open():
    """LAVT's model starts from trunc_normal(0.02) gate Linears (its
    init_weights overrides the zeros of its __init__): small, not zero."""
    m = _pwam()
    for layer in (m.gate[0], m.gate[2]):
        w = layer.weight
        assert w.abs().sum() > 0 and w.abs().max() < 0.1
        assert 0.01 < w.std() < 0.03
    x, text, mask = _inputs()
    stream, _ = m(x, text, mask)
    assert not torch.equal(stream, x)
    with pytest.raises(ValueError, match='gate_init'):
        PWAM(C, CT, gate_init='open')


def test_gate_closed_at_init_but_trainable():
    m = _pwam(gate_init='zero')
    x, text, mask = _inputs()
    x.requires_grad_(True)
    text.requires_grad_(True)
    stream, out = m(x, text, mask)
    torch.testing.assert_close(stream, x, rtol=0, atol=0)
    assert out.abs().sum() > 0  # the multimodal feature is not trivial
    (stream.square().sum() + out.square().sum()).backward()
    # gradients reach the image stream and the words
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert text.grad is not None and text.grad.abs().sum() > 0
    # the gate is closed but can open: its weights get a gradient
    gate_grads = [p.grad for p in m.gate.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in gate_grads)


def test_gate_open_mixes_language_into_stream():
    m = _pwam()
    torch.nn.init.normal_(m.gate[0].weight)
    torch.nn.init.normal_(m.gate[2].weight)
    x, text, mask = _inputs()
    stream, out = m(x, text, mask)
    assert not torch.allclose(stream, x)


def test_without_gate_stream_is_x_plus_out():
    m = _pwam(with_gate=False)
    assert not hasattr(m, 'gate')
    x, text, mask = _inputs()
    stream, out = m(x, text, mask)
    torch.testing.assert_close(stream, x + out)


@pytest.mark.parametrize('num_heads', [1, 2, 4])
def test_padded_words_do_not_matter(num_heads):
    m = _pwam(num_heads=num_heads)
    m.eval()
    x, text, mask = _inputs()
    stream, out = m(x, text, mask)
    changed = text.clone()
    pad = mask == 0
    changed[pad] = torch.randn(int(pad.sum()), CT) * 100
    stream2, out2 = m(x, changed, mask)
    torch.testing.assert_close(out2, out)
    torch.testing.assert_close(stream2, stream)
    # ...while a real word does matter
    changed[0, 1] += 10
    _, out3 = m(x, changed, mask)
    assert not torch.allclose(out3[0], out[0])
    torch.testing.assert_close(out3[1], out[1])  # other sample untouched


def test_multi_head_differs_from_single_head():
    x, text, mask = _inputs()
    m1 = _pwam(num_heads=1)
    m2 = _pwam(num_heads=2)
    m2.load_state_dict(m1.state_dict())  # same weights, only heads differ
    _, out1 = m1(x, text, mask)
    _, out2 = m2(x, text, mask)
    assert out2.shape == out1.shape
    assert torch.isfinite(out2).all()
    assert not torch.allclose(out1, out2)


def test_invalid_channel_settings():
    with pytest.raises(ValueError, match='value_channels'):
        PWAM(C, CT, value_channels=2 * C)
    with pytest.raises(ValueError, match='num_heads'):
        PWAM(C, CT, key_channels=6, num_heads=4)
    PWAM(C, CT, key_channels=16)  # a different key width is fine


def _lavt_reference(m, x, text, mask):
    """LAVT's PWAM (yz93/LAVT-RIS lib/backbone.py) written out with plain
    matmuls, using ``m``'s weights."""
    Bx, Cx, Hx, Wx = x.shape
    h = m.num_heads
    flat = x.flatten(2)  # B C N
    lang = text.transpose(1, 2)  # B Ct L
    lmask = mask.float().unsqueeze(1)  # B 1 L
    query = m.f_query(flat).permute(0, 2, 1)  # B N K
    key = m.f_key(lang) * lmask
    value = m.f_value(lang) * lmask
    K, N, Lx = key.shape[1], flat.shape[-1], lang.shape[-1]
    query = query.reshape(Bx, N, h, K // h).permute(0, 2, 1, 3)
    key = key.reshape(Bx, h, K // h, Lx)
    value = value.reshape(Bx, h, value.shape[1] // h, Lx)
    sim = torch.matmul(query, key) * K**-0.5
    sim = sim + (1e4 * lmask.unsqueeze(1) - 1e4)
    sim = sim.softmax(-1)
    att = torch.matmul(sim, value.permute(0, 1, 3, 2))  # B h N V/h
    att = att.permute(0, 2, 1, 3).reshape(Bx, N, -1).permute(0, 2, 1)
    att = m.W(att)
    mm = m.project_mm(m.vis_project(flat) * att)
    gate = m.gate(mm.transpose(1, 2)).transpose(1, 2)
    return (flat + gate * mm).view_as(x), mm.view_as(x)


@pytest.mark.parametrize('num_heads', [1, 2])
def test_matches_lavt_formulation(num_heads):
    m = _pwam(num_heads=num_heads)
    torch.nn.init.normal_(m.gate[2].weight)  # open the gate
    m.eval()
    x, text, mask = _inputs()
    stream, out = m(x, text, mask)
    ref_stream, ref_out = _lavt_reference(m, x, text, mask)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(stream, ref_stream, rtol=1e-4, atol=1e-5)
