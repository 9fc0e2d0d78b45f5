"""MMSeg's Swin Transformer with a language block inside every stage."""
from typing import List

from mmseg.registry import MODELS
from torch import Tensor

from ..fusion.base_referring_fusion import fusion_checkpointing
from .base_language_aware import (BaseLanguageAwareBackbone, FuseFn,
                                  tokens_to_map)
from .pretrained_swin import PretrainedSwinTransformer


@MODELS.register_module()
class LanguageAwareSwin(PretrainedSwinTransformer, BaseLanguageAwareBackbone):
    """Swin Transformer (Liu et al., ICCV 2021) as LAVT's language-aware
    visual encoder (Yang et al., CVPR 2022, Sec. 3.2): the fusion block of
    stage i runs after the stage's Swin blocks and before its patch merging.
    The fusion's ``out`` goes through the stage's output norm ``norm{i}``
    (as LAVT normalises the PWAM output it passes to the decoder), its
    ``stream`` continues to the patch merging.

    A :class:`PretrainedSwinTransformer` (MMSeg's ``SwinTransformer`` whose
    pretrained weights load completely or raise): same arguments, parameter
    names and checkpoints; ``forward(img)`` is MMSeg's.

    ``with_cp=True`` (MMSeg's switch) checkpoints the activations of every
    Swin block and of every fusion block (``fuse`` runs inside
    :func:`~mmrrsis.models.fusion.base_referring_fusion.fusion_checkpointing`)
    in training: less memory, one more forward of each in backward.

    Shapes:
        ``forward_with_fusion(img [B, 3, H, W], fuse)`` -> list of
        [B, C_i, H / (4 * 2^i), W / (4 * 2^i)] for ``i in out_indices``.
    """

    def forward_with_fusion(self, img: Tensor, fuse: FuseFn) -> List[Tensor]:
        x, hw = self.patch_embed(img)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            for block in stage.blocks:
                x = block(x, hw)
            with fusion_checkpointing(getattr(self, 'with_cp', False)):
                stream, out = fuse(i, tokens_to_map(x, hw))
            x = stream.flatten(2).transpose(1, 2)
            if i in self.out_indices:
                out = out.flatten(2).transpose(1, 2)
                out = getattr(self, f'norm{i}')(out)
                outs.append(tokens_to_map(out, hw).contiguous())
            if stage.downsample is not None:
                x, hw = stage.downsample(x, hw)
        return outs
