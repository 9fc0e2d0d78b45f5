"""PartTimer charges wall time to the part that runs, exclusively.

A toy segmentor whose parts sleep known times: an early-fusion backbone
that calls the fusion block between its own blocks (and is never called as
a whole), a head whose ``loss_by_feat`` runs a loss module, and glue time
outside every part. Sleeps are wall time, so the bounds hold on a busy CPU
(lower bounds tight, upper bounds loose).
"""
import time

import pytest
import torch
from torch import nn

from mmrrsis.utils.part_timer import PartTimer, profile_table

T = 0.02  # s


class Sleep(nn.Module):

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        time.sleep(self.seconds)
        return self.lin(x)


class Fusion(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.inner = Sleep(2 * T)

    def forward(self, x):
        return self.inner(x)

    def fuse(self, x):
        time.sleep(T)  # glue of fuse() outside forward: still fusion
        return self(x)


class Backbone(nn.Module):
    """Driven block by block (like early fusion): never called whole."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Sleep(T), Sleep(T)])


class SleepLoss(nn.Module):

    def forward(self, x):
        time.sleep(T)
        return x.sum()


class Head(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.conv = Sleep(T)
        self.loss_decode = SleepLoss()

    def forward(self, x):
        return self.conv(x)

    def loss(self, x):
        return self.loss_by_feat(self(x))

    def loss_by_feat(self, logits):
        time.sleep(T)  # resize to the label size, etc.
        return self.loss_decode(logits)


class Toy(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.text_encoder = Sleep(T)
        self.backbone = Backbone()
        self.fusions = nn.ModuleList([Fusion()])
        self.decode_head = Head()

    def run(self, x):
        self.text_encoder(x)
        for block in self.backbone.blocks:
            x = block(x)
            x = self.fusions[0].fuse(x)
        time.sleep(T)  # glue
        return self.decode_head.loss(x)


def test_exclusive_time_per_part():
    model = Toy()
    timer = PartTimer(model, 'cpu')
    x = torch.zeros(1, 2)
    with timer.track():
        loss = model.run(x)
    assert loss.shape == ()
    s = timer.seconds
    expected = dict(text_encoder=T, backbone=2 * T, fusions=6 * T,
                    decode_head=T, loss=2 * T, other=T)
    assert set(s) == set(expected)
    for part, t in expected.items():
        # the sleeps are a lower bound; fusion time must not leak into
        # the backbone (nor the loss into the head)
        assert t * 0.95 <= s[part] < t + 0.5 * T + 0.05, (part, s)
    # parts add up to the time inside the block
    assert sum(s.values()) == pytest.approx(
        sum(expected.values()), rel=0.5)


def test_hooks_and_patches_are_removed():
    model = Toy()
    timer = PartTimer(model, 'cpu')
    with timer.track():
        pass
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    assert 'loss_by_feat' not in vars(model.decode_head)
    assert 'fuse' not in vars(model.fusions[0])
    # outside track() nothing is charged
    before = dict(timer.seconds)
    model.run(torch.zeros(1, 2))
    assert timer.seconds == before


def test_phase_and_table():
    timer = PartTimer(Toy(), 'cpu')
    with timer.phase('backward'):
        time.sleep(T)
    assert timer.seconds['backward'] >= T * 0.95
    lines = profile_table(dict(backbone=3.0, other=1.0), 2, 'title', 1.9)
    assert lines[0] == 'title'
    assert '1.5000' in lines[2] and '75.0%' in lines[2]
    assert 'total' in lines[-2] and '2.0000' in lines[-2]
    assert '1.9000' in lines[-1]
