"""Dice loss on the referred object's probability map."""
from typing import Optional

import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ForegroundDiceLoss(nn.Module):
    """Dice loss of the target class, per expression, averaged over the batch.

    RMSIN (and FIANet after it) train with ``0.9 * CE + 0.1 * Dice`` where
    the Dice term is computed on the foreground probability of each sample.
    MMSeg's ``DiceLoss`` flattens all class channels together, so on a
    binary referring mask (targets often cover a few percent of the image)
    its value is dominated by the background and barely pushes the target.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        eps (float): Smoothing term added to numerator and denominator.
            Defaults to 1.0.
        ignore_index (int): Label ignored. Defaults to 255.
        loss_name (str): Name in the loss dict; must start with ``loss_``.

    Shapes:
        pred: logits [B, 2, H, W] (softmax; channel 1 is the target) or
        [B, 1, H, W] (sigmoid). target: [B, H, W] with values {0, 1, 255}.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 eps: float = 1.0,
                 ignore_index: int = 255,
                 loss_name: str = 'loss_dice') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps
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
            prob = pred[:, 0].sigmoid()
        else:
            prob = pred.softmax(dim=1)[:, 1]
        valid = (target != ignore).to(prob.dtype)
        tgt = (target == 1).to(prob.dtype)
        prob = (prob * valid).flatten(1)
        tgt = (tgt * valid).flatten(1)
        inter = (prob * tgt).sum(1)
        denom = prob.sum(1) + tgt.sum(1)
        loss = 1 - (2 * inter + self.eps) / (denom + self.eps)
        return self.loss_weight * loss.mean()

    @property
    def loss_name(self) -> str:
        return self._loss_name
