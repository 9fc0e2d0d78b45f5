"""Multi-head attention over (padded) token sequences and the token FFN,
shared by CroBIM's CAPM, LGFA and MID (and free for any new block)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


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
        scale = None
        if self.null_slot and torch.is_autocast_enabled(q.device.type):
            # values one wider than the keys send the CPU to the math
            # kernel, which runs bf16 in float32: a zero column on the
            # queries and keys (no logit changes; the scale stays d^-0.5)
            # gives the fused kernel one head width
            scale = q.shape[-1]**-0.5
            q, k = F.pad(q, (0, 1)), F.pad(k, (0, 1))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0, scale=scale)
        deficit = None
        if self.null_slot:
            out, deficit = out[..., :-1], out[..., -1:]
        out = self.out_proj(out.transpose(1, 2).reshape(B, Nq, -1))
        return (out, deficit) if self.null_slot else out
