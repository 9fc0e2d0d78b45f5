"""MMPretrain's ConvNeXt with a language block after every stage."""
from typing import List

from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import ConvNeXt
from mmseg.registry import MODELS
from torch import Tensor

from .base_language_aware import BaseLanguageAwareBackbone, FuseFn


@MODELS.register_module()
class LanguageAwareConvNeXt(ConvNeXt, BaseLanguageAwareBackbone):
    """MMPretrain's ``ConvNeXt`` (Liu et al., CVPR 2022) with the fusion
    block of stage i after the stage's blocks and before its output norm
    ``norm{i}`` (the fusion's ``out`` is normed, as in
    :class:`LanguageAwareSwin`; its ``stream`` feeds the next downsampling
    layer). CroBIM's ConvNeXt variant (configs/crobim_convnextb.py) uses the
    plain ``mmpretrain.ConvNeXt``; its with-PWAM ablation would use this.

    Same arguments, parameter names and checkpoints as MMPretrain's
    ``ConvNeXt`` (built in the ``mmpretrain`` scope, so its ``LN2d`` norms
    resolve); ``gap_before_final_norm`` must be False for segmentation
    (checked at build time). ``forward(img)`` is MMPretrain's.

    Shapes:
        ``forward_with_fusion(img [B, 3, H, W], fuse)`` -> list of
        [B, C_i, H / 2^(i+2), W / 2^(i+2)] for ``i in out_indices``.
    """

    def __init__(self, *args, **kwargs) -> None:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(*args, **kwargs)
        if self.gap_before_final_norm:
            raise ValueError('LanguageAwareConvNeXt needs '
                             'gap_before_final_norm=False (segmentation).')

    def forward_with_fusion(self, img: Tensor, fuse: FuseFn) -> List[Tensor]:
        # also run on plain MMPretrain ConvNeXts (stage_runner.py)
        if self.gap_before_final_norm:
            raise ValueError('ConvNeXt must be built with '
                             'gap_before_final_norm=False for segmentation.')
        x = img
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(self.downsample_layers[i](x))
            x, out = fuse(i, x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(out))
        return outs
