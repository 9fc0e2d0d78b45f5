"""BSC: bidirectional spatial correlation (BTDNet)."""
import pytest
import torch
from mmseg.registry import MODELS

from mmrrsis.models.fusion import BSC, BaseReferringFusion
from mmrrsis.models.utils import TextFeatures

B, C, H, W, L, CT = 2, 8, 5, 6, 7, 12


def _text(seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, L, CT, generator=g)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[0, 4:] = 0  # sample 0 has 4 real tokens
    mask[1, 6:] = 0
    return TextFeatures(feats=feats, mask=mask)


def _x(seed=1):
    return torch.randn(B, C, H, W, generator=torch.Generator().manual_seed(
        seed))


def _bsc(open_all=False, **kwargs):
    torch.manual_seed(0)
    m = BSC(C, CT, **kwargs)
    m.init_weights()
    if open_all:  # open the closed-at-init gate and word update
        for p in (m.gate[2].weight, m.word_out.weight):
            torch.nn.init.normal_(p, std=0.5)
    return m


def test_registered_shapes_and_a_new_record():
    m = MODELS.build(dict(type='BSC', in_channels=C, text_channels=CT,
                          num_heads=2))
    m.init_weights()
    assert isinstance(m, BaseReferringFusion)
    text = _text()
    feats = text.feats.clone()
    stream, out, new = m.fuse(_x(), text)
    assert stream.shape == out.shape == (B, C, H, W)
    assert new is not text and new.grounded.shape == (B, L, CT)
    assert new.words is new.grounded and new.feats is text.feats
    # the record given is left as it was (one-way flow)
    assert text.grounded is None
    torch.testing.assert_close(text.feats, feats, rtol=0, atol=0)
    with pytest.raises(AttributeError):  # frozen
        text.grounded = new.grounded


def test_identity_at_init_but_trainable():
    m = _bsc()
    x = _x().requires_grad_(True)
    text = _text()
    text.feats.requires_grad_(True)
    stream, out, new = m(x, text)
    torch.testing.assert_close(stream, x, rtol=0, atol=0)
    torch.testing.assert_close(new.grounded, text.feats, rtol=0, atol=0)
    assert out.abs().sum() > 0
    (stream.square().sum() + out.square().sum() +
     new.grounded.square().sum()).backward()
    assert x.grad.abs().sum() > 0 and text.feats.grad.abs().sum() > 0
    # the closed gate and the zero word update can open: their last layers
    # get gradients; the prior is trained through the words->pixels path
    for p in (m.gate[2].weight, m.word_out.weight, m.prior_conv.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def _reference(m, x, text):
    """BSC written out per sample with plain loops and one head."""
    outs, streams, words_out = [], [], []
    for b in range(x.shape[0]):
        n = int(text.mask[b].sum())
        w = text.feats[b, :n]  # n Ct
        flat = x[b].flatten(1)  # C N
        q = m.f_query(flat[None])[0].t()  # N K
        k = m.f_key(w.t()[None])[0].t()  # n K
        v = m.f_value(w.t()[None])[0].t()  # n C
        S = q @ k.t() / q.shape[1]**0.5  # N n
        ctx = m.W((S.softmax(1) @ v).t()[None])[0]  # C N
        stats = torch.stack([S.mean(1), S.max(1).values]).view(
            1, 2, *x.shape[-2:])
        prior = m.prior_conv(stats).flatten(1)  # 1 N
        mm = m.project_mm((m.vis_project(flat[None])[0] * ctx *
                           prior.sigmoid())[None])[0]
        gate = m.gate(mm.t()).t()
        streams.append((flat + gate * mm).view_as(x[b]))
        outs.append(mm.view_as(x[b]))
        pool = (S.t() + torch.log(prior.sigmoid())).softmax(1)  # n N
        u = m.pixel_value(flat[None])[0].t()  # N K
        new = w + m.word_out(m.word_norm(pool @ u))
        words_out.append(torch.cat([new, text.feats[b, n:]]))
    return torch.stack(streams), torch.stack(outs), torch.stack(words_out)


def test_matches_per_sample_reference():
    m = _bsc(open_all=True)
    m.eval()
    x, text = _x(), _text()
    stream, out, new = m(x, text)
    ref_stream, ref_out, ref_words = _reference(m, x, text)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(stream, ref_stream, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(new.grounded, ref_words, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize('num_heads', [1, 2, 4])
def test_padded_words_do_not_matter(num_heads):
    m = _bsc(open_all=True, num_heads=num_heads)
    m.eval()
    x, text = _x(), _text()
    stream, out, new = m(x, text)
    changed = _text()
    pad = changed.mask == 0
    changed.feats[pad] = torch.randn(int(pad.sum()), CT) * 100
    stream2, out2, new2 = m(x, changed)
    torch.testing.assert_close(out2, out)
    torch.testing.assert_close(stream2, stream)
    real = ~pad
    torch.testing.assert_close(new2.grounded[real], new.grounded[real])
    # padded words are passed on unchanged
    torch.testing.assert_close(new2.grounded[pad], changed.feats[pad])


def test_words_are_grounded_in_the_image():
    m = _bsc(open_all=True)
    m.eval()
    text = _text()
    text1, text2 = m(_x(1), text)[2], m(_x(2), text)[2]
    real = text.mask.bool()
    assert not torch.allclose(text1.grounded[real], text.feats[real])
    # the same sentence grounded in two images gives different words
    assert not torch.allclose(text1.grounded[real], text2.grounded[real])


def test_without_pixel_to_word_words_untouched():
    m = _bsc(with_pixel_to_word=False)
    assert not hasattr(m, 'word_out')
    text = _text()
    assert m(_x(), text)[2] is text  # the record passes on as it was


def test_spatial_prior_changes_the_output():
    with_prior = _bsc(open_all=True)
    without = _bsc(with_spatial_prior=False)
    assert not hasattr(without, 'prior_conv')
    without.load_state_dict(with_prior.state_dict(), strict=False)
    x = _x()
    _, out1, _ = with_prior(x, _text())
    _, out2, _ = without(x, _text())
    assert not torch.allclose(out1, out2)


def test_next_stage_reads_the_grounded_words():
    first, second = _bsc(open_all=True), _bsc(open_all=True)
    text = _text()
    _, _, grounded = first(_x(), text)
    _, out_chain, twice = second(_x(3), grounded)
    _, out_plain, once = second(_x(3), text)
    assert not torch.allclose(out_chain, out_plain)
    assert not torch.allclose(twice.grounded, once.grounded)
    # running the second block with the first record again is unaffected
    # by what the first call produced (nothing was written into it)
    torch.testing.assert_close(second(_x(3), text)[1], out_plain, rtol=0,
                               atol=0)
