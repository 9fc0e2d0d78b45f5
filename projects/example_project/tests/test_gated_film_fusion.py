"""GatedFiLMFusion: closed gate at start, reads real words only, learns."""
import torch

from mmrrsis.models.fusion import BaseReferringFusion
from mmrrsis.models.utils import TextFeatures
from projects.example_project.gated_film import GatedFiLMFusion

B, C, CT, L, H, W = 2, 8, 6, 5, 4, 4


def _text(seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    return TextFeatures(feats=torch.randn(B, L, CT, generator=g), mask=mask)


def _block():
    torch.manual_seed(0)
    block = GatedFiLMFusion(in_channels=C, text_channels=CT)
    block.init_weights()
    return block


def test_fuse_keeps_the_stream_while_the_gate_is_closed():
    block = _block()
    assert isinstance(block, BaseReferringFusion)
    x = torch.randn(B, C, H, W)
    text = _text(0)
    stream, out, text_out = block.fuse(x, text)
    assert stream.shape == out.shape == (B, C, H, W)
    assert torch.equal(stream, x)  # tanh(0) = 0: the backbone's own stream
    assert text_out is text  # the text goes on unchanged
    _, out2, _ = block.fuse(x, _text(1))
    assert not torch.allclose(out, out2)  # another sentence, another out
    # an open gate lets the sentence into the stream
    with torch.no_grad():
        block.gate.fill_(1.0)
    assert not torch.allclose(block.fuse(x, text)[0], x)


def test_padded_words_are_ignored():
    block = _block()
    x = torch.randn(B, C, H, W)
    text = _text(0)
    feats = text.feats.clone()
    feats[0, 3:] = 100.0  # padded positions of sample 0
    padded = text.replace(feats=feats)
    assert torch.allclose(block.fuse(x, text)[1], block.fuse(x, padded)[1])
    feats = feats.clone()
    feats[0, 0] += 1.0  # a real word
    real = text.replace(feats=feats)
    assert not torch.allclose(block.fuse(x, text)[1][0],
                              block.fuse(x, real)[1][0])


def test_every_parameter_gets_a_gradient_at_init():
    block = _block()
    x = torch.randn(B, C, H, W)
    stream, out, _ = block.fuse(x, _text(0))
    (stream.square().sum() + out.square().sum()).backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert block.stream_only_parameters() == [block.gate]
