"""MMSeg's ResNet with a language block after every residual stage."""
from typing import List

from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS
from torch import Tensor

from .base_language_aware import BaseLanguageAwareBackbone, FuseFn


@MODELS.register_module()
class LanguageAwareResNet(ResNet, BaseLanguageAwareBackbone):
    """MMSeg's ``ResNet`` (He et al., CVPR 2016) with the fusion block of
    stage i after residual layer i. LAVT fuses after Swin stages; a ResNet
    has no stage norm, so the fusion's ``out`` is the stage output as it is
    and its ``stream`` feeds the next residual layer.

    Same arguments, parameter names and checkpoints as MMSeg's ``ResNet``
    (``deep_stem=True`` is ``ResNetV1c``; with ``avg_down=True``,
    ``ResNetV1d``); ``forward(img)`` is MMSeg's. The CPU demo configs use a
    half-width ResNet-18 (see ``configs/lavt_tiny_synthetic.py``).

    Shapes:
        ``forward_with_fusion(img [B, 3, H, W], fuse)`` -> list of
        [B, C_i, H / 2^(i+2), W / 2^(i+2)] for ``i in out_indices``.
    """

    def forward_with_fusion(self, img: Tensor, fuse: FuseFn) -> List[Tensor]:
        if self.deep_stem:
            x = self.stem(img)
        else:
            x = self.relu(self.norm1(self.conv1(img)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            x, out = fuse(i, x)
            if i in self.out_indices:
                outs.append(out)
        return outs
