"""CroBIM's language-guided feature aggregation (LGFA)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType
from torch import Tensor

from ..utils.masked_attention import MaskedAttention
from ..utils.text_features import TextFeatures
from .base_text_neck import BaseTextNeck


@MODELS.register_module()
class LGFA(BaseTextNeck):
    """Language-guided feature aggregation with attention deficit
    compensation (CroBIM, Dong et al., arXiv 2410.08613, Sec. "Language-
    Guided Feature Aggregation"; flowchart: "Language-to-Vision
    Interaction" -> "Multi-scale attention fusion" -> "Attention deficit
    compensation").

    A text neck (:class:`BaseTextNeck`), ``neck(feats, text)`` with the
    plain word features, because the multi-scale fusion needs all scales at
    once (a per-stage fusion block only sees its own stage). It reads
    ``text.feats`` and ``text.mask`` and passes the record on unchanged.

    For every scale i (``V_i`` = 1x1 conv + GN of the backbone map):

    1. language-to-vision interaction: pixels attend over the words
       (fused SDPA, padded words masked), ``A_i = Attn(V_i, T)``, and the
       language-guided feature is ``M_i = ConvGN(V_i * A_i)`` (element-wise
       product, as LAVT's PWAM);
    2. multi-scale attention fusion: all ``M_s`` are resized to scale i
       and mixed with per-pixel softmax weights over the scales, predicted
       by a 1x1 conv from their concatenation:
       ``F_i = sum_s w_{i,s} * resize(M_s)``;
    3. attention deficit compensation: a softmax over words must hand all
       of a pixel's attention to some word even when no word describes it,
       so pixels the sentence does not mention get an arbitrary mix of
       words (the "deficit"). The attention gets a learned null key with a
       zero value (per head); the mass ``delta_i`` it absorbs measures how
       little the language explains the pixel, and that share is refilled
       with the pixel's own visual feature after the fusion:
       ``O_i = F_i + delta_i * C_i(V_i)`` (per head: ``delta`` of head h
       scales head h's channel group of the 1x1 projection ``C_i``).
       With ``deficit_compensation=False`` the attention is a plain softmax
       over the words and ``O_i = F_i`` (the ablation).
    4. output ``ConvGNReLU3x3(O_i)``, width ``channels`` at every scale.

    The paper gives no formulas we could read (its full text and code were
    not available): the interpretation of the deficit above, the
    multiplicative language guidance, the per-pixel softmax over scales,
    GroupNorm (batch-size independent, the lineage trains 1-2 images per
    GPU), ``channels=256`` and 8 heads are our choices.

    Args:
        in_channels (list[int]): Channels of the backbone maps, finest
            first.
        text_channels (int): Word feature width (filled in by the segmentor
            when a config leaves it out or sets None).
        channels (int): Output width of every scale. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        deficit_compensation (bool): Null key + visual refill (step 3).
            Defaults to True.
        multi_scale_fusion (bool): Step 2; False keeps each scale on its
            own (``F_i = M_i``). Defaults to True.
        norm_cfg (dict): Norm of the convs. Defaults to GN with 32 groups.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        feats: sequence of [B, Ci, Hi, Wi]; text: ``feats`` [B, L, Ct] and
        ``mask`` [B, L]. Returns ``(maps, text)``, maps a tuple of
        [B, channels, Hi, Wi].
    """

    def __init__(self,
                 in_channels: List[int],
                 text_channels: Optional[int] = None,
                 channels: int = 256,
                 num_heads: int = 8,
                 deficit_compensation: bool = True,
                 multi_scale_fusion: bool = True,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if text_channels is None:
            raise ValueError('LGFA needs text_channels (a segmentor fills '
                             'it in from its text encoder).')
        self.in_channels = list(in_channels)
        self.num_heads = num_heads
        self.deficit_compensation = deficit_compensation
        self.multi_scale_fusion = multi_scale_fusion
        S = len(self.in_channels)
        self.inputs = nn.ModuleList(
            ConvModule(c, channels, 1, norm_cfg=norm_cfg, act_cfg=None)
            for c in self.in_channels)
        self.attn = nn.ModuleList(
            MaskedAttention(channels, text_channels, channels, num_heads,
                            null_slot=deficit_compensation)
            for _ in range(S))
        self.guide = nn.ModuleList(
            ConvModule(channels, channels, 1, norm_cfg=norm_cfg,
                       act_cfg=dict(type='GELU')) for _ in range(S))
        if multi_scale_fusion and S > 1:
            self.scale_weights = nn.ModuleList(
                nn.Conv2d(S * channels, S, 1) for _ in range(S))
        if deficit_compensation:
            self.compensate = nn.ModuleList(
                nn.Conv2d(channels, channels, 1) for _ in range(S))
        self.outputs = nn.ModuleList(
            ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg)
            for _ in range(S))

    def forward(self, feats: Sequence[Tensor], text: TextFeatures
                ) -> Tuple[Tuple[Tensor, ...], TextFeatures]:
        if len(feats) != len(self.in_channels):
            raise ValueError(f'LGFA expects {len(self.in_channels)} maps, '
                             f'got {len(feats)}')
        words, mask = text.feats, text.mask
        visual, guided, deficits = [], [], []
        for i, x in enumerate(feats):
            v = self.inputs[i](x)
            B, C, H, W = v.shape
            tokens = v.flatten(2).transpose(1, 2)  # B N C
            out = self.attn[i](tokens, words, mask)
            if self.deficit_compensation:
                out, delta = out  # delta: B h N 1
                # per-head deficit -> [B, C, H, W] (each head's channels)
                delta = delta.squeeze(-1).repeat_interleave(
                    C // self.num_heads, dim=1).view(B, C, H, W)
                deficits.append(delta)
            lang = out.transpose(1, 2).reshape(B, C, H, W)
            visual.append(v)
            guided.append(self.guide[i](v * lang))
        outs = []
        for i, v in enumerate(visual):
            fused = self._fuse_scales(i, guided)
            if self.deficit_compensation:
                fused = fused + deficits[i] * self.compensate[i](v)
            outs.append(self.outputs[i](fused))
        return tuple(outs), text

    def _fuse_scales(self, i: int, guided: List[Tensor]) -> Tensor:
        """Multi-scale attention fusion at scale i -> [B, C, Hi, Wi]."""
        if not hasattr(self, 'scale_weights'):
            return guided[i]
        size = guided[i].shape[-2:]
        maps = [
            g if g.shape[-2:] == size else resize(
                g, size=size, mode='bilinear', align_corners=False,
                warning=False) for g in guided
        ]
        weights = self.scale_weights[i](torch.cat(maps, 1)).softmax(1)
        return sum(weights[:, s:s + 1] * m for s, m in enumerate(maps))
