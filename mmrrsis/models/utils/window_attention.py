"""Swin window attention through ``F.scaled_dot_product_attention``.

MMSeg 1.2.2's ``WindowMSA`` computes the window attention of Swin (Liu et
al., ICCV 2021, Sec. 3.2, Eq. 4) as a plain ``q @ k^T + B``, softmax,
``@ v``, and ``ShiftWindowMSA`` rebuilds the shifted-window mask in every
shifted block's forward. The subclasses here compute the same function:

* :class:`SDPAWindowMSA` passes the relative position bias ``B`` (plus the
  shift mask) to ``torch.nn.functional.scaled_dot_product_attention`` as an
  additive float ``attn_mask`` with ``scale=`` MMSeg's ``qk_scale or
  head_dim ** -0.5``. PyTorch then picks a fused kernel where one applies
  (the flash kernel on CPU when the mask needs no gradient, e.g. in
  inference; the memory-efficient kernel on CUDA) and its math path
  otherwise.
* :class:`SDPAShiftWindowMSA` reads the shift mask from a
  :class:`ShiftMaskCache` shared by the backbone's blocks: built once per
  (window, shift, padded size, device, dtype), i.e. once per stage and
  input size, instead of once per shifted block.

Parameters, buffers and state-dict keys are MMSeg's (``qkv``, ``proj``,
``relative_position_bias_table``, ``relative_position_index``): checkpoints
load in either direction. :func:`use_sdpa_window_attention` swaps them into
a built MMSeg ``SwinTransformer`` (no random numbers drawn, no parameter
copied).
"""
from collections import OrderedDict
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.backbones.swin import ShiftWindowMSA, WindowMSA
from torch import Tensor

MaskKey = Tuple[int, int, int, int, str, torch.dtype]


class ShiftMaskCache:
    """Shifted-window attention masks, built once per key and reused.

    Keyed by ``(window, shift, H_pad, W_pad, device, dtype)``: a new input
    size gets its own mask (never a stale one). A plain object, not a
    module: nothing goes into the state dict. Holds at most ``max_entries``
    masks (least recently used dropped first), so inference over many input
    sizes does not grow without bound.

    Args:
        max_entries (int): Masks kept. Defaults to 16.
    """

    def __init__(self, max_entries: int = 16) -> None:
        self.max_entries = max_entries
        self._masks: 'OrderedDict[MaskKey, Tensor]' = OrderedDict()
        self.builds = 0  # masks built so far (for tests and profiling)

    def __len__(self) -> int:
        return len(self._masks)

    def clear(self) -> None:
        self._masks.clear()

    def get(self, window: int, shift: int, hw_pad: Tuple[int, int],
            device: torch.device, dtype: torch.dtype) -> Tensor:
        """The mask [nW, 1, N, N] (N = window^2, 0 within a region, -100
        across regions, as MMSeg) for a padded map ``hw_pad``."""
        key = (window, shift, hw_pad[0], hw_pad[1], str(device), dtype)
        mask = self._masks.get(key)
        if mask is None:
            mask = shift_window_mask(window, shift, hw_pad, device, dtype)
            self.builds += 1
            self._masks[key] = mask
            while len(self._masks) > self.max_entries:
                self._masks.popitem(last=False)
        else:
            self._masks.move_to_end(key)
        return mask

    # a cache is not model state: deep copies start empty
    def __deepcopy__(self, memo: dict) -> 'ShiftMaskCache':
        return ShiftMaskCache(self.max_entries)


