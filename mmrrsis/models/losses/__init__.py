from .foreground_dice_loss import ForegroundDiceLoss
from .weighted_ce_loss import WeightedCrossEntropyLoss

__all__ = ['ForegroundDiceLoss', 'WeightedCrossEntropyLoss']
