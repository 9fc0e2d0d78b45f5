"""MMSeg's Swin Transformer whose pretrained weights load completely or not
at all."""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model.weight_init import constant_init, trunc_normal_init
from mmseg.models.backbones.swin import SwinBlock, SwinTransformer
from mmseg.registry import MODELS

from ..utils.ckpt_convert import (detect_swin_layout, is_swin_dropped_key,
                                  swin_official_to_mmseg)
from ..utils.pretrained import (coverage_report, enforce_coverage,
                                pretrained_init_cfg, read_checkpoint)
from ..utils.window_attention import ShiftMaskCache, use_sdpa_window_attention

ATTN_IMPLS = ('sdpa', 'mmseg')


class _NonReentrantCheckpointSwinBlock(SwinBlock):
    """MMSeg's ``SwinBlock`` whose ``with_cp`` uses non-reentrant
    ``torch.utils.checkpoint`` (MMSeg's reentrant call runs the forward
    without grad, so a fused SDPA kernel could differ in rounding from the
    recomputation, and torch warns on every call). Same state, same
    function; set on blocks by ``PretrainedSwinTransformer`` (class swap:
    no state of its own).

    Shapes:
        ``forward(x [B, H*W, C], hw_shape (H, W))`` -> [B, H*W, C].
    """

    def _inner_forward(self, x: torch.Tensor,
                       hw_shape: Tuple[int, int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), hw_shape)
        return self.ffn(self.norm2(x), identity=x)

    def forward(self, x: torch.Tensor,
                hw_shape: Tuple[int, int]) -> torch.Tensor:
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(self._inner_forward, x, hw_shape,
                                 use_reentrant=False)
        return self._inner_forward(x, hw_shape)


