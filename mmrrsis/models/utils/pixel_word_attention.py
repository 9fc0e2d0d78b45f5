"""LAVT's pixel-word attention and language gate, shared by PWAM, FIAM, BSC
and TMEM.

Yang et al., "LAVT: Language-Aware Vision Transformer for Referring Image
Segmentation", CVPR 2022 (official code: GitHub yz93/LAVT-RIS), Sec. 3.2
("spatial image-language attention" and the "language gate").
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def build_attention_projections(module: nn.Module, in_channels: int,
                                text_channels: int, key_channels: int,
                                value_channels: int) -> None:
    """Give ``module`` the projections of LAVT's pixel-word attention
    (``f_query``, ``f_key``, ``f_value``, ``W``; names as in LAVT, so
    checkpoints map one to one) that :func:`attend_to_words` uses.

    ``module`` must also carry ``num_heads`` and ``key_channels``."""
    module.f_query = nn.Sequential(
        nn.Conv1d(in_channels, key_channels, 1),
        nn.InstanceNorm1d(key_channels))
    module.f_key = nn.Conv1d(text_channels, key_channels, 1)
    module.f_value = nn.Conv1d(text_channels, value_channels, 1)
    module.W = nn.Sequential(
        nn.Conv1d(value_channels, value_channels, 1),
        nn.InstanceNorm1d(value_channels))


def attend_to_words(module: nn.Module, x: Tensor, text_feats: Tensor,
                    text_mask: Tensor) -> Tensor:
    """Every pixel attends over the words with ``module``'s projections
    (:func:`build_attention_projections`).

    Queries: 1x1 conv + InstanceNorm of the pixels; keys and values: 1x1
    convs of the words, zeroed on padded words; logits scaled by
    ``key_channels ** -0.5`` (the full key width, not the per-head width,
    as in LAVT), -1e4 on padded words; output: 1x1 conv + InstanceNorm.

    Args:
        module (nn.Module): Holder of ``f_query``, ``f_key``, ``f_value``,
            ``W``, ``num_heads`` and ``key_channels``.
        x (Tensor): [B, C, N] visual tokens (N = H * W).
        text_feats (Tensor): [B, L, Ct]. text_mask (Tensor): [B, L], 1 for
            real tokens.

    Returns:
        Tensor: [B, value_channels, N], the language gathered per pixel.
    """
    B, _, N = x.shape
    h = module.num_heads
    mask = text_mask.to(x.dtype).unsqueeze(1)  # B 1 L
    lang = text_feats.transpose(1, 2)  # B Ct L
    query = module.f_query(x)  # B K N
    key = module.f_key(lang) * mask  # B K L
    value = module.f_value(lang) * mask  # B V L
    q = query.reshape(B, h, -1, N).transpose(2, 3)  # B h N K/h
    k = key.reshape(B, h, -1, key.shape[-1]).transpose(2, 3)  # B h L K/h
    v = value.reshape(B, h, -1, value.shape[-1]).transpose(2, 3)
    bias = (mask.unsqueeze(1) - 1.0) * 1e4  # B 1 1 L
    if torch.is_autocast_enabled(q.device.type):
        # The queries leave InstanceNorm (an autocast float32 op) in
        # float32 and would pull the attention into float32; and with the
        # channels not contiguous the CPU falls back to the math kernel,
        # which computes bf16 in float32 too. Run it in the autocast dtype
        # like the projections, through the fused kernel (its softmax
        # accumulates in float32).
        dtype = torch.get_autocast_dtype(q.device.type)
        q, k, v = (t.to(dtype).contiguous() for t in (q, k, v))
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias.to(q.dtype),
        scale=module.key_channels**-0.5)  # B h N V/h
    out = out.transpose(2, 3).reshape(B, -1, N)
    return module.W(out)


class ImageLanguageAttention(nn.Module):
    """Pixel-word cross-attention (LAVT's "spatial image-language
    attention") on its own: PWAM's attention without PWAM's visual
    projection and product. Used by FIANet's FIAM (object and spatial
    branches) and TMEM.

    The computation is :func:`attend_to_words`; the sub-module names
    match PWAM's. When every word of a sample is masked the keys and values
    are zero, the attention output is the constant conv bias, and the
    InstanceNorm maps it to exactly zero.

    Args:
        in_channels (int): Visual channels C.
        text_channels (int): Word channels Ct.
        key_channels (int, optional): Attention width; defaults to C.
        value_channels (int, optional): Output width; defaults to C.
        num_heads (int): Heads; must divide both widths. Defaults to 1.

    Shapes:
        x [B, C, N]; text_feats [B, L, Ct]; text_mask [B, L] ->
        [B, value_channels, N].
    """

    def __init__(self,
                 in_channels: int,
                 text_channels: int,
                 key_channels: Optional[int] = None,
                 value_channels: Optional[int] = None,
                 num_heads: int = 1) -> None:
        super().__init__()
        key_channels = key_channels or in_channels
        value_channels = value_channels or in_channels
        if key_channels % num_heads or value_channels % num_heads:
            raise ValueError(f'key/value channels ({key_channels}, '
                             f'{value_channels}) must be divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.key_channels = key_channels
        build_attention_projections(self, in_channels, text_channels,
                                    key_channels, value_channels)

    forward = attend_to_words


def tanh_gate(channels: int) -> nn.Sequential:
    """LAVT's language gate: Linear-ReLU-Linear-Tanh over channels, no
    biases ([..., C] -> [..., C] in (-1, 1))."""
    return nn.Sequential(
        nn.Linear(channels, channels, bias=False), nn.ReLU(),
        nn.Linear(channels, channels, bias=False), nn.Tanh())


def gated(gate: nn.Module, x: Tensor) -> Tensor:
    """``gate(x) * x`` for channel-first tokens x [B, C, N]."""
    return gate(x.transpose(1, 2)).transpose(1, 2) * x
