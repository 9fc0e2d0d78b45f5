"""Key conversion of the official Swin Transformer release to MMSeg's Swin.

The official release (Liu et al., ICCV 2021, GitHub
microsoft/Swin-Transformer, e.g. ``swin_base_patch4_window12_384_22k.pth``,
a dict ``{'model': state_dict}``) and MMSeg's ``SwinTransformer`` name the
same tensors differently:

* ``patch_embed.proj.*`` -> ``patch_embed.projection.*``
  (``patch_embed.norm.*`` unchanged);
* ``layers.i.blocks.j.attn.*`` -> ``stages.i.blocks.j.attn.w_msa.*``;
* ``layers.i.blocks.j.mlp.fc1.*`` -> ``stages.i.blocks.j.ffn.layers.0.0.*``;
* ``layers.i.blocks.j.mlp.fc2.*`` -> ``stages.i.blocks.j.ffn.layers.1.*``;
* ``layers.i.blocks.j.norm{1,2}.*`` -> ``stages.i.blocks.j.norm{1,2}.*``;
* ``layers.i.downsample.{reduction,norm}.*`` ->
  ``stages.i.downsample.{reduction,norm}.*``, re-ordered (below);
* ``absolute_pos_embed`` unchanged.

Patch merging: the official code concatenates the four 2x2 neighbours as
``(x0, x1, x2, x3) = (top-left, bottom-left, top-right, bottom-right)``
along channels ([4C], neighbour-major); MMSeg's ``PatchMerging`` uses
``nn.Unfold``, whose [4C] output is channel-major with the neighbours in
the order (top-left, top-right, bottom-left, bottom-right). The reduction
weight's input columns and the norm parameters are permuted accordingly
(:func:`reorder_merging_reduction`, :func:`reorder_merging_norm`; the same
permutation as MMSeg's ``tools/model_converters/swin2mmseg.py``).

Keys dropped on purpose (:data:`SWIN_DROPPED_KEYS`):

* ``head.*``: the ImageNet classifier.
* ``norm.*``: the classification model's final LayerNorm (before pooling).
  MMSeg's Swin has one output norm per stage instead (``norm0`` ...
  ``norm3``); LAVT's official code does not fill them from the release
  either (its ``load_checkpoint(strict=False)`` skips ``norm.*``), so they
  start at LayerNorm's identity initialisation, as in the papers.
* ``*.relative_position_index`` and ``*.attn_mask``: constant buffers. The
  index is a function of the window size that MMSeg's ``WindowMSA`` builds
  itself (identical values, checked in the tests); dropping it also allows a
  window size other than the release's. MMSeg computes shift masks per
  forward and has no ``attn_mask`` buffer.

These rules also apply to files already in MMSeg's layout (MMSeg's
converter keeps ``norm.*`` and ``relative_position_index``).
"""
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

SWIN_DROPPED_KEYS: Tuple[re.Pattern, ...] = (
    re.compile(r'^head\.'),
    re.compile(r'^norm\.'),
    re.compile(r'(^|\.)relative_position_index$'),
    re.compile(r'(^|\.)attn_mask$'),
)

_SWIN_RULES: List[Tuple[re.Pattern, str]] = [
    (re.compile(r'^patch_embed\.proj\.'), 'patch_embed.projection.'),
    (re.compile(r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.'),
     r'stages.\1.blocks.\2.attn.w_msa.'),
    (re.compile(r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.'),
     r'stages.\1.blocks.\2.ffn.layers.0.0.'),
    (re.compile(r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.'),
     r'stages.\1.blocks.\2.ffn.layers.1.'),
    (re.compile(r'^layers\.(\d+)\.'), r'stages.\1.'),
]
_MERGE_REDUCTION = re.compile(r'^stages\.\d+\.downsample\.reduction\.weight$')
_MERGE_NORM = re.compile(r'^stages\.\d+\.downsample\.norm\.(weight|bias)$')


def reorder_merging_reduction(weight: torch.Tensor) -> torch.Tensor:
    """Patch-merging reduction weight [2C, 4C]: official concat order
    (neighbour-major, x0 x1 x2 x3) -> MMSeg ``nn.Unfold`` order
    (channel-major, x0 x2 x1 x3)."""
    out_c, in_c = weight.shape
    weight = weight.reshape(out_c, 4, in_c // 4)
    return weight[:, [0, 2, 1, 3], :].transpose(1, 2).reshape(out_c, in_c)


def reorder_merging_norm(param: torch.Tensor) -> torch.Tensor:
    """Patch-merging norm weight or bias [4C], re-ordered as
    :func:`reorder_merging_reduction`."""
    c = param.shape[0]
    param = param.reshape(4, c // 4)[[0, 2, 1, 3], :]
    return param.transpose(0, 1).reshape(c)


def is_swin_dropped_key(key: str) -> bool:
    """Whether ``key`` (without ``backbone.``) is one of the release's keys
    that are dropped on purpose (see the module docstring)."""
    return any(p.search(key) for p in SWIN_DROPPED_KEYS)


def swin_official_to_mmseg(
        state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict':
    """Convert an official Swin state dict to MMSeg's ``SwinTransformer``
    layout.

    Args:
        state_dict (dict): Official keys without prefix
            (``patch_embed.proj.weight``, ``layers.0.blocks.0.attn.qkv.weight``
            ...), i.e. the ``model`` entry of the release.

    Returns:
        OrderedDict: MMSeg keys (``patch_embed.projection.weight``,
        ``stages.0.blocks.0.attn.w_msa.qkv.weight`` ...), patch-merging
        tensors re-ordered. Keys in :data:`SWIN_DROPPED_KEYS` are left out;
        keys no rule knows are passed through unchanged, so a loader reports
        them as unexpected instead of hiding them.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if is_swin_dropped_key(key):
            continue
        new_key = key
        for pattern, repl in _SWIN_RULES:
            new_key, n = pattern.subn(repl, key)
            if n:
                break
        if _MERGE_REDUCTION.match(new_key) and key.startswith('layers.'):
            value = reorder_merging_reduction(value)
        elif _MERGE_NORM.match(new_key) and key.startswith('layers.'):
            value = reorder_merging_norm(value)
        if new_key in out:
            raise KeyError(f'Two Swin keys map to {new_key!r}')
        out[new_key] = value
    return out


def detect_swin_layout(state_dict: Dict[str, torch.Tensor]) -> str:
    """``'official'`` (``layers.*`` / ``patch_embed.proj.*``), ``'mmseg'``
    (``stages.*`` / ``patch_embed.projection.*``) or ``'unknown'``, from
    keys without ``backbone.`` / ``module.`` prefixes."""
    keys = list(state_dict)
    official = sum(k.startswith(('layers.', 'patch_embed.proj.'))
                   for k in keys)
    mmseg = sum(k.startswith(('stages.', 'patch_embed.projection.'))
                for k in keys)
    if official == 0 and mmseg == 0:
        return 'unknown'
    if official and mmseg:
        raise ValueError(
            f'The Swin checkpoint mixes the official layout ({official} '
            f'keys like layers.*) and MMSeg\'s ({mmseg} keys like stages.*)')
    return 'official' if official else 'mmseg'
