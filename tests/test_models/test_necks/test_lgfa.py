"""LGFA: language into every scale, multi-scale attention fusion,
attention deficit compensation."""
import copy

import pytest
import torch
import torch.nn.functional as F
from crobim_test_utils import (SIZES, WIDTH, B, lgfa_cfg, mid_cfg, pyramid,
                               scramble_padding, words)
from mmseg.registry import MODELS
from model_test_utils import SWIN_CHANNELS, make_samples, tiny_segmentor_cfg

from mmrrsis.models.necks import LGFA, BaseTextNeck
from mmrrsis.models.utils import TextFeatures


def build(**kwargs):
    torch.manual_seed(0)
    neck = MODELS.build(lgfa_cfg(**kwargs))
    neck.init_weights()
    return neck


def run(neck, feats=None, text=None, mask=None):
    """The neck's maps (the text record it returns is checked below)."""
    if text is None:
        text, mask = words()
    outs, _ = neck(feats if feats is not None else pyramid(),
                   TextFeatures(feats=text, mask=mask))
    return outs


def test_shapes():
    neck = build()
    assert isinstance(neck, LGFA) and isinstance(neck, BaseTextNeck)
    text = TextFeatures(*words())
    outs, text_out = neck(pyramid(), text)
    assert text_out is text  # LGFA reads the words, does not refine them
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(B, WIDTH, s, s)
                                              for s in SIZES]
    with pytest.raises(ValueError, match='expects 4 maps'):
        run(neck, pyramid()[:3])
    with pytest.raises(ValueError, match='text_channels'):
        MODELS.build(lgfa_cfg(text_channels=None))


def test_gradients():
    neck = build()
    feats = [f.requires_grad_(True) for f in pyramid()]
    text, mask = words()
    text.requires_grad_(True)
    sum(o.square().mean() for o in run(neck, feats, text, mask)).backward()
    for name, p in neck.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(f.grad.abs().sum() > 0 for f in feats)
    assert text.grad[mask.bool()].abs().sum() > 0
    assert text.grad[~mask.bool()].abs().sum() == 0


@pytest.mark.parametrize('compensation', [True, False])
def test_padded_words_do_not_change_the_output(compensation):
    neck = build(deficit_compensation=compensation).eval()
    text, mask = words()
    ref = run(neck, text=text, mask=mask)
    changed, mask2 = scramble_padding(text, mask, extra=2)
    for a, b in zip(run(neck, text=changed, mask=mask2), ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    real = text.clone()
    real[1, 2] += 5  # a real word of sample 1
    outs = run(neck, text=real, mask=mask)
    assert not torch.allclose(outs[0][1], ref[0][1], atol=1e-4)
    torch.testing.assert_close(outs[0][0], ref[0][0])


def test_without_compensation_is_a_plain_softmax_over_words():
    neck = build(deficit_compensation=False)
    assert not hasattr(neck, 'compensate')
    assert not neck.attn[0].null_slot
    with_comp = build()
    assert with_comp.attn[0].null_slot and hasattr(with_comp, 'compensate')
    n_extra = sum(p.numel() for p in with_comp.parameters()) - sum(
        p.numel() for p in neck.parameters())
    # 4 null keys (2 heads x 8) + 4 compensation 1x1 convs (16x16 + 16)
    assert n_extra == 4 * 16 + 4 * (WIDTH * WIDTH + WIDTH)


def test_full_deficit_refills_with_vision_and_ignores_words():
    """When the null key takes all the attention (deficit 1), the words no
    longer matter and the visual refill keeps the features alive."""
    neck = build().eval()
    with torch.no_grad():
        for attn in neck.attn:
            # a null key aligned with a huge query bias wins every softmax
            attn.q_proj.bias.fill_(50.0)
            attn.null_key.fill_(50.0)
    text, mask = words()
    ref = run(neck, text=text, mask=mask)
    other, _ = words(seed=7)
    outs = run(neck, text=other, mask=mask)
    for a, b in zip(outs, ref):
        torch.testing.assert_close(a, b)
        assert a.abs().sum() > 0


def test_multi_scale_fusion_mixes_scales():
    neck = build().eval()
    feats = pyramid()
    ref = run(neck, feats)
    coarse = [f.clone() for f in feats]
    coarse[3] = torch.randn_like(coarse[3])  # change only the coarsest map
    outs = run(neck, coarse)
    assert not torch.allclose(outs[0], ref[0], atol=1e-4)
    alone = build(multi_scale_fusion=False).eval()
    assert not hasattr(alone, 'scale_weights')
    ref = run(alone, feats)
    outs = run(alone, coarse)
    torch.testing.assert_close(outs[0], ref[0])


def test_bf16_autocast():
    neck = build()
    ref = run(neck)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = run(neck)
    for o, r in zip(outs, ref):
        assert o.dtype == torch.bfloat16
        assert F.cosine_similarity(o.float().flatten(), r.flatten(),
                                   dim=0) > 0.99
    sum(o.float().mean() for o in outs).backward()
    assert neck.attn[0].null_key.grad.abs().sum() > 0


def test_lgfa_neck_in_the_segmentor_with_mid():
    """LGFA as the segmentor's neck after a tiny Swin (no early fusion),
    MID as the head; text_channels filled in from the encoder."""
    cfg = tiny_segmentor_cfg(
        fusion=None,
        neck=lgfa_cfg(in_channels=list(SWIN_CHANNELS), text_channels=None),
        decode_head=mid_cfg(in_channels=[WIDTH] * 4, text_channels=None))
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    assert model.neck.attn[0].k_proj.in_features == \
        model.text_encoder.out_channels
    losses = model(torch.randn(2, 3, 64, 64),
                   make_samples(['the plane', 'two tanks']), mode='loss')
    (losses['decode.loss_ce'] + losses['decode.loss_dice']).backward()
    assert model.neck.compensate[0].weight.grad.abs().sum() > 0
    assert model.backbone.patch_embed.projection.weight.grad.abs().sum() > 0
