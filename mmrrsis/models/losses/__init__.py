from .foreground_dice_loss import ForegroundDiceLoss

__all__ = ['ForegroundDiceLoss']
