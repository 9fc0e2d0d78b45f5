"""TMEM: text-aware multi-scale enhancement neck."""
import pytest
import torch
from mmseg.registry import MODELS

from mmrrsis.models.necks import TMEM, BaseTextNeck
from mmrrsis.models.utils import TextFeatures

CHANNELS = [8, 16, 32, 64]
SIZES = [16, 8, 4, 2]
B, L, CT = 2, 6, 12


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = [torch.randn(B, c, s, s, generator=g)
             for c, s in zip(CHANNELS, SIZES)]
    mask = torch.ones(B, L, dtype=torch.long)
    mask[1, 3:] = 0
    return feats, TextFeatures(feats=torch.randn(B, L, CT, generator=g),
                               mask=mask)


def _tmem(**kwargs):
    torch.manual_seed(0)
    m = MODELS.build(dict(type='TMEM', in_channels=CHANNELS,
                          text_channels=CT, **kwargs))
    m.init_weights()
    return m


def test_shapes_blocks_and_text_awareness():
    m = _tmem(num_blocks=3).eval()
    assert issubclass(TMEM, BaseTextNeck) and len(m.blocks) == 3
    assert m.down_channel.out_channels == sum(CHANNELS) // 4
    feats, text = _inputs()
    out, text_out = m(feats, text)
    assert text_out is text  # read, not refined
    assert [o.shape for o in out] == [f.shape for f in feats]
    # the sentence changes the result; padded words do not
    other = text.replace(feats=torch.randn(B, L, CT))
    assert not torch.allclose(m(feats, other)[0][0], out[0])
    padded = text.replace(feats=text.feats.clone())
    padded.feats[1, 3:] = 100.0
    torch.testing.assert_close(m(feats, padded)[0][0][1], out[0][1])


def test_every_parameter_gets_a_gradient():
    m = _tmem().train()
    feats, text = _inputs()
    for f in feats:
        f.requires_grad_(True)
    text.feats.requires_grad_(True)
    sum(o.square().mean() for o in m(feats, text)[0]).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(f.grad.abs().sum() > 0 for f in feats)
    assert text.feats.grad.abs().sum() > 0


def test_pools_to_the_coarsest_grid():
    m = _tmem(downsample=2)
    feats, _ = _inputs()
    pooled = m.pool(feats)
    assert pooled.shape == (B, sum(CHANNELS), 1, 1)
    torch.testing.assert_close(pooled[:, :8, 0, 0], feats[0].mean((2, 3)))


def test_wrong_number_of_maps():
    m = _tmem()
    feats, text = _inputs()
    with pytest.raises(ValueError, match='expects 4 maps'):
        m(feats[:3], text)
