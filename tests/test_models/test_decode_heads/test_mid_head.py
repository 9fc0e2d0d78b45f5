"""MIDHead (CroBIM's mutual-interaction decoder) and its attention."""
import copy

import pytest
import torch
import torch.nn.functional as F
from crobim_test_utils import (CHANNELS, CT, SIZES, B, mid_cfg, pyramid,
                               scramble_padding, words)
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from model_test_utils import (REPO_ROOT, SWIN_CHANNELS, make_samples,
                              tiny_segmentor_cfg)

from mmrrsis.models.decode_heads import MIDHead
from mmrrsis.models.utils import MaskedAttention, TextFeatures


def build(**kwargs):
    torch.manual_seed(0)
    head = MODELS.build(mid_cfg(**kwargs))
    head.init_weights()
    return head


def inputs(feats=None, text=None, mask=None):
    if feats is None:
        feats = pyramid()
    if text is None:
        text, mask = words()
    return dict(img_feats=tuple(feats),
                text=TextFeatures(feats=text, mask=mask, pooled=text[:, 0]))


def test_shapes_and_no_conv_seg():
    head = build()
    assert isinstance(head, MIDHead)
    assert not hasattr(head, 'conv_seg')
    out = head(inputs())
    assert out.shape == (B, 2, SIZES[0], SIZES[0])
    assert torch.isfinite(out).all()
    # one class (sigmoid) -> one map
    head1 = build(num_classes=1, loss_decode=dict(
        type='CrossEntropyLoss', use_sigmoid=True))
    assert head1(inputs()).shape == (B, 1, SIZES[0], SIZES[0])
    # interaction at stride 8: select the coarser three maps
    head8 = build(in_channels=CHANNELS[1:], in_index=[1, 2, 3])
    assert head8(inputs()).shape == (B, 2, SIZES[1], SIZES[1])


def test_gradients_reach_every_parameter_and_both_modalities():
    head = build()
    feats = [f.requires_grad_(True) for f in pyramid()]
    text, mask = words()
    text.requires_grad_(True)
    out = head(inputs(feats, text, mask))
    out.square().mean().backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(f.grad.abs().sum() > 0 for f in feats)
    assert text.grad[mask.bool()].abs().sum() > 0
    # padded words get no gradient: they never reach the output
    assert text.grad[~mask.bool()].abs().sum() == 0


def test_padded_words_do_not_change_the_output():
    head = build().eval()
    text, mask = words()
    ref = head(inputs(text=text, mask=mask))
    changed, mask2 = scramble_padding(text, mask, extra=3)
    out = head(inputs(text=changed, mask=mask2))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    # ... while a real word does change sample 0 (and only sample 0)
    real = text.clone()
    real[0, 1] += 5
    out3 = head(inputs(text=real, mask=mask))
    assert not torch.allclose(out3[0], ref[0], atol=1e-4)
    torch.testing.assert_close(out3[1], ref[1])


def test_the_mask_reads_the_sentence():
    """Two sentences on the same image give different masks."""
    head = build().eval()
    feats = pyramid()
    feats = [f[:1].expand(2, -1, -1, -1) for f in feats]  # same image x2
    text, _ = words()
    mask = torch.ones(2, text.shape[1], dtype=torch.long)
    out = head(inputs(feats, text, mask))
    assert not torch.allclose(out[0], out[1], atol=1e-3)


@pytest.mark.parametrize('depth', [1, 2, 3])
def test_depth(depth):
    head = build(num_layers=depth)
    assert len(head.layers) == depth
    assert head(inputs()).shape == (B, 2, SIZES[0], SIZES[0])
    with pytest.raises(ValueError, match='num_layers'):
        build(num_layers=0)


def test_needs_text():
    with pytest.raises(ValueError, match='text_channels'):
        MODELS.build(mid_cfg(text_channels=None))
    head = build()
    with pytest.raises(ValueError, match='reads the expression'):
        head(tuple(pyramid()))


