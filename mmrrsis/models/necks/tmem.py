"""TMEM: FIANet's text-aware multi-scale enhancement module."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.pixel_word_attention import ImageLanguageAttention
from ..utils.text_features import TextFeatures
from .base_text_neck import BaseTextNeck


class TMEMBlock(nn.Module):
    """One text-aware block on the pooled multi-scale tokens: pre-norm
    pixel-word cross-attention to the sentence, then a pre-norm GELU FFN
    (hidden ``mlp_ratio * C``), both residual.

    Shapes: x [B, C, H, W]; text_feats [B, L, Ct]; text_mask [B, L] ->
    [B, C, H, W].
    """

    def __init__(self, channels: int, text_channels: int,
                 mlp_ratio: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attn = ImageLanguageAttention(channels, text_channels)
        self.norm2 = nn.LayerNorm(channels)
        self.ffn = nn.Sequential(
            nn.Linear(channels, mlp_ratio * channels), nn.GELU(),
            nn.Dropout(dropout), nn.Linear(mlp_ratio * channels, channels),
            nn.Dropout(dropout))

    def forward(self, x: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> Tensor:
        B, C, H, W = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # B N C
        att = self.attn(self.norm1(tokens).transpose(1, 2), text_feats,
                        text_mask)  # B C N
        tokens = tokens + att.transpose(1, 2)
        tokens = tokens + self.ffn(self.norm2(tokens))
        return tokens.transpose(1, 2).reshape(B, C, H, W)


class ScaleAwareGate(nn.Module):
    """Gate of one scale by the text-aware global feature.

    ``out = BN(conv(x_l)) * up(hsigmoid(BN(conv(x_g)))) + up(BN(conv(x_g)))``
    with 1x1 convs and bilinear upsampling (align_corners=False) of the
    global feature to the local size. No identity path: the output
    replaces the stage feature.

    Shapes: x_l [B, C, H, W]; x_g [B, C, h, w] -> [B, C, H, W].
    """

    def __init__(self, channels: int, norm_cfg: dict) -> None:
        super().__init__()
        self.local_embedding = nn.Conv2d(channels, channels, 1)
        self.bn1 = build_norm_layer(norm_cfg, channels)[1]
        self.global_embedding = nn.Conv2d(channels, channels, 1)
        self.bn2 = build_norm_layer(norm_cfg, channels)[1]
        self.global_act = nn.Conv2d(channels, channels, 1)
        self.bn3 = build_norm_layer(norm_cfg, channels)[1]

    def forward(self, x_l: Tensor, x_g: Tensor) -> Tensor:
        size = x_l.shape[-2:]
        local = self.bn1(self.local_embedding(x_l))
        glob = F.interpolate(self.bn2(self.global_embedding(x_g)), size=size,
                             mode='bilinear', align_corners=False)
        act = F.interpolate(F.hardsigmoid(self.bn3(self.global_act(x_g))),
                            size=size, mode='bilinear', align_corners=False)
        return local * act + glob


@MODELS.register_module()
class TMEM(BaseTextNeck):
    """Text-aware Multi-scale Enhancement Module (FIANet, Lei et al., TGRS
    2024; official code: ``lib/text_aware_multiscale_enhancement.py`` of
    GitHub Shaosifan/FIANet), a text neck (:class:`BaseTextNeck`; the
    record passes on unchanged). The structure follows the
    official code (the paper's method section was not available to us).

    1. Every stage output is average-pooled to the coarsest grid
       (``downsample`` further divides it; official: 1) and the maps are
       concatenated: [B, sum(Ci), h, w];
    2. a 1x1 conv reduces the channels to ``sum(Ci) // 4``;
    3. ``num_blocks`` :class:`TMEMBlock` (cross-attention to the whole
       sentence + FFN) mix the scales with the text;
    4. norm (BN), 1x1 conv back to ``sum(Ci)``, split per scale;
    5. per scale a :class:`ScaleAwareGate` combines the stage output
       (local) with its slice (global).

    FIANet uses 1 block on RefSegRS and 3 on RRSIS-D. Only the context
    text (the whole sentence) is used, as in the official code.

    Args:
        in_channels (list[int]): Channels of the stage outputs.
        text_channels (int): Word feature channels.
        num_blocks (int): TMEM blocks. Defaults to 1.
        mlp_ratio (int): FFN expansion. Defaults to 2.
        downsample (int): Extra stride of the pooled grid. Defaults to 1.
        norm_cfg (dict): Norm of the gates and after the blocks (official:
            BatchNorm). Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): Initialisation config. As the official
            ``init_weights`` (which reaches TMEM through the backbone):
            truncated-normal Linear weights (std 0.02), zero biases.

    Shapes:
        feats: list of [B, Ci, Hi, Wi]; ``text`` with ``feats`` [B, L, Ct]
        and ``mask`` [B, L]. Returns ``(maps, text)``, maps a list of
        [B, Ci, Hi, Wi].
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 text_channels: int,
                 num_blocks: int = 1,
                 mlp_ratio: int = 2,
                 downsample: int = 1,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='Linear', std=0.02,
                     bias=0.0)) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        total = sum(self.in_channels)
        hidden = total // 4
        self.downsample = downsample
        self.down_channel = nn.Conv2d(total, hidden, 1)
        self.blocks = nn.ModuleList([
            TMEMBlock(hidden, text_channels, mlp_ratio)
            for _ in range(num_blocks)
        ])
        self.norm = build_norm_layer(norm_cfg, hidden)[1]
        self.up_channel = nn.Conv2d(hidden, total, 1)
        self.gates = nn.ModuleList(
            [ScaleAwareGate(c, norm_cfg) for c in self.in_channels])

    def pool(self, feats: Sequence[Tensor]) -> Tensor:
        """Pool every map to the coarsest grid and concatenate them."""
        H, W = feats[-1].shape[-2:]
        size = ((H - 1) // self.downsample + 1, (W - 1) // self.downsample + 1)
        return torch.cat([F.adaptive_avg_pool2d(f, size) for f in feats], 1)

    def forward(self, feats: Sequence[Tensor],
                text: TextFeatures) -> Tuple[List[Tensor], TextFeatures]:
        if len(feats) != len(self.in_channels):
            raise ValueError(f'TMEM expects {len(self.in_channels)} maps, '
                             f'got {len(feats)}')
        x = self.down_channel(self.pool(feats))
        for block in self.blocks:
            x = block(x, text.feats, text.mask)
        x = self.up_channel(self.norm(x))
        glob = x.split(self.in_channels, dim=1)
        return [gate(f, g)
                for gate, f, g in zip(self.gates, feats, glob)], text
