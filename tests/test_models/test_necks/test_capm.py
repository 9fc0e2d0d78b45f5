"""CAPM: prompts modulated by pooled multi-scale visual context, appended
to the words."""
import copy

import pytest
import torch
import torch.nn.functional as F
from crobim_test_utils import (CHANNELS, CT, WIDTH, B, L, lgfa_cfg, mid_cfg,
                               pyramid, scramble_padding, words)
from mmseg.registry import MODELS
from model_test_utils import SWIN_CHANNELS, make_samples, tiny_segmentor_cfg

from mmrrsis.models.necks import CAPM, BaseTextNeck
from mmrrsis.models.utils import TextFeatures

K = 3


def capm_cfg(**kwargs):
    cfg = dict(type='CAPM', in_channels=list(CHANNELS), text_channels=CT,
               num_prompts=K, pool_size=2, num_heads=2)
    cfg.update(kwargs)
    return cfg


def build(**kwargs):
    torch.manual_seed(0)
    neck = MODELS.build(capm_cfg(**kwargs))
    neck.init_weights()
    return neck


def run(neck, feats=None, text=None, mask=None):
    if text is None:
        text, mask = words()
    feats = feats if feats is not None else pyramid()
    return neck(feats, TextFeatures(feats=text, mask=mask, pooled=text[:, 0]))


def real(text_out, mask):
    """The real-word rows and the prompt rows of a modulated sequence."""
    n = mask.shape[1]
    return ([t[m.bool()] for t, m in zip(text_out.feats[:, :n], mask)],
            text_out.feats[:, n:])


def test_shapes_and_a_new_text_record():
    neck = build()
    assert isinstance(neck, CAPM) and isinstance(neck, BaseTextNeck)
    feats = pyramid()
    text, mask = words()
    given = TextFeatures(feats=text, mask=mask, pooled=text[:, 0],
                         grounded=text * 2)
    out_feats, out = neck(feats, given)
    assert out_feats is feats  # no visual neck: maps pass through
    # a new record; the one given is left as it was
    assert out is not given and given.feats is text and given.mask is mask
    assert out.feats.shape == (B, L + K, CT)
    assert out.mask.shape == (B, L + K)
    assert out.mask.dtype == mask.dtype
    assert (out.mask[:, L:] == 1).all()
    torch.testing.assert_close(out.mask[:, :L], mask)
    assert out.plain_feats is text and out.plain_mask is mask
    assert out.prompt_feats.shape == (B, K, CT)
    assert out.pooled is given.pooled
    # grounded words of the old length are dropped: words reads the tokens
    assert out.grounded is None and out.words is out.feats
    # the words are modulated, not copied
    assert not torch.allclose(out.feats[:, :L], text)
    with pytest.raises(ValueError, match='num_prompts'):
        build(num_prompts=0)
    with pytest.raises(ValueError, match='text_channels'):
        MODELS.build(capm_cfg(text_channels=None))


def test_prompts_carry_the_image():
    """Same sentence, different images: different prompts and words;
    same image: identical."""
    neck = build().eval()
    text, mask = words()
    a = run(neck, pyramid(seed=0), text, mask)[1]
    b = run(neck, pyramid(seed=5), text, mask)[1]
    again = run(neck, pyramid(seed=0), text, mask)[1]
    torch.testing.assert_close(a.feats, again.feats)
    assert not torch.allclose(a.prompt_feats, b.prompt_feats, atol=1e-3)
    words_a, _ = real(a, mask)
    words_b, _ = real(b, mask)
    assert not torch.allclose(words_a[0], words_b[0], atol=1e-3)


def test_padded_words_do_not_change_real_tokens_or_prompts():
    neck = build().eval()
    text, mask = words()
    ref = run(neck, text=text, mask=mask)[1]
    changed, mask2 = scramble_padding(text, mask, extra=2)
    out = run(neck, text=changed, mask=mask2)[1]
    ref_words, ref_prompts = real(ref, mask)
    out_words, out_prompts = real(out, mask2)
    for a, b in zip(out_words, ref_words):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out_prompts, ref_prompts, rtol=1e-4,
                               atol=1e-5)


