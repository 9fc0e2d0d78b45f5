"""FIAM: FIANet's fine-grained image-text alignment module."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.pixel_word_attention import (ImageLanguageAttention, gated,
                                          tanh_gate)
from ..utils.text_features import TextFeatures
from .base_referring_fusion import BaseReferringFusion
from .pwam import PWAM


@MODELS.register_module()
class FIAM(BaseReferringFusion):
    """Fine-grained Image-text Alignment Module (FIANet, Lei et al., TGRS
    2024; official code: ``MMBasicLayer.forward`` and ``OPAB`` in
    ``lib/backbone.py`` of GitHub Shaosifan/FIANet). The paper's method
    section was not available to us: the structure follows the official
    code, which its authors point to as the FIA implementation.

    Used inside each backbone stage after its blocks (early fusion, as
    LAVT's PWAM). With x the stage's visual map, and the context (whole
    sentence), ground-object and spatial-position texts of
    :class:`SplitTextEncoder`:

    1. channel gate ``g = sigmoid(W2 relu(W1 avgpool(x)))``, W1: C -> C/8;
    2. context branch: ``xr = PWAM(x, context)`` (LAVT's pixel-word
       attention, no gate inside), gated ``xr_g = tanh_gate(xr) * xr``;
    3. object branch: ``go = attn(x, object)``, gated
       ``go = tanh_gate(go) * go``;
    4. spatial branch: ``sp = attn(x, spatial)``; its channel mean and max
       (B, 2, H, W) -> 3x3 conv (no bias) -> sigmoid: a spatial map
       ``s`` [B, 1, H, W];
    5. ``stream = x + (xr_g + go * s) * g`` continues through the backbone,
       and ``out = xr`` goes to the neck/decoder (the official code passes
       the context PWAM output on, as LAVT does; the stage norm is applied
       by the stage runner).

    Because only ``xr`` leaves the last stage, everything but the context
    PWAM is idle there (:meth:`stream_only_parameters`; the segmentor
    freezes it). The official ``OPAB.go_embedding`` Linear is never used
    in its forward and is not built here (the converter drops it). The
    paper does not say how the linear layers start: as the official
    ``init_weights``, Linear weights are truncated normal (std 0.02) with
    zero biases, so the gates start open (unlike mmrrsis's PWAM gate).

    Args:
        in_channels (int): Visual channels C.
        text_channels (int): Word feature channels (BERT: 768).
        num_heads (int): Heads of the three attentions (official: 1).
        dropout (float): Dropout inside PWAM (official: 0).
        reduction (int): Channel-gate reduction. Defaults to 8.
        with_spatial (bool): Use the spatial branch; without it the object
            branch enters ungated (``go`` instead of ``go * s``), the
            "without spatial position text" ablation. Defaults to True.
        init_cfg (dict | list[dict], optional): Initialisation config.

    Shapes:
        x: [B, C, H, W]; ``text`` (:class:`TextFeatures` of
        :class:`SplitTextEncoder`) with ``feats``, ``object_feats``,
        ``spatial_feats`` [B, L, Ct] and ``mask``, ``object_mask``,
        ``spatial_mask`` [B, L]. ``forward`` returns ``(stream, out)``,
        [B, C, H, W]; ``fuse`` adds the record, unchanged.
    """

    def __init__(self,
                 in_channels: int,
                 text_channels: int,
                 num_heads: int = 1,
                 dropout: float = 0.0,
                 reduction: int = 8,
                 with_spatial: bool = True,
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='Linear', std=0.02,
                     bias=0.0)) -> None:
        super().__init__(init_cfg=init_cfg)
        C = in_channels
        self.with_spatial = with_spatial
        self.channel_gate = nn.Sequential(
            nn.Linear(C, C // reduction), nn.ReLU(),
            nn.Linear(C // reduction, C), nn.Sigmoid())
        self.context_attn = PWAM(C, text_channels, num_heads=num_heads,
                                 dropout=dropout, with_gate=False)
        self.context_gate = tanh_gate(C)
        self.object_attn = ImageLanguageAttention(
            C, text_channels, num_heads=num_heads)
        self.object_gate = tanh_gate(C)
        if with_spatial:
            self.spatial_attn = ImageLanguageAttention(
                C, text_channels, num_heads=num_heads)
            self.spatial_conv = nn.Conv2d(2, 1, 3, padding=1, bias=False)

    def stream_only_parameters(self) -> List[nn.Parameter]:
        """Everything but the context PWAM only shapes ``stream``."""
        keep = {id(p) for p in self.context_attn.parameters()}
        return [p for p in self.parameters() if id(p) not in keep]

    def spatial_map(self, flat: Tensor, text: TextFeatures,
                    hw: Tuple[int, int]) -> Tensor:
        """Spatial-position map [B, 1, N] from the spatial text."""
        sp = self.spatial_attn(flat, text.spatial_feats,
                               text.spatial_mask)  # B C N
        sp = sp.view(*sp.shape[:2], *hw)
        pooled = torch.cat([sp.mean(1, keepdim=True),
                            sp.amax(1, keepdim=True)], dim=1)
        return torch.sigmoid(self.spatial_conv(pooled)).flatten(2)

    def fuse(self, x: Tensor,
             text: TextFeatures) -> Tuple[Tensor, Tensor, TextFeatures]:
        """Reads the object and spatial texts too; the record passes on."""
        stream, out = self(x, text)
        return stream, out, text

    def forward(self, x: Tensor,
                text: TextFeatures) -> Tuple[Tensor, Tensor]:
        B, C, H, W = x.shape
        flat = x.flatten(2)  # B C N
        g = self.channel_gate(flat.mean(2)).unsqueeze(2)  # B C 1
        if text.object_feats is None:
            raise ValueError('FIAM reads the ground-object and spatial '
                             'texts: use the SplitTextEncoder.')
        _, xr = self.context_attn(x, text.feats, text.mask)
        xr = xr.flatten(2)
        go = self.object_attn(flat, text.object_feats, text.object_mask)
        go = gated(self.object_gate, go)
        if self.with_spatial:
            go = go * self.spatial_map(flat, text, (H, W))
        stream = flat + (gated(self.context_gate, xr) + go) * g
        return stream.view(B, C, H, W), xr.view(B, C, H, W)
