"""Convert an official FIANet checkpoint into an mmrrsis checkpoint.

    python tools/model_converters/fianet2mmrrsis.py SRC.pth DST.pth

SRC is a checkpoint written by the official training code (GitHub
Shaosifan/FIANet, ``train.py``): a dict whose ``model`` entry is the state
dict of ``LAVTOne`` (``backbone.*``, ``classifier.*``, ``text_encoder.*``).
DST holds ``state_dict`` (the mmrrsis ``ReferringEncoderDecoder`` layout of
``configs/fianet_swinb.py`` / ``configs/fianet/fianet_swinb_rrsisd.py``) and
``meta``. Load it with ``tools/test.py CONFIG DST`` or
``mmrrsis.apis.load_checkpoint_strict``.

Key mapping (official -> mmrrsis):

* Swin: ``backbone.layers.{i}`` -> ``backbone.stages.{i}``, ``attn.*`` ->
  ``attn.w_msa.*``, ``mlp.fc1/fc2`` -> ``ffn.layers.0.0/ffn.layers.1``,
  ``patch_embed.proj`` -> ``patch_embed.projection``; the patch-merging
  reduction and norm are re-ordered for MMSeg's ``nn.Unfold`` channel
  order (as MMSeg's ``swin2mmseg.py``; the functions of
  :mod:`mmrrsis.models.utils.ckpt_convert`).
* FIAM, ``backbone.layers.{i}.*`` -> ``fusions.{i}.*``: ``fc1/fc2`` ->
  ``channel_gate.0/2``; ``context_pixel_attn`` -> ``context_attn`` (its
  ``image_lang_att.*`` flattened into PWAM); ``context_tanh_gate`` ->
  ``context_gate``; ``object_position_align_blk.go_cross_attn /
  go_tanh_gating / sp_cross_attn / conv1`` -> ``object_attn /
  object_gate / spatial_attn / spatial_conv``.
* TMEM, ``backbone.tmem.*`` -> ``neck.*``: ``block.{k}.tma`` ->
  ``blocks.{k}.attn``, ``ff.net`` -> ``ffn``, ``bn`` -> ``norm``,
  ``fusion`` -> ``gates``.
* Decoder, ``classifier.*`` -> ``decode_head.*``: ``conv{1,2}_{4,3,2}`` /
  ``bn{1,2}_{4,3,2}`` -> ``fuse_blocks.{0,1,2}.{0,1}.conv/bn``,
  ``conv1_1`` -> ``conv_seg``.
* BERT: ``text_encoder.*`` -> ``text_encoder.hf.model.*``.

Dropped (documented, unused): ``object_position_align_blk.go_embedding``
(built but never called by the official forward) and BERT's
``embeddings.position_ids`` buffer (a constant ``arange``; not stored by
current transformers). Any other unknown key is an error.
"""
import argparse
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Tuple

import torch

# patch-merging re-ordering, shared with PretrainedSwinTransformer's loader
from mmrrsis.models.utils.ckpt_convert import (  # isort: skip
    reorder_merging_norm as _reorder_norm,
    reorder_merging_reduction as _reorder_reduction)

DROPPED = (
    re.compile(r'^backbone\.layers\.\d+\.object_position_align_blk\.'
               r'go_embedding\.'),
    re.compile(r'^text_encoder\.embeddings\.position_ids$'),
    re.compile(r'^text_encoder\.pooler\.'),
)

_ATTN = r'(f_query\.0|f_key\.0|f_value\.0|W\.0)'


def _attn(sub: str) -> str:
    """Official attention sub-key (``f_key.0``) -> mmrrsis (``f_key``)."""
    return {'f_key.0': 'f_key', 'f_value.0': 'f_value'}.get(sub, sub)


_DECODER_STAGE = {'4': 0, '3': 1, '2': 2}
_L = r'^backbone\.layers\.(\d+)\.'
_OPAB = _L + r'object_position_align_blk\.'

