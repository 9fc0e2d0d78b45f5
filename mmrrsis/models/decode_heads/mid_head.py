"""CroBIM's mutual-interaction decoder (MID)."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.masked_attention import MaskedAttention, token_ffn
from .base_referring_head import BaseReferringHead


@MODELS.register_module()
class MIDHead(BaseReferringHead):
    """Mutual-interaction decoder of CroBIM (Dong et al., "Cross-Modal
    Bidirectional Interaction Model for Referring Remote Sensing Image
    Segmentation", arXiv 2410.08613, Sec. "Mutual-Interaction Decoder" and
    the MID box of its Fig. 2 / flowchart).

    1. The selected visual maps (finest first) are merged top-down into one
       map ``V0`` of width ``channels`` at the finest selected scale
       (lateral 1x1 conv, upsample-and-add, 3x3 conv).
    2. ``num_layers`` cascaded bidirectional layers, each:

       * language-to-vision alignment: word tokens query the pixels
         ``T = LN(T + Attn(T, V))``, ``T = LN(T + FFN(T))``;
       * vision-to-language alignment: pixels query the updated words
         (padded words masked) ``V = LN(V + Attn(V, T))``,
         ``V = LN(V + FFN(V))``.
    3. ``V = V + V0`` (the figure's element-wise sum with the input visual
       feature) and the mask is the text-pixel similarity
       (the figure's matrix product): per class k,
       ``logit_k(x) = <W_v V(x), W_k s> / sqrt(C) + b_k`` where ``s`` is an
       attention-pooled sentence vector over the real tokens of ``T``.

    Where the paper is silent (its code is not public), our choices:

    * Post-norm residual layers with GELU FFNs (ratio 4 for words,
      ``pixel_ffn_ratio`` = 2 for pixels, which are ~100x more numerous at
      stride 4); ``channels=256``, 8 heads, 3 layers (the flowchart draws
      about three).
    * Interaction runs at the finest selected scale; choose a coarser one
      with ``in_index`` (e.g. ``[1, 2, 3]`` for stride 8) to save compute.
    * Which text tokens feed the product is not given: a learned
      attention pooling over all real tokens (words and, with CAPM,
      prompts) turns them into one sentence vector per class, which is the
      per-token similarity maps summed with softmax weights.
    * ``num_classes=2`` (softmax CE, as the LAVT/RMSIN lineage) gives two
      class vectors; ``num_classes=1`` with a sigmoid loss gives one.
    * MMSeg's ``conv_seg`` is removed (the classifier is the similarity),
      so DDP sees no unused parameters; ``init_cfg`` defaults to None.

    The head reads only ``img_feats`` and the text's ``feats`` and ``mask``,
    so it also runs on other models' features (LAVT's PWAM outputs,
    FIANet's).

    Args:
        in_channels (list[int]): Channels of the input maps, finest first.
        channels (int): Decoder width C. Defaults to 256.
        text_channels (int): Word feature width Ct (filled in by the
            segmentor when a config leaves it out or sets None).
        num_layers (int): Cascaded bidirectional layers. Defaults to 3.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_ratio (float): Word FFN expansion. Defaults to 4.
        pixel_ffn_ratio (float): Pixel FFN expansion. Defaults to 2.
        attn_dropout (float): Attention dropout. Defaults to 0.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``norm_cfg``, ``align_corners``, ``loss_decode``, ...).

    Shapes:
        inputs['img_feats'][i]: [B, Ci, Hi, Wi]; ``inputs['text']``:
        ``feats`` [B, L, Ct], ``mask`` [B, L]. Returns logits
        [B, num_classes, H0, W0] at the finest selected scale.
    """

    def __init__(self,
                 in_channels: List[int],
                 channels: int = 256,
                 text_channels: Optional[int] = None,
                 num_layers: int = 3,
                 num_heads: int = 8,
                 ffn_ratio: float = 4.0,
                 pixel_ffn_ratio: float = 2.0,
                 attn_dropout: float = 0.0,
                 **kwargs) -> None:
        if text_channels is None:
            raise ValueError('MIDHead needs text_channels (a segmentor '
                             'fills it in from its text encoder).')
        kwargs.setdefault('input_transform', 'multiple_select')
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        kwargs.setdefault('init_cfg', None)
        super().__init__(in_channels=in_channels, channels=channels, **kwargs)
        del self.conv_seg  # the similarity below is the classifier
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg)
        self.laterals = nn.ModuleList(
            ConvModule(c, channels, 1, act_cfg=None, **conv)
            for c in self.in_channels)
        self.fpn_out = ConvModule(
            channels, channels, 3, padding=1, act_cfg=self.act_cfg, **conv)
        self.text_proj = nn.Sequential(
            nn.Linear(text_channels, channels), nn.LayerNorm(channels))
        self.layers = nn.ModuleList()
        for _ in range(num_layers):
            self.layers.append(
                nn.ModuleDict(
                    dict(
                        l2v=MaskedAttention(channels, channels, channels,
                                            num_heads, dropout=attn_dropout),
                        l2v_norm=nn.LayerNorm(channels),
                        text_ffn=token_ffn(channels, ffn_ratio),
                        text_norm=nn.LayerNorm(channels),
                        v2l=MaskedAttention(channels, channels, channels,
                                            num_heads, dropout=attn_dropout),
                        v2l_norm=nn.LayerNorm(channels),
                        pixel_ffn=token_ffn(channels, pixel_ffn_ratio),
                        pixel_norm=nn.LayerNorm(channels))))
        self.pool_score = nn.Linear(channels, 1)
        self.pixel_embed = nn.Conv2d(channels, channels, 1)
        self.class_embed = nn.Linear(channels, self.out_channels * channels)
        self.class_bias = nn.Parameter(torch.zeros(self.out_channels))

    def merge_pyramid(self, feats: List[Tensor]) -> Tensor:
        """Top-down merge of [B, Ci, Hi, Wi] maps -> [B, C, H0, W0]."""
        x = self.laterals[-1](feats[-1])
        for lateral, f in zip(reversed(self.laterals[:-1]),
                              reversed(feats[:-1])):
            x = resize(x, size=f.shape[-2:], mode='bilinear',
                       align_corners=self.align_corners,
                       warning=False) + lateral(f)
        return self.fpn_out(x)

    def interact(self, v: Tensor, t: Tensor,
                 mask: Tensor) -> Tuple[Tensor, Tensor]:
        """The cascaded bidirectional layers on pixel tokens v [B, N, C]
        and word tokens t [B, L, C]."""
        for layer in self.layers:
            t = layer['l2v_norm'](t + layer['l2v'](t, v))
            t = layer['text_norm'](t + layer['text_ffn'](t))
            v = layer['v2l_norm'](v + layer['v2l'](v, t, mask))
            v = layer['pixel_norm'](v + layer['pixel_ffn'](v))
        return v, t

    def forward(self, inputs) -> Tensor:
        feats, text = self.split_inputs(inputs)
        if text is None:
            raise ValueError('MIDHead reads the expression: call it with '
                             'dict(img_feats=..., text=TextFeatures(...))')
        mask = text.mask
        v0 = self.merge_pyramid(feats)
        B, C, H, W = v0.shape
        t = self.text_proj(text.feats)
        v, t = self.interact(v0.flatten(2).transpose(1, 2), t, mask)
        v = v.transpose(1, 2).reshape(B, C, H, W) + v0
        # sentence vector: softmax-weighted sum over the real tokens
        score = self.pool_score(t).squeeze(-1)
        score = score.masked_fill(~mask.bool(), float('-inf'))
        sent = (score.softmax(-1).unsqueeze(-1) * t).sum(1)  # B C
        kernels = self.class_embed(sent).view(B, self.out_channels, C)
        pix = self.pixel_embed(self.dropout(v) if self.dropout else v)
        logits = torch.einsum('bchw,bkc->bkhw', pix, kernels) * C**-0.5
        return logits + self.class_bias.view(1, -1, 1, 1).to(logits.dtype)