def shift_window_mask(window: int, shift: int, hw_pad: Tuple[int, int],
                      device: Optional[torch.device] = None,
                      dtype: torch.dtype = torch.float32) -> Tensor:
    """MMSeg ``ShiftWindowMSA``'s attention mask for shifted windows.

    After the cyclic shift by ``-shift``, a window may hold tokens from up to
    four regions that were not adjacent; tokens attend only within their
    region. Returns [nW, 1, N, N]: 0 for pairs in the same region, -100
    otherwise (the value of the official code and MMSeg).
    """
    H, W = hw_pad

    def regions(n: int) -> Tensor:
        r = torch.zeros(n, dtype=torch.long, device=device)
        r[n - window:] = 1
        r[n - shift:] = 2
        return r

    label = regions(H)[:, None] * 3 + regions(W)[None, :]  # H W
    label = label.view(H // window, window, W // window, window)
    label = label.permute(0, 2, 1, 3).reshape(-1, window * window)  # nW N
    diff = label.unsqueeze(1) != label.unsqueeze(2)  # nW N N
    mask = torch.zeros(diff.shape, dtype=dtype, device=device)
    return mask.masked_fill_(diff, -100.0).unsqueeze(1)


class SDPAWindowMSA(WindowMSA):
    """MMSeg ``WindowMSA`` computed by ``F.scaled_dot_product_attention``.

    Same constructor, parameters and buffers as ``WindowMSA``.

    Shapes:
        ``forward(x [nW*B, N, C], mask [nW, N, N] | [nW, 1, N, N] | None)``
        -> [nW*B, N, C], N = Wh * Ww. ``mask`` is additive (0 / -100, as
        MMSeg's).
    """

    def relative_bias(self) -> Tensor:
        """The relative position bias [nH, N, N]."""
        n = self.window_size[0] * self.window_size[1]
        bias = self.relative_position_bias_table[
            self.relative_position_index.view(-1)].view(n, n, -1)
        return bias.permute(2, 0, 1)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        Bw, N, C = x.shape
        nH = self.num_heads
        qkv = self.qkv(x).reshape(Bw, N, 3, nH, C // nH).permute(2, 0, 3, 1,
                                                                 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # Bw nH N d
        attn_mask = self.relative_bias().unsqueeze(0)  # 1 nH N N
        if mask is not None:
            nW = mask.shape[0]
            if mask.dim() == 3:
                mask = mask.unsqueeze(1)
            # windows are batch-major (b * nW + w): fold the windows into
            # the head dimension so one [1, nW*nH, N, N] mask serves all B
            attn_mask = (attn_mask + mask.to(attn_mask.dtype)).reshape(
                1, nW * nH, N, N)
            q, k, v = (t.reshape(Bw // nW, nW * nH, N, -1) for t in (q, k, v))
        out = F.scaled_dot_product_attention(
            q, k, v,
            attn_mask=attn_mask.to(q.dtype),
            dropout_p=self.attn_drop.p if self.training else 0.,
            scale=self.scale)
        x = out.reshape(Bw, nH, N, -1).transpose(1, 2).reshape(Bw, N, C)
        return self.proj_drop(self.proj(x))


class SDPAShiftWindowMSA(ShiftWindowMSA):
    """MMSeg ``ShiftWindowMSA`` with :class:`SDPAWindowMSA` inside and the
    shift mask from a :class:`ShiftMaskCache`.

    Args:
        mask_cache (ShiftMaskCache, optional): Shared by the blocks of a
            backbone (one mask per stage and input size). Defaults to a
            cache of this module's own.
        **kwargs: ``ShiftWindowMSA`` arguments.

    Shapes:
        ``forward(query [B, H*W, C], hw_shape (H, W))`` -> [B, H*W, C].
    """

    def __init__(self, mask_cache: Optional[ShiftMaskCache] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.w_msa = SDPAWindowMSA(window_size=self.w_msa.window_size,
                                   **_msa_args(self.w_msa))
        self.mask_cache = mask_cache if mask_cache is not None \
            else ShiftMaskCache()

    def forward(self, query: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        B, L, C = query.shape
        H, W = hw_shape
        assert L == H * W, 'input feature has wrong size'
        ws, s = self.window_size, self.shift_size
        query = query.view(B, H, W, C)
        pad_r = (ws - W % ws) % ws
        pad_b = (ws - H % ws) % ws
        query = F.pad(query, (0, 0, 0, pad_r, 0, pad_b))
        H_pad, W_pad = query.shape[1], query.shape[2]
        if s > 0:
            query = torch.roll(query, shifts=(-s, -s), dims=(1, 2))
            mask = self.mask_cache.get(ws, s, (H_pad, W_pad), query.device,
                                       query.dtype)
        else:
            mask = None
        windows = self.window_partition(query).view(-1, ws * ws, C)
        windows = self.w_msa(windows, mask=mask).view(-1, ws, ws, C)
        x = self.window_reverse(windows, H_pad, W_pad)
        if s > 0:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        if pad_r or pad_b:
            x = x[:, :H, :W, :].contiguous()
        return self.drop(x.view(B, H * W, C))


def _msa_args(w: nn.Module) -> dict:
    """The ``WindowMSA`` constructor arguments (but ``window_size``) that
    built ``w``, read off its layers."""
    return dict(embed_dims=w.embed_dims, num_heads=w.num_heads,
                qkv_bias=w.qkv.bias is not None, qk_scale=w.scale,
                attn_drop_rate=w.attn_drop.p, proj_drop_rate=w.proj_drop.p)


def _sdpa_twin(old: ShiftWindowMSA,
               cache: ShiftMaskCache) -> SDPAShiftWindowMSA:
    """An :class:`SDPAShiftWindowMSA` holding ``old``'s tensors."""
    with torch.device('meta'):  # no allocation, no random numbers drawn
        new = SDPAShiftWindowMSA(
            mask_cache=cache, window_size=old.window_size,
            shift_size=old.shift_size, **_msa_args(old.w_msa))
    new.drop = old.drop
    # the same Parameter objects move over; assign=True sets their
    # requires_grad to the meta twin's, so it is put back
    flags = {n: p.requires_grad for n, p in old.named_parameters()}
    new.load_state_dict(old.state_dict(keep_vars=True), assign=True)
    for name, p in new.named_parameters():
        p.requires_grad_(flags[name])
    new.train(old.training)
    return new


def use_sdpa_window_attention(
        backbone: nn.Module,
        cache: Optional[ShiftMaskCache] = None) -> ShiftMaskCache:
    """Swap every MMSeg ``ShiftWindowMSA`` inside ``backbone`` (a built
    ``SwinTransformer``) for an :class:`SDPAShiftWindowMSA` holding the same
    tensors (state-dict keys unchanged), all sharing one mask cache.

    Returns:
        ShiftMaskCache: The shared cache.
    """
    cache = cache if cache is not None else ShiftMaskCache()
    for parent in list(backbone.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is ShiftWindowMSA:
                setattr(parent, name, _sdpa_twin(child, cache))
    return cache