@MODELS.register_module()
class PretrainedSwinTransformer(SwinTransformer):
    """MMSeg ``SwinTransformer`` (Liu et al., ICCV 2021) with a checked
    pretrained load.

    The architecture, forward pass and parameter names are MMSeg's (a
    subclass: checkpoints keep ``backbone.stages...``; the early-fusion
    stage runner drives it as any MMSeg Swin). Only ``init_weights`` with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., [prefix=...])``
    differs from MMSeg 1.2.2, which strips ``backbone.``, loads with
    ``strict=False`` and ignores the result (fed the official release, an
    MMSeg Swin-B keeps 2 of its tensors, silently). Here:

    1. The state dict is read from ``state_dict`` or ``model``; ``module.``
       and then ``backbone.`` are stripped (with ``prefix``, only keys under
       it are kept, as in MMEngine's ``PretrainedInit``).
    2. The layout is detected: the official Microsoft release
       (``layers.*``, ``attn.qkv``, ``mlp.fc1``, ``patch_embed.proj``) is
       converted with
       :func:`mmrrsis.models.utils.ckpt_convert.swin_official_to_mmseg`
       (patch merging re-ordered); MMSeg's converted files (``stages.*``)
       are used as they are. In both, ``head.*``, the classifier's final
       ``norm.*``, ``relative_position_index`` and ``attn_mask`` are dropped
       on purpose (see :mod:`mmrrsis.models.utils.ckpt_convert`).
    3. Relative position bias tables of another window size are resized
       bicubically, as MMSeg does.
    4. Coverage is checked (:mod:`mmrrsis.models.utils.pretrained`): every
       parameter and persistent buffer except ``relative_position_index``
       and the output norms ``norm{i}`` (absent from classification
       checkpoints; they start at LayerNorm's identity, as in LAVT) must
       come from the file with its shape. Otherwise
       ``PretrainedCoverageError`` lists the missing and unexpected keys,
       unless ``allow_partial_pretrained`` (then a warning; the tensors not
       in the file keep MMSeg's from-scratch initialisation).

    The report stays in ``self.pretrained_report`` (see
    :func:`~mmrrsis.models.utils.pretrained.coverage_report`).

    Window attention: with ``attn_impl='sdpa'`` (the default) the blocks'
    ``ShiftWindowMSA`` are swapped for
    :class:`~mmrrsis.models.utils.SDPAShiftWindowMSA` (same function, same
    tensors and state-dict keys: ``F.scaled_dot_product_attention`` with
    the relative position bias and shift mask as an additive mask, the shift
    mask built once per stage and input size in ``self.shift_mask_cache``).
    ``'mmseg'`` keeps MMSeg's matmul + softmax. ``with_cp=True`` (MMSeg's
    switch) checkpoints every Swin block in training (non-reentrant: the
    same outputs and gradients, bit for bit).

    Args:
        allow_partial_pretrained (bool): Accept a checkpoint that covers only
            part of the backbone (warns). ``ReferringEncoderDecoder``'s
            switch of the same name sets it too. Defaults to False.
        attn_impl (str): ``'sdpa'`` or ``'mmseg'``. Defaults to ``'sdpa'``.
        **kwargs: MMSeg ``SwinTransformer`` arguments.
    """

    def __init__(self, allow_partial_pretrained: bool = False,
                 attn_impl: str = 'sdpa', **kwargs) -> None:
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f'attn_impl must be one of {ATTN_IMPLS}, got '
                             f'{attn_impl!r}')
        super().__init__(**kwargs)
        self.allow_partial_pretrained = allow_partial_pretrained
        self.pretrained_report: Optional[dict] = None
        self.attn_impl = attn_impl
        self.with_cp = bool(kwargs.get('with_cp', False))
        for stage in self.stages:
            for block in stage.blocks:
                if type(block) is SwinBlock:
                    block.__class__ = _NonReentrantCheckpointSwinBlock
        self.shift_mask_cache: Optional[ShiftMaskCache] = None
        if attn_impl == 'sdpa':
            self.shift_mask_cache = use_sdpa_window_attention(self)

    def prepare_pretrained_state(
        self,
        state_dict: Mapping[str, torch.Tensor],
        prefix: Optional[str] = None
    ) -> Tuple[Dict[str, torch.Tensor], List[str], str]:
        """Map a checkpoint's state dict onto this backbone's keys.

        Returns:
            tuple: ``(state_dict, dropped_keys, layout)``, the layout being
            ``'official'``, ``'mmseg'`` or ``'unknown'``.
        """
        state = OrderedDict()
        for key, value in state_dict.items():
            if key.startswith('module.'):
                key = key[len('module.'):]
            if prefix is not None:
                p = prefix if prefix.endswith('.') else prefix + '.'
                if not key.startswith(p):
                    continue
                key = key[len(p):]
            elif key.startswith('backbone.'):
                key = key[len('backbone.'):]
            state[key] = value
        dropped = [k for k in state if is_swin_dropped_key(k)]
        layout = detect_swin_layout(state)
        if layout == 'official':
            state = swin_official_to_mmseg(state)
        else:
            state = OrderedDict(
                (k, v) for k, v in state.items() if not is_swin_dropped_key(k))
        self._resize_bias_tables(state)
        return state, dropped, layout

    def _resize_bias_tables(self, state: Dict[str, torch.Tensor]) -> None:
        """Bicubic resize of ``relative_position_bias_table``
        [(2W-1)^2, heads] to this window size (as MMSeg)."""
        own = self.state_dict()
        for key in [k for k in state if k.endswith(
                'relative_position_bias_table')]:
            if key not in own:
                continue
            table = state[key]
            (l1, h1), (l2, h2) = table.shape, own[key].shape
            if h1 != h2 or l1 == l2:
                continue  # a head mismatch is reported as a shape mismatch
            s1, s2 = int(l1**0.5), int(l2**0.5)
            resized = F.interpolate(
                table.permute(1, 0).reshape(1, h1, s1, s1).float(),
                size=(s2, s2), mode='bicubic')
            state[key] = resized.reshape(h2, l2).permute(1, 0).contiguous(
            ).to(table.dtype)

    def _init_from_scratch(self) -> None:
        """MMSeg's initialisation without pretrained weights."""
        if self.use_abs_pos_embed:
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=.02, bias=0.)
            elif isinstance(m, nn.LayerNorm):
                constant_init(m, val=1.0, bias=0.)

    def init_weights(self) -> None:
        init = pretrained_init_cfg(self.init_cfg)
        if init is None:
            super().init_weights()
            return
        raw = read_checkpoint(init['checkpoint'],
                              unwrap=('state_dict', 'model'))
        state, dropped, layout = self.prepare_pretrained_state(
            raw, init.get('prefix'))
        report = coverage_report(self, state, init['checkpoint'], dropped,
                                 layout)
        self.pretrained_report = report
        enforce_coverage(report, self.allow_partial_pretrained)
        if not report['complete']:
            self._init_from_scratch()
        own = self.state_dict()
        fitting = {k: v for k, v in state.items()
                   if k in own and v.shape == own[k].shape}
        self.load_state_dict(fitting, strict=False)
