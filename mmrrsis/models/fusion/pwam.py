"""PWAM: pixel-word attention module with the language gate (LAVT)."""
from typing import List, Optional, Tuple

import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.pixel_word_attention import (attend_to_words,
                                          build_attention_projections, gated,
                                          tanh_gate)
from .base_referring_fusion import BaseReferringFusion


@MODELS.register_module()
class PWAM(BaseReferringFusion):
    """Pixel-Word Attention Module with the Language Gate.

    Yang et al., "LAVT: Language-Aware Vision Transformer for Referring
    Image Segmentation", CVPR 2022 (official code: GitHub yz93/LAVT-RIS).
    Used inside each backbone stage, after its blocks and before its
    down-sampling (early fusion):

    1. every pixel attends over the words (scaled dot product, padded words
       masked, one or more heads); queries are instance-normalised visual
       projections, keys/values are 1x1 projections of the word features;
    2. the attended language feature is instance-normalised and multiplied
       element-wise with a GELU projection of the visual feature, then
       projected again: this is the multimodal feature ``out``;
    3. the language gate (Linear-ReLU-Linear-Tanh over channels) scales
       ``out`` before it is added back to the visual stream:
       ``stream = x + gate(out) * out``. Its initialisation
       (``gate_init``): ``'official'`` (default) is what LAVT's model
       really starts from: its ``__init__`` zeroes both Linears, but its
       backbone ``init_weights`` then re-initialises every ``nn.Linear``
       with trunc_normal(std=0.02), so the gate starts small but open.
       ``'zero'`` zeroes only the last Linear: the gate starts closed
       (``stream == x``) and still receives gradients (zeroing both for real
       would leave the gate's gradients identically zero, closed forever);
       the CPU demo configs use it.

    ``out`` (what LAVT normalises and passes to its decoder) and ``stream``
    (what continues through the backbone) are both returned.

    Args:
        in_channels (int): Visual channels C.
        text_channels (int): Word feature channels Ct.
        key_channels (int, optional): Attention width; defaults to C.
        value_channels (int, optional): Value width; defaults to C (must
            equal C for the product with the visual projection).
        num_heads (int): Attention heads. LAVT uses 1. Defaults to 1.
        dropout (float): Dropout after the projections. Defaults to 0.
        with_gate (bool): Use the language gate; without it
            ``stream = x + out``. Defaults to True.
        gate_init (str): ``'official'`` (trunc_normal std 0.02 on both gate
            Linears, as LAVT's model starts) or ``'zero'`` (closed gate).
            Defaults to ``'official'``.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        x: [B, C, H, W]; text_feats: [B, L, Ct]; text_mask: [B, L] with 1
        for real tokens. Returns ``(stream, out)``, both [B, C, H, W]. The
        segmentor calls :meth:`~BaseReferringFusion.fuse` (``text.feats``,
        ``text.mask``; the record passes on unchanged).
    """

    def __init__(self,
                 in_channels: int,
                 text_channels: int,
                 key_channels: Optional[int] = None,
                 value_channels: Optional[int] = None,
                 num_heads: int = 1,
                 dropout: float = 0.0,
                 with_gate: bool = True,
                 gate_init: str = 'official',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if gate_init not in ('official', 'zero'):
            raise ValueError(f"gate_init must be 'official' or 'zero', got "
                             f'{gate_init!r}')
        self.gate_init = gate_init
        key_channels = key_channels or in_channels
        value_channels = value_channels or in_channels
        if value_channels != in_channels:
            raise ValueError(
                'PWAM multiplies the attended language with the visual '
                'projection: value_channels must equal in_channels '
                f'({value_channels} != {in_channels})')
        if key_channels % num_heads:
            raise ValueError(f'key_channels={key_channels} is not divisible '
                             f'by num_heads={num_heads}')
        self.num_heads = num_heads
        self.key_channels = key_channels
        self.vis_project = nn.Sequential(
            nn.Conv1d(in_channels, in_channels, 1), nn.GELU(),
            nn.Dropout(dropout))
        build_attention_projections(self, in_channels, text_channels,
                                    key_channels, value_channels)
        self.project_mm = nn.Sequential(
            nn.Conv1d(value_channels, value_channels, 1), nn.GELU(),
            nn.Dropout(dropout))
        self.with_gate = with_gate
        if with_gate:
            self.gate = tanh_gate(in_channels)

    def init_weights(self) -> None:
        super().init_weights()
        if not self.with_gate:
            return
        if self.gate_init == 'zero':
            # closed at init (stream == x) yet trainable: zeroing gate[0]
            # too would make both gate gradients identically zero
            nn.init.zeros_(self.gate[2].weight)
        else:
            for layer in (self.gate[0], self.gate[2]):
                nn.init.trunc_normal_(layer.weight, std=0.02)

    def stream_only_parameters(self) -> List[nn.Parameter]:
        """Parameters that only shape ``stream`` (the gate): idle when the
        stream is discarded, as after a backbone's last stage."""
        return list(self.gate.parameters()) if self.with_gate else []

    def attend(self, x: Tensor, text_feats: Tensor,
               text_mask: Tensor) -> Tensor:
        """Pixel-word attention (:func:`~mmrrsis.models.utils.
        pixel_word_attention.attend_to_words`): x [B, C, N],
        text_feats [B, L, Ct], text_mask [B, L] -> [B, C, N]."""
        return attend_to_words(self, x, text_feats, text_mask)

    def forward(self, x: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> Tuple[Tensor, Tensor]:
        B, C, H, W = x.shape
        flat = x.flatten(2)  # B C N
        vis = self.vis_project(flat)
        lang = self.attend(flat, text_feats, text_mask)
        out = self.project_mm(vis * lang)  # B C N
        stream = flat + (gated(self.gate, out) if self.with_gate else out)
        return stream.view(B, C, H, W), out.view(B, C, H, W)
