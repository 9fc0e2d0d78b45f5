"""Class-weighted cross-entropy that accepts ignored pixels."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class WeightedCrossEntropyLoss(nn.Module):
    """Softmax cross-entropy with class weights, PyTorch's weighted mean.

    This is the CE half of the LAVT / RMSIN / FIANet loss
    (``torch.nn.CrossEntropyLoss(weight=[0.9, 1.1])`` in their
    ``loss/loss.py`` / ``train.py``): the sum of ``w[y] * ce`` over pixels
    divided by the sum of ``w[y]``, with ignored pixels in neither sum.

    Why not MMSeg's ``CrossEntropyLoss(class_weight=...)``: it computes the
    same value, but builds its normaliser by indexing the class weights with
    the raw labels (``mmseg/models/losses/cross_entropy_loss.py`` in 1.2.2),
    so one pixel labelled ``ignore_index`` (255, e.g. from padding or a
    crop) raises an IndexError on the CPU and a device-side assert on CUDA.

    Args:
        class_weight (Sequence[float], optional): Weight per class
            (``[0.9, 1.1]`` in the official code). None: unweighted.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        ignore_index (int): Label ignored. Defaults to 255.
        loss_name (str): Name in the loss dict. Defaults to ``'loss_ce'``.

    Shapes:
        pred: logits [B, K, H, W]; target: [B, H, W] (long).
    """

    def __init__(self,
                 class_weight: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__()
        self.class_weight = (None if class_weight is None else
                             [float(w) for w in class_weight])
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = None,
                **kwargs) -> Tensor:
        ignore = self.ignore_index if ignore_index is None else ignore_index
        cw = None
        if self.class_weight is not None:
            cw = torch.tensor(self.class_weight, dtype=pred.dtype,
                              device=pred.device)
        if not (target != ignore).any():
            # every pixel ignored: PyTorch's weighted mean would be 0 / 0
            return pred.sum() * 0
        loss = F.cross_entropy(pred, target.long(), weight=cw,
                               ignore_index=ignore, reduction='mean')
        return self.loss_weight * loss

    @property
    def loss_name(self) -> str:
        return self._loss_name
