"""The RMSIN / FIANet loss (their loss/loss.py): 0.9 * class-weighted CE
+ 0.1 * two-class softmax Dice summed over batch x classes, smooth 1e-6.

Expected values are worked out by hand from that formula on a tiny case."""
import math

import pytest
import torch
from mmengine.config import Config

from mmrrsis.models.losses import ForegroundDiceLoss, WeightedCrossEntropyLoss

# two images of 1 x 2 pixels; foreground probabilities given directly
P = torch.tensor([[0.8, 0.3], [0.1, 0.6]])  # [B=2, N=2]
T = torch.tensor([[1, 0], [0, 0]]).unsqueeze(1)  # [B, H=1, W=2]


def _logits(p: torch.Tensor) -> torch.Tensor:
    """[B, N] foreground probabilities -> [B, 2, 1, N] logits."""
    return torch.stack([torch.zeros_like(p), torch.log(p / (1 - p))],
                       1).unsqueeze(2)


def _hand_dice_sum(smooth: float = 1e-6) -> float:
    # image 0: fg: inter 0.8, sum p 1.1, sum t 1; bg: inter 0.7, 0.9, 1
    # image 1: fg: inter 0, sum p 0.7, sum t 0; bg: inter 1.3, 1.3, 2
    terms = [(0.8, 2.1), (0.7, 1.9), (0.0, 0.7), (1.3, 3.3)]
    return sum(1 - (2 * i + smooth) / (d + smooth) for i, d in terms)


def _hand_ce() -> float:
    # weighted mean: sum w[y] * -log p_y / sum w[y], w = (0.9, 1.1)
    nll = [(1.1, -math.log(0.8)), (0.9, -math.log(0.7)),
           (0.9, -math.log(0.9)), (0.9, -math.log(0.4))]
    return sum(w * v for w, v in nll) / sum(w for w, _ in nll)


def test_two_class_summed_dice_matches_hand_value():
    loss = ForegroundDiceLoss(include_background=True, reduction='sum',
                              eps=1e-6)(_logits(P), T)
    assert loss.item() == pytest.approx(_hand_dice_sum(), rel=1e-5)
    # the default (foreground only, mean) is a different number
    fg_mean = ForegroundDiceLoss(eps=1e-6)(_logits(P), T)
    assert fg_mean.item() == pytest.approx(
        ((1 - 1.6 / 2.1) + (1 - 1e-6 / (0.7 + 1e-6))) / 2, rel=1e-5)


def test_weighted_ce_matches_hand_value_and_ignores_255():
    ce = WeightedCrossEntropyLoss(class_weight=[0.9, 1.1])
    assert ce(_logits(P), T).item() == pytest.approx(_hand_ce(), rel=1e-5)
    # an ignored pixel leaves both sums (MMSeg's CE raises IndexError here)
    t = T.clone()
    t[1, 0, 1] = 255
    nll = [(1.1, -math.log(0.8)), (0.9, -math.log(0.7)),
           (0.9, -math.log(0.9))]
    want = sum(w * v for w, v in nll) / sum(w for w, _ in nll)
    assert ce(_logits(P), t).item() == pytest.approx(want, rel=1e-5)
    # all pixels ignored: zero, not NaN, and still differentiable
    logits = _logits(P).requires_grad_()
    out = ce(logits, torch.full_like(T, 255))
    out.backward()
    assert out.item() == 0.0 and logits.grad is not None


def test_paper_configs_use_the_official_loss():
    """The decode-head loss of every Swin paper base, applied as MMSeg's
    BaseDecodeHead does (sum of the terms), equals the official value."""
    from mmseg.registry import MODELS

    import mmrrsis  # noqa: F401
    for base in ('lavt_swin', 'fianet_swin', 'crobim_swin', 'btdnet_swin'):
        cfg = Config.fromfile(f'configs/_base_/models/{base}.py')
        terms = [MODELS.build(c) for c in cfg.model.decode_head.loss_decode]
        total = sum(t(_logits(P), T) for t in terms)
        want = 0.9 * _hand_ce() + 0.1 * _hand_dice_sum()
        assert total.item() == pytest.approx(want, rel=1e-5), base
