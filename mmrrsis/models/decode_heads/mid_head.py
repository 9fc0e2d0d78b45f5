"""CroBIM's mutual-interaction decoder (MID)."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from .base_referring_head import BaseReferringHead


def token_ffn(dim: int, ratio: float, dropout: float = 0.0) -> nn.Sequential:
    """Position-wise feed-forward block ``Linear-GELU-Dropout-Linear`` on
    [B, N, dim] tokens (the residual and norm are the caller's)."""
    hidden = int(dim * ratio)
    return nn.Sequential(
        nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
        nn.Linear(hidden, dim))


class MaskedAttention(nn.Module):
    """Multi-head attention on token sequences through PyTorch's fused
    ``F.scaled_dot_product_attention`` (flash / memory-efficient kernels
    where the device has them; bf16/fp16 under autocast).

    Shared by CroBIM's CAPM, LGFA and MID. Keys may be padded word tokens:
    ``key_mask`` (1/True = real token) is turned into a boolean SDPA mask,
    so padded words receive no attention and cannot change the output.

    With ``null_slot=True`` every query may also attend to one learned
    "null" key per head whose value is zero; the attention mass that lands
    on it (the part of the softmax that no word explains) is returned as
    the *attention deficit* ``[B, heads, Nq, 1]`` (used by LGFA). It is read
    from the same fused call by appending an indicator channel to the
    values (1 for the null slot, 0 for the words).

    Args:
        query_dim (int): Query token width.
        key_dim (int): Key/value token width.
        embed_dim (int): Attention width (split over the heads).
        num_heads (int): Heads; must divide ``embed_dim``.
        out_dim (int, optional): Output width; defaults to ``query_dim``.
        dropout (float): Attention dropout (training only).
        null_slot (bool): Add the learned null key. Defaults to False.

    Shapes:
        query [B, Nq, query_dim], key [B, Nk, key_dim], key_mask [B, Nk]
        -> [B, Nq, out_dim] (and the deficit [B, heads, Nq, 1] when
        ``null_slot``).
    """

    def __init__(self,
                 query_dim: int,
                 key_dim: int,
                 embed_dim: int,
                 num_heads: int,
                 out_dim: Optional[int] = None,
                 dropout: float = 0.0,
                 null_slot: bool = False) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f'embed_dim={embed_dim} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(query_dim, embed_dim)
        self.k_proj = nn.Linear(key_dim, embed_dim)
        self.v_proj = nn.Linear(key_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, out_dim or query_dim)
        self.null_slot = null_slot
        if null_slot:
            self.null_key = nn.Parameter(
                torch.zeros(num_heads, 1, embed_dim // num_heads))

    def _heads(self, x: Tensor) -> Tensor:
        B, N, _ = x.shape
        return x.view(B, N, self.num_heads, -1).transpose(1, 2)

    def forward(self,
                query: Tensor,
                key: Tensor,
                key_mask: Optional[Tensor] = None):
        B, Nq, _ = query.shape
        q = self._heads(self.q_proj(query))  # B h Nq d
        k = self._heads(self.k_proj(key))  # B h Nk d
        v = self._heads(self.v_proj(key))
        mask = None
        if key_mask is not None:
            mask = key_mask.bool()[:, None, None, :]  # B 1 1 Nk
        if self.null_slot:
            d = v.shape[-1]
            null_k = self.null_key.to(k.dtype).expand(B, -1, -1, -1)
            k = torch.cat([null_k, k], dim=2)
            # values: [0 | 1] for the null slot, [v | 0] for the words
            null_v = v.new_zeros(B, self.num_heads, 1, d + 1)
            null_v[..., -1] = 1
            v = torch.cat([null_v, F.pad(v, (0, 1))], dim=2)
            if mask is not None:
                mask = torch.cat([mask.new_ones(B, 1, 1, 1), mask], dim=-1)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0)
        deficit = None
        if self.null_slot:
            out, deficit = out[..., :-1], out[..., -1:]
        out = self.out_proj(out.transpose(1, 2).reshape(B, Nq, -1))
        return (out, deficit) if self.null_slot else out


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

    The head needs only ``img_feats``, ``text_feats`` and ``text_mask``, so
    it also runs on other models' features (LAVT's PWAM outputs, FIANet's).

    Args:
        in_channels (list[int]): Channels of the input maps, finest first.
        channels (int): Decoder width C. Defaults to 256.
        text_channels (int): Word feature width Ct (filled in by the
            segmentor when None in a config).
        num_layers (int): Cascaded bidirectional layers. Defaults to 3.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_ratio (float): Word FFN expansion. Defaults to 4.
        pixel_ffn_ratio (float): Pixel FFN expansion. Defaults to 2.
        attn_dropout (float): Attention dropout. Defaults to 0.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``norm_cfg``, ``align_corners``, ``loss_decode``, ...).

    Shapes:
        inputs['img_feats'][i]: [B, Ci, Hi, Wi]; ``text_feats`` [B, L, Ct];
        ``text_mask`` [B, L]. Returns logits [B, num_classes, H0, W0] at the
        finest selected scale.
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
            raise ValueError('MIDHead needs text_channels (set it, or leave '
                             'text_channels=None in a segmentor config to '
                             'have the text encoder width filled in).')
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
        if 'text_feats' not in text:
            raise ValueError('MIDHead reads the expression: call it with '
                             "dict(img_feats=..., text_feats=..., "
                             'text_mask=...)')
        mask = text['text_mask']
        v0 = self.merge_pyramid(feats)
        B, C, H, W = v0.shape
        t = self.text_proj(text['text_feats'])
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