# (pattern, replacement) pairs tried in order; replacements may be callables
# of the match. A value transform can follow as a third element.
RULES: List[Tuple] = [
    # --- Swin
    (r'^backbone\.patch_embed\.proj\.(.*)$',
     r'backbone.patch_embed.projection.\1'),
    (r'^backbone\.patch_embed\.norm\.(.*)$', r'backbone.patch_embed.norm.\1'),
    (_L + r'blocks\.(\d+)\.attn\.(.*)$',
     r'backbone.stages.\1.blocks.\2.attn.w_msa.\3'),
    (_L + r'blocks\.(\d+)\.mlp\.fc1\.(.*)$',
     r'backbone.stages.\1.blocks.\2.ffn.layers.0.0.\3'),
    (_L + r'blocks\.(\d+)\.mlp\.fc2\.(.*)$',
     r'backbone.stages.\1.blocks.\2.ffn.layers.1.\3'),
    (_L + r'blocks\.(\d+)\.(norm[12]\..*)$',
     r'backbone.stages.\1.blocks.\2.\3'),
    (_L + r'downsample\.reduction\.(.*)$',
     r'backbone.stages.\1.downsample.reduction.\2', _reorder_reduction),
    (_L + r'downsample\.norm\.(.*)$',
     r'backbone.stages.\1.downsample.norm.\2', _reorder_norm),
    (r'^backbone\.(norm\d+\..*)$', r'backbone.\1'),
    # --- FIAM
    (_L + r'fc1\.(.*)$', r'fusions.\1.channel_gate.0.\2'),
    (_L + r'fc2\.(.*)$', r'fusions.\1.channel_gate.2.\2'),
    (_L + r'context_pixel_attn\.image_lang_att\.' + _ATTN + r'\.(.*)$',
     lambda m: f'fusions.{m[1]}.context_attn.{_attn(m[2])}.{m[3]}'),
    (_L + r'context_pixel_attn\.(vis_project\.0|project_mm\.0)\.(.*)$',
     r'fusions.\1.context_attn.\2.\3'),
    (_L + r'context_tanh_gate\.(.*)$', r'fusions.\1.context_gate.\2'),
    (_OPAB + r'(go|sp)_cross_attn\.' + _ATTN + r'\.(.*)$',
     lambda m: (f'fusions.{m[1]}.'
                f"{'object' if m[2] == 'go' else 'spatial'}_attn."
                f'{_attn(m[3])}.{m[4]}')),
    (_OPAB + r'go_tanh_gating\.(.*)$', r'fusions.\1.object_gate.\2'),
    (_OPAB + r'conv1\.(.*)$', r'fusions.\1.spatial_conv.\2'),
    # --- TMEM
    (r'^backbone\.tmem\.(down_channel|up_channel)\.(.*)$', r'neck.\1.\2'),
    (r'^backbone\.tmem\.bn\.(.*)$', r'neck.norm.\1'),
    (r'^backbone\.tmem\.block\.(\d+)\.(norm[12])\.(.*)$',
     r'neck.blocks.\1.\2.\3'),
    (r'^backbone\.tmem\.block\.(\d+)\.tma\.' + _ATTN + r'\.(.*)$',
     lambda m: f'neck.blocks.{m[1]}.attn.{_attn(m[2])}.{m[3]}'),
    (r'^backbone\.tmem\.block\.(\d+)\.ff\.net\.(\d+)\.(.*)$',
     r'neck.blocks.\1.ffn.\2.\3'),
    (r'^backbone\.tmem\.fusion\.(\d+)\.(.*)$', r'neck.gates.\1.\2'),
    # --- decoder
    (r'^classifier\.(conv|bn)([12])_([432])\.(.*)$',
     lambda m: (f'decode_head.fuse_blocks.{_DECODER_STAGE[m[3]]}.'
                f"{int(m[2]) - 1}.{'conv' if m[1] == 'conv' else 'bn'}."
                f'{m[4]}')),
    (r'^classifier\.conv1_1\.(.*)$', r'decode_head.conv_seg.\1'),
    # --- BERT
    (r'^text_encoder\.(.*)$', r'text_encoder.hf.model.\1'),
]
_COMPILED = [(re.compile(r[0]), *r[1:]) for r in RULES]


def convert_key(key: str) -> Tuple[str, Callable]:
    """mmrrsis key (and value transform, or None) of an official key."""
    for rule in _COMPILED:
        pattern, repl = rule[0], rule[1]
        m = pattern.match(key)
        if m:
            new = repl(m) if callable(repl) else m.expand(repl)
            return new, (rule[2] if len(rule) > 2 else None)
    raise KeyError(f'No mmrrsis counterpart for the official FIANet key '
                   f'{key!r}')


def convert_fianet(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict':
    """Official ``LAVTOne`` state dict -> mmrrsis FIANet state dict."""
    new = OrderedDict()
    for key, value in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if any(p.match(key) for p in DROPPED):
            continue
        new_key, transform = convert_key(key)
        if new_key in new:
            raise KeyError(f'Two official keys map to {new_key!r}')
        new[new_key] = transform(value) if transform else value
    return new


def load_official(path: str) -> Dict[str, torch.Tensor]:
    """The ``model`` state dict of an official checkpoint.

    The official checkpoint also pickles its ``argparse.Namespace``; only
    that class is allowed beside tensors (``weights_only`` loading).
    """
    with torch.serialization.safe_globals([argparse.Namespace]):
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(ckpt, dict) and 'model' in ckpt:
        return ckpt['model']
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        return ckpt['state_dict']
    return ckpt


def main() -> None:
    parser = argparse.ArgumentParser(
        description='Convert an official FIANet checkpoint to mmrrsis.')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='mmrrsis checkpoint to write')
    args = parser.parse_args()
    state = convert_fianet(load_official(args.src))
    torch.save(dict(state_dict=state,
                    meta=dict(converted_from=args.src,
                              converter='fianet2mmrrsis')), args.dst)
    print(f'{len(state)} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
