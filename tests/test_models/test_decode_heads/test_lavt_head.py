"""LAVTHead: the LAVT top-down decoder on MMSeg's BaseDecodeHead."""
import torch
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from model_test_utils import SWIN_CHANNELS, make_samples, tiny_head_cfg

from mmrrsis.models.utils import TextFeatures

SIZES = [16, 8, 4, 2]  # a 64 px input


def _feats(seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(2, c, s, s, generator=g)
        for c, s in zip(SWIN_CHANNELS, SIZES))


def _text():
    """The text part of the segmentor's head inputs (LAVT's decoder does
    not read it)."""
    return dict(text=TextFeatures(feats=torch.randn(2, 5, 384),
                                  mask=torch.ones(2, 5, dtype=torch.long),
                                  pooled=torch.randn(2, 384)))


def _head(**kwargs):
    torch.manual_seed(0)
    head = MODELS.build(tiny_head_cfg(**kwargs))
    head.init_weights()
    return head


def test_output_shape_quarter_resolution():
    head = _head()
    logits = head(dict(img_feats=_feats(), **_text()))
    assert logits.shape == (2, 2, 16, 16)
    assert len(head.fuse_blocks) == 3
    # a plain tuple of visual features works too and gives the same logits
    torch.testing.assert_close(head(_feats()), logits)


def test_every_scale_contributes():
    head = _head()
    head.eval()
    feats = _feats()
    ref = head(feats)
    for i in range(4):
        changed = list(feats)
        changed[i] = changed[i] + torch.randn_like(changed[i])
        assert not torch.allclose(head(tuple(changed)), ref), i


def test_loss_keys_and_backward():
    head = _head()
    feats = _feats()
    samples = make_samples(['a', 'b'])
    losses = head.loss(dict(img_feats=feats, **_text()), samples,
                       ConfigDict())
    assert {'loss_ce', 'loss_dice', 'acc_seg'} <= set(losses)
    total = losses['loss_ce'] + losses['loss_dice']
    assert torch.isfinite(total)
    total.backward()
    assert head.conv_seg.weight.grad.abs().sum() > 0
    assert head.fuse_blocks[0][0].conv.weight.grad.abs().sum() > 0


def test_predict_resizes_to_img_shape():
    head = _head()
    head.eval()
    samples = make_samples(['a', 'b'], with_gt=False)
    metas = [s.metainfo for s in samples]
    with torch.no_grad():
        logits = head.predict(dict(img_feats=_feats(), **_text()), metas,
                              ConfigDict())
    assert logits.shape == (2, 2, 64, 64)
