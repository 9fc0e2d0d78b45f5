"""GatedFiLMFusion: closed gate at start, reads real words only, learns."""
import torch

from projects.example_project.gated_film import GatedFiLMFusion

B, C, CT, L, H, W = 2, 8, 6, 5, 4, 4


def _text(seed=0, mask=None):
    g = torch.Generator().manual_seed(seed)
    if mask is None:
        mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    return dict(feats=torch.randn(B, L, CT, generator=g), mask=mask)


def test_closed_gate_keeps_the_stream_and_out_reads_the_sentence():
    torch.manual_seed(0)
    block = GatedFiLMFusion(in_channels=C, text_channels=CT)
    block.init_weights()
    x = torch.randn(B, C, H, W)
    stream, out = block(x, _text(0))
    assert stream.shape == out.shape == (B, C, H, W)
    assert torch.equal(stream, x)  # tanh(0) = 0: the backbone's own stream
    _, out2 = block(x, _text(1))
    assert not torch.allclose(out, out2)  # another sentence, another out
    # an open gate lets the sentence into the stream
    with torch.no_grad():
        block.gate.fill_(1.0)
    assert not torch.allclose(block(x, _text(0))[0], x)


def test_padded_words_are_ignored():
    torch.manual_seed(0)
    block = GatedFiLMFusion(in_channels=C, text_channels=CT)
    x = torch.randn(B, C, H, W)
    text = _text(0)
    changed = dict(text, feats=text['feats'].clone())
    changed['feats'][0, 3:] = 100.0  # padded positions of sample 0
    assert torch.allclose(block(x, text)[1], block(x, changed)[1])
    changed['feats'][0, 0] += 1.0  # a real word
    assert not torch.allclose(block(x, text)[1][0], block(x, changed)[1][0])


def test_every_parameter_gets_a_gradient_at_init():
    torch.manual_seed(0)
    block = GatedFiLMFusion(in_channels=C, text_channels=CT)
    block.init_weights()
    x = torch.randn(B, C, H, W)
    stream, out = block(x, _text(0))
    (stream.square().sum() + out.square().sum()).backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert block.stream_only_parameters() == [block.gate]
