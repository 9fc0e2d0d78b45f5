"""Dice loss on the referred object's probability map (and, optionally, on
the background's, as the RMSIN/FIANet loss)."""
from typing import Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ForegroundDiceLoss(nn.Module):
    """Per-expression Dice loss of a binary referring mask.

    Two settings matter in this family of models:

    * **Foreground only, mean over the batch** (the default): the Dice of the
      target class per sample, averaged. MMSeg's ``DiceLoss`` pools every
      class channel together, so on a referring mask (targets often cover a
      few percent of the image) it is dominated by the background.
    * **The RMSIN / FIANet Dice** (``include_background=True,
      reduction='sum', eps=1e-6``): the official ``loss/loss.py`` of both
      repositories one-hot encodes the target, takes the softmax of both
      classes, computes ``1 - (2 * inter + 1e-6) / (sum(p) + sum(t) + 1e-6)``
      per sample **and per class**, and *sums* the ``B x 2`` values. Its
      weight therefore grows with the per-GPU batch (at batch 8 the 0.1
      Dice weight acts as 0.8 on the foreground plus 0.8 on the
      background). The paper configs use this setting.

    Pixels labelled ``ignore_index`` count in neither the prediction nor the
    target sums (the official code has no ignored pixels).

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        eps (float): Smoothing term added to numerator and denominator
            (the official code's ``smooth``). Defaults to 1.0.
        include_background (bool): Also add the Dice of the background
            class (softmax channel 0, or ``1 - sigmoid`` for one-channel
            logits). Defaults to False.
        reduction (str): ``'mean'`` or ``'sum'`` over samples (x classes).
            Defaults to ``'mean'``.
        ignore_index (int): Label ignored. Defaults to 255.
        loss_name (str): Name in the loss dict; must start with ``loss_``.

    Shapes:
        pred: logits [B, 2, H, W] (softmax; channel 1 is the target) or
        [B, 1, H, W] (sigmoid). target: [B, H, W] with values {0, 1, 255}.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 eps: float = 1.0,
                 include_background: bool = False,
                 reduction: str = 'mean',
                 ignore_index: int = 255,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        if reduction not in ('mean', 'sum'):
            raise ValueError(
                f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.loss_weight = loss_weight
        self.eps = eps
        self.include_background = include_background
        self.reduction = reduction
        self.ignore_index = ignore_index
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = None,
                **kwargs) -> Tensor:
        ignore = self.ignore_index if ignore_index is None else ignore_index
        if pred.shape[1] == 1:
            fg = pred[:, 0].sigmoid()
            bg = 1 - fg
        else:
            prob = pred.softmax(dim=1)
            fg, bg = prob[:, 1], prob[:, 0]
        valid = (target != ignore).to(fg.dtype)
        fg_t = (target == 1).to(fg.dtype)
        probs, targets = [fg], [fg_t]
        if self.include_background:
            probs.append(bg)
            targets.append((target == 0).to(fg.dtype))
        # [B, K, N]: K = 1 (target) or 2 (background, target)
        prob = torch.stack(probs[::-1], 1).flatten(2) * valid.flatten(1)[:,
                                                                         None]
        tgt = torch.stack(targets[::-1], 1).flatten(2) * valid.flatten(1)[:,
                                                                          None]
        inter = (prob * tgt).sum(2)
        denom = prob.sum(2) + tgt.sum(2)
        loss = 1 - (2 * inter + self.eps) / (denom + self.eps)
        loss = loss.sum() if self.reduction == 'sum' else loss.mean()
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        return self._loss_name
