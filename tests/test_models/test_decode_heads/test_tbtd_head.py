"""TBTDHead: BTDNet's target-background twin-stream decoder."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from model_test_utils import SWIN_CHANNELS, make_samples

from mmrrsis.models.utils import TextFeatures

SIZES = [16, 8, 4, 2]  # a 64 px input
CT = 12
STREAM_KEYS = {'loss_fg_bce', 'loss_fg_dice', 'loss_bg_bce', 'loss_bg_dice'}


def _cfg(**kwargs):
    cfg = dict(
        type='TBTDHead',
        in_channels=list(SWIN_CHANNELS),
        channels=16,
        text_channels=CT,
        dilations=(1, 2),
        num_stream_convs=1,
        num_classes=2,
        dropout_ratio=0.0,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=True,
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=1.0),
            dict(type='ForegroundDiceLoss', loss_weight=1.0),
        ])
    cfg.update(kwargs)
    return cfg


def _head(open_text=False, **kwargs):
    torch.manual_seed(0)
    head = MODELS.build(_cfg(**kwargs))
    head.init_weights()
    if open_text:  # make the streams read the sentence
        for s in [head.target_stream] + (
                [head.background_stream] if head.with_bg_stream else []):
            torch.nn.init.normal_(s.film.weight)
    return head


def _inputs(seed=0, **fields):
    """The segmentor's head inputs: maps and the text record."""
    g = torch.Generator().manual_seed(seed)
    feats = tuple(
        torch.randn(2, c, s, s, generator=g)
        for c, s in zip(SWIN_CHANNELS, SIZES))
    words = torch.randn(2, 5, CT, generator=g)
    text = TextFeatures(feats=words, mask=torch.ones(2, 5, dtype=torch.long),
                        pooled=words[:, 0], **fields)
    return dict(img_feats=feats, text=text)


def test_shapes():
    head = _head()
    outs = head.forward_streams(_inputs())
    assert outs['joint'].shape == (2, 2, 16, 16)
    assert outs['fg'].shape == outs['bg'].shape == (2, 1, 16, 16)
    torch.testing.assert_close(head(_inputs()), outs['joint'])


def test_losses_on_both_streams_and_joint():
    head = _head()
    losses = head.loss(_inputs(), make_samples(['a', 'b']), ConfigDict())
    assert {'loss_ce', 'loss_dice', 'acc_seg'} | STREAM_KEYS <= set(losses)
    total = sum(v for k, v in losses.items() if k.startswith('loss_'))
    assert torch.isfinite(total)
    total.backward()
    for p in (head.target_stream.logit.weight,
              head.background_stream.logit.weight, head.alpha, head.beta,
              head.conv_seg.weight, head.laterals[0].conv.weight,
              head.context[1].conv.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_trains_with_batch_one():
    head = _head()
    inputs = _inputs()
    one = dict(img_feats=tuple(f[:1] for f in inputs['img_feats']),
               text=TextFeatures(feats=inputs['text'].feats[:1],
                                 mask=inputs['text'].mask[:1]))
    losses = head.loss(one, make_samples(['a']), ConfigDict())
    assert torch.isfinite(losses['loss_bg_bce'])


def test_background_stream_learns_the_complement():
    head = _head()
    head.eval()  # fixed BN statistics: stream logits do not depend on batch
    inputs = _inputs()
    samples = make_samples(['a', 'b'])
    samples[0].gt_sem_seg.data[:, :8] = 255  # ignored rows stay ignored
    losses = head.loss(inputs, samples, ConfigDict())
    outs = head.forward_streams(inputs)
    label = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    valid = (label != 255).float()
    for stream, target in (('fg', label), ('bg', 1 - label)):
        logit = F.interpolate(outs[stream], size=label.shape[-2:],
                              mode='bilinear', align_corners=True)[:, 0]
        bce = F.binary_cross_entropy_with_logits(
            logit, target.clamp(0, 1).float(), reduction='none')
        expected = 0.5 * (bce * valid).sum() / valid.numel()
        torch.testing.assert_close(losses[f'loss_{stream}_bce'], expected)


def test_joint_is_learnable_fg_bg_combination():
    head = _head()
    head.eval()
    torch.nn.init.zeros_(head.conv_seg.weight)
    torch.nn.init.zeros_(head.conv_seg.bias)
    with torch.no_grad():
        head.alpha.fill_(2.0)
        head.beta.fill_(0.5)
    outs = head.forward_streams(_inputs())
    # with the correction term off, p(target) = sigmoid(a z_fg - b z_bg)
    torch.testing.assert_close(
        outs['joint'].softmax(1)[:, 1:],
        torch.sigmoid(2.0 * outs['fg'] - 0.5 * outs['bg']))


def test_without_background_stream():
    head = _head(with_bg_stream=False)
    assert not hasattr(head, 'background_stream')
    outs = head.forward_streams(_inputs())
    assert 'bg' not in outs
    losses = head.loss(_inputs(), make_samples(['a', 'b']), ConfigDict())
    assert {'loss_fg_bce', 'loss_fg_dice'} <= set(losses)
    assert not any(k.startswith('loss_bg') for k in losses)


def test_streams_read_the_grounded_sentence():
    head = _head(open_text=True)
    head.eval()
    base = _inputs()
    ref = head(base)
    other = dict(base, text=base['text'].replace(
        feats=base['text'].feats + 1))
    assert not torch.allclose(head(other), ref)
    # BSC-grounded words take precedence over the encoder's words
    grounded = torch.randn(2, 5, CT)
    inp = _inputs(grounded=grounded)
    out_grounded = head(inp)
    assert not torch.allclose(out_grounded, ref)
    inp2 = dict(inp, text=inp['text'].replace(
        feats=inp['text'].feats * 0))  # not read when grounded is set
    torch.testing.assert_close(head(inp2), out_grounded, rtol=0, atol=0)


def test_needs_the_text():
    inputs = _inputs()
    with pytest.raises(ValueError, match='TBTDHead reads the expression'):
        _head()(dict(img_feats=inputs['img_feats']))


def test_predict_resizes_to_img_shape():
    head = _head()
    head.eval()
    metas = [s.metainfo for s in make_samples(['a', 'b'], with_gt=False)]
    with torch.no_grad():
        logits = head.predict(_inputs(), metas, ConfigDict())
    assert logits.shape == (2, 2, 64, 64)


def test_rejects_one_channel_output():
    with pytest.raises(ValueError, match='2 logits'):
        MODELS.build(_cfg(num_classes=2, out_channels=1,
                          loss_decode=dict(type='CrossEntropyLoss',
                                           use_sigmoid=True)))
