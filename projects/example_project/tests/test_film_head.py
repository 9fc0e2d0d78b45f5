"""FiLMHead: logits at the finest map, conditioned on the sentence."""
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import projects.example_project.gated_film  # noqa: F401  (registers)
from mmrrsis.models.utils import TextFeatures

B, CT, L = 2, 6, 3
IN_CHANNELS = [4, 8, 16]


def _inputs(pooled):
    torch.manual_seed(0)
    feats = tuple(
        torch.randn(B, c, 16 // 2**i, 16 // 2**i)
        for i, c in enumerate(IN_CHANNELS))
    text = TextFeatures(feats=torch.randn(B, L, CT),
                        mask=torch.ones(B, L, dtype=torch.long),
                        pooled=pooled)
    return dict(img_feats=feats, text=text)


def _head():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='FiLMHead', in_channels=IN_CHANNELS, channels=8,
             text_channels=CT, num_classes=2,
             norm_cfg=dict(type='BN', requires_grad=True)))
    head.init_weights()
    return head


def test_registered_logits_at_finest_map_and_read_the_sentence():
    head = _head().eval()
    a, b = torch.randn(B, CT), torch.randn(B, CT)
    logits = head(_inputs(a))
    assert logits.shape == (B, 2, 16, 16)
    assert not torch.allclose(logits, head(_inputs(b)))


def test_every_parameter_gets_a_gradient():
    head = _head()
    logits = head(_inputs(torch.randn(B, CT)))
    logits.square().sum().backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
