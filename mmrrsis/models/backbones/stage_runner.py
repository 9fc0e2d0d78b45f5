"""Early fusion on backbones that do not name themselves language-aware.

Configs name a language-aware backbone (``LanguageAwareSwin``,
``LanguageAwareResNet``, ``LanguageAwareConvNeXt``, or any backbone with a
``forward_with_fusion(img, fuse)`` method, see
:class:`~mmrrsis.models.backbones.BaseLanguageAwareBackbone`). For configs
written before those existed, a plain MMSeg ``SwinTransformer`` / ``ResNet``
(and subclasses: ``ResNetV1c``, ``PretrainedSwinTransformer``...) or
MMPretrain ``ConvNeXt`` instance is driven by the language-aware subclass's
stage loop (same parameters, same outputs): :func:`run_with_fusion`.
"""
from typing import Callable, List, Optional

import torch.nn as nn
from mmseg.models.backbones import ResNet, SwinTransformer
from torch import Tensor

from .base_language_aware import FuseFn
from .language_aware_resnet import LanguageAwareResNet
from .language_aware_swin import LanguageAwareSwin

RunFn = Callable[[Tensor, FuseFn], List[Tensor]]


def _plain_backbones() -> list:
    pairs = [(SwinTransformer, LanguageAwareSwin),
             (ResNet, LanguageAwareResNet)]
    try:
        from mmpretrain.models.backbones import ConvNeXt

        from .language_aware_convnext import LanguageAwareConvNeXt
        pairs.append((ConvNeXt, LanguageAwareConvNeXt))
    except ImportError:  # mmpretrain not installed
        pass
    return pairs


def fusion_runner(backbone: nn.Module) -> Optional[RunFn]:
    """``backbone.forward_with_fusion``, or for a plain MMSeg Swin / ResNet
    or MMPretrain ConvNeXt the stage loop of its language-aware subclass;
    None when the backbone cannot take fusion blocks inside its stages."""
    if hasattr(backbone, 'forward_with_fusion'):
        return backbone.forward_with_fusion
    for plain, aware in _plain_backbones():
        if isinstance(backbone, plain):
            return lambda img, fuse: aware.forward_with_fusion(
                backbone, img, fuse)
    return None


def supports_early_fusion(backbone: nn.Module) -> bool:
    """Whether :func:`run_with_fusion` can drive this backbone."""
    return fusion_runner(backbone) is not None


def early_fusion_error(backbone: nn.Module) -> TypeError:
    """The error for a backbone that cannot take early fusion."""
    return TypeError(
        f'Early fusion cannot drive {type(backbone).__name__}: name a '
        'language-aware backbone (LanguageAwareSwin, LanguageAwareResNet, '
        'LanguageAwareConvNeXt, or one with forward_with_fusion(img, fuse)) '
        "or use fusion_mode='late' to fuse after the backbone instead.")


def run_with_fusion(backbone: nn.Module, img: Tensor,
                    fuse: FuseFn) -> List[Tensor]:
    """Forward ``img`` [B, 3, H, W] through ``backbone``, calling ``fuse``
    inside every stage. Returns the backbone's multi-scale outputs."""
    runner = fusion_runner(backbone)
    if runner is None:
        raise early_fusion_error(backbone)
    return list(runner(img, fuse))