def test_bf16_autocast_forward_and_backward():
    head = build()
    x = inputs()
    ref = head(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = head(x)
    assert out.dtype == torch.bfloat16
    assert torch.isfinite(out.float()).all()
    # the same mask up to bf16 rounding
    assert F.cosine_similarity(out.float().flatten(), ref.flatten(),
                               dim=0) > 0.99
    out.float().square().mean().backward()
    assert head.class_embed.weight.grad.abs().sum() > 0


def test_loss_and_predict_through_mmseg():
    head = build()
    samples = make_samples(['a', 'b'], img_shape=(64, 64))
    losses = head.loss(inputs(), samples, ConfigDict())
    assert {'loss_ce', 'loss_dice', 'acc_seg'} <= set(losses)
    (losses['loss_ce'] + losses['loss_dice']).backward()
    metas = [s.metainfo for s in samples]
    logits = head.predict(inputs(), metas, ConfigDict(mode='whole'))
    assert logits.shape == (B, 2, 64, 64)


# ---------------------------------------------------------- attention


def test_masked_attention_matches_explicit_softmax():
    torch.manual_seed(0)
    attn = MaskedAttention(6, CT, 8, 2, out_dim=5)
    q = torch.randn(B, 9, 6)
    text, mask = words()
    out = attn(q, text, mask)
    h = 2
    qh = attn.q_proj(q).view(B, 9, h, 4).transpose(1, 2)
    kh = attn.k_proj(text).view(B, -1, h, 4).transpose(1, 2)
    vh = attn.v_proj(text).view(B, -1, h, 4).transpose(1, 2)
    s = qh @ kh.transpose(-1, -2) / 2.0
    s = s.masked_fill(~mask.bool()[:, None, None], float('-inf'))
    ref = (s.softmax(-1) @ vh).transpose(1, 2).reshape(B, 9, 8)
    torch.testing.assert_close(out, attn.out_proj(ref))


def test_null_slot_deficit_is_the_softmax_mass_of_the_null_key():
    torch.manual_seed(0)
    attn = MaskedAttention(6, CT, 8, 2, null_slot=True)
    torch.nn.init.normal_(attn.null_key)
    q = torch.randn(B, 9, 6)
    text, mask = words()
    out, deficit = attn(q, text, mask)
    assert deficit.shape == (B, 2, 9, 1)
    qh = attn.q_proj(q).view(B, 9, 2, 4).transpose(1, 2)
    kh = attn.k_proj(text).view(B, -1, 2, 4).transpose(1, 2)
    vh = attn.v_proj(text).view(B, -1, 2, 4).transpose(1, 2)
    kh = torch.cat([attn.null_key.expand(B, -1, -1, -1), kh], 2)
    s = qh @ kh.transpose(-1, -2) / 2.0
    full = torch.cat([torch.ones(B, 1, dtype=torch.bool), mask.bool()], 1)
    p = s.masked_fill(~full[:, None, None], float('-inf')).softmax(-1)
    torch.testing.assert_close(deficit, p[..., :1])
    ref = (p[..., 1:] @ vh).transpose(1, 2).reshape(B, 9, 8)
    torch.testing.assert_close(out, attn.out_proj(ref))
    assert ((deficit > 0) & (deficit < 1)).all()


# ------------------------------------------- on other models' features


def test_mid_on_lavt_pwam_features():
    """MID decodes LAVT's features (tiny Swin with PWAM in every stage)
    inside the segmentor; text_channels is filled in from the encoder."""
    cfg = tiny_segmentor_cfg(decode_head=mid_cfg(
        in_channels=list(SWIN_CHANNELS), text_channels=None))
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    assert model.decode_head.text_proj[0].in_features == \
        model.text_encoder.out_channels
    texts = ['the red car on the left', 'a ship']
    inputs_ = torch.randn(2, 3, 64, 64)
    losses = model(inputs_, make_samples(texts), mode='loss')
    total = losses['decode.loss_ce'] + losses['decode.loss_dice']
    total.backward()
    assert model.fusions[0].f_query[0].weight.grad.abs().sum() > 0
    assert model.decode_head.layers[0]['l2v'].q_proj.weight.grad.abs().sum(
    ) > 0
    model.eval()
    with torch.no_grad():
        preds = model(inputs_, make_samples(texts), mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 64)


def test_mid_on_fianet_features():
    """MID decodes FIANet's features: the tiny FIANet config (split text
    encoder, FIAM in every stage, TMEM neck) with MIDHead swapped in for
    the LAVT decoder, composed by config only."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    import os.path as osp
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'fianet',
                                   'fianet_tiny_synthetic.py')).model
    cfg.decode_head = mid_cfg(in_channels=[32, 64, 128, 256],
                              text_channels=None)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    texts = ['the red vehicle at the top', 'the white storage tank']
    inputs_ = torch.randn(2, 3, 64, 64)
    losses = model(inputs_, make_samples(texts), mode='loss')
    (losses['decode.loss_ce'] + losses['decode.loss_dice']).backward()
    # the gradient reaches FIANet's fusion and neck through MID
    assert model.fusions[0].context_attn.f_key.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.neck.parameters())
    model.eval()
    with torch.no_grad():
        a = model(inputs_, make_samples(texts), mode='predict')
        b = model(inputs_, make_samples(texts[::-1]), mode='predict')
    assert a[0].pred_sem_seg.data.shape == (1, 64, 64)
    # the mask depends on the sentence
    assert not torch.equal(a[0].seg_logits.data, b[0].seg_logits.data)