def test_gradients():
    neck = build()
    feats = [f.requires_grad_(True) for f in pyramid()]
    text, mask = words()
    text.requires_grad_(True)
    _, out = run(neck, feats, text, mask)
    out.feats.square().mean().backward()
    for name, p in neck.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(f.grad.abs().sum() > 0 for f in feats)
    assert text.grad[mask.bool()].abs().sum() > 0


def test_visual_neck_sees_the_plain_words():
    """CAPM wraps LGFA: LGFA reads the unmodulated words, as in the
    flowchart, and its maps are CAPM's maps."""
    neck = build(visual_neck=lgfa_cfg(text_channels=None)).eval()
    assert neck.visual_neck.attn[0].k_proj.in_features == CT
    feats = pyramid()
    text, mask = words()
    maps, out = run(neck, feats, text, mask)
    alone, _ = neck.visual_neck(feats, TextFeatures(feats=text, mask=mask))
    assert len(maps) == 4 and maps[0].shape[1] == WIDTH
    for a, b in zip(maps, alone):
        torch.testing.assert_close(a, b)
    assert out.feats.shape == (B, L + K, CT)


def test_bf16_autocast():
    neck = build(visual_neck=lgfa_cfg(text_channels=None))
    _, ref = run(neck)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        maps, out = run(neck)
    assert out.feats.dtype == torch.bfloat16
    assert maps[0].dtype == torch.bfloat16
    assert F.cosine_similarity(out.feats.float().flatten(),
                               ref.feats.flatten(), dim=0) > 0.99
    (out.feats.float().mean() + maps[0].float().mean()).backward()
    assert neck.prompts.grad.abs().sum() > 0


def test_crobim_in_the_segmentor():
    """Tiny CroBIM: Swin -> CAPM(LGFA) -> MID; the head gets the words plus
    K prompts, and the loss trains prompts, LGFA and the backbone."""
    cfg = tiny_segmentor_cfg(
        fusion=None,
        neck=capm_cfg(
            in_channels=list(SWIN_CHANNELS), text_channels=None,
            visual_neck=lgfa_cfg(in_channels=list(SWIN_CHANNELS),
                                 text_channels=None)),
        decode_head=mid_cfg(in_channels=[WIDTH] * 4, text_channels=None))
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    width = model.text_encoder.out_channels
    assert model.neck.prompts.shape == (K, width)
    texts = ['the plane at the top', 'two tanks']
    inputs = torch.randn(2, 3, 64, 64)
    feats = model.extract_feat(inputs, texts)
    assert set(feats) == {'img_feats', 'text'}
    n = feats['text'].plain_mask.shape[1]
    assert feats['text'].feats.shape == (2, n + K, width)
    assert feats['text'].mask.shape == (2, n + K)
    losses = model(inputs, make_samples(texts), mode='loss')
    (losses['decode.loss_ce'] + losses['decode.loss_dice']).backward()
    assert model.neck.prompts.grad.abs().sum() > 0
    assert model.neck.visual_neck.compensate[0].weight.grad.abs().sum() > 0
    assert model.backbone.patch_embed.projection.weight.grad.abs().sum() > 0
    # AMP: the whole CroBIM trains under bf16 autocast on the CPU
    model.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = model(inputs, make_samples(texts), mode='tensor')
        losses = model(inputs, make_samples(texts), mode='loss')
    assert logits.dtype == torch.bfloat16
    total = losses['decode.loss_ce'] + losses['decode.loss_dice']
    assert torch.isfinite(total)
    total.backward()
    assert model.neck.prompts.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model(inputs, make_samples(texts), mode='predict')
    assert preds[1].pred_sem_seg.data.shape == (1, 64, 64)
