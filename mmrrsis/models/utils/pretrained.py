"""Did the pretrained backbone weights really load? Coverage reports.

A backbone's ``init_cfg=dict(type='Pretrained', checkpoint=...)`` loads with
``strict=False`` in MMEngine and MMSeg: a checkpoint in the wrong key layout
loads (almost) nothing and training silently starts from scratch. These
helpers compare a checkpoint with the backbone and say which of the
backbone's tensors it covers.

Expected tensors: every entry of the backbone's ``state_dict()``
(parameters and persistent buffers) except the exempt ones
(:func:`exempt_keys`):

* ``*.relative_position_index`` (Swin): a constant of the window size that
  the constructor builds.
* ``*.num_batches_tracked`` (BatchNorm): a step counter, used only with
  ``momentum=None``; older checkpoints do not store it.
* ``norm{i}.*`` for ``i`` in the backbone's ``out_indices``: the output norms
  that MMSeg's Swin and MMPretrain's ConvNeXt add for dense prediction.
  Classification checkpoints hold at most the last one, so these are loaded
  when present and not required.

A tensor counts as loaded when the checkpoint has its key with the same
shape. Everything else expected is ``missing`` (shape mismatches are listed
apart in ``shape_mismatch`` and count as not loaded). Checkpoint keys that
the backbone lacks are ``unexpected``; keys dropped on purpose by a
converter (e.g. Swin's ``head.*``) are ``dropped``.

Refusing a partial load: :func:`enforce_coverage` raises
:class:`PretrainedCoverageError` unless the owner allows it (the
``allow_partial_pretrained`` switch of ``ReferringEncoderDecoder`` and of
``PretrainedSwinTransformer``; MMEngine's ``PretrainedInit`` accepts no
extra keys, so the switch cannot live in ``init_cfg``).
"""
import copy
import re
import warnings
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

SHOWN_KEYS = 20
_EXEMPT_SUFFIXES = ('relative_position_index', 'num_batches_tracked')


class PretrainedCoverageError(RuntimeError):
    """A pretrained checkpoint covers only part of a backbone."""


def pretrained_init_cfg(init_cfg: Union[None, dict, Sequence[dict]]
                        ) -> Optional[dict]:
    """The ``type='Pretrained'`` entry of an ``init_cfg`` (dict or list), or
    None."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for cfg in cfgs:
        if isinstance(cfg, Mapping) and cfg.get('type') == 'Pretrained':
            return dict(cfg)
    return None


def read_checkpoint(checkpoint: str,
                    unwrap: Sequence[str] = ('state_dict', )
                    ) -> Dict[str, torch.Tensor]:
    """The state dict of a checkpoint (local path, URL, ``open-mmlab://``...,
    through MMEngine's ``CheckpointLoader``), taken from the first of the
    ``unwrap`` keys that the file has (else the file itself)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    if isinstance(ckpt, Mapping):
        for key in unwrap:
            if key in ckpt and isinstance(ckpt[key], Mapping):
                return dict(ckpt[key])
        return dict(ckpt)
    raise TypeError(f'{checkpoint}: not a state dict ({type(ckpt)})')


def as_pretrained_init(state_dict: Mapping[str, torch.Tensor],
                       prefix: Optional[str] = None
                       ) -> Dict[str, torch.Tensor]:
    """The keys MMEngine's ``PretrainedInit`` would feed the module: with a
    ``prefix``, only keys under it, prefix stripped; without, ``module.``
    stripped."""
    if prefix is None:
        return {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}
    if not prefix.endswith('.'):
        prefix += '.'
    return {k[len(prefix):]: v for k, v in state_dict.items()
            if k.startswith(prefix)}


def exempt_keys(module: nn.Module) -> List[str]:
    """Entries of ``module.state_dict()`` a checkpoint need not cover (see
    the module docstring)."""
    out_norms = tuple(f'norm{i}.'
                      for i in getattr(module, 'out_indices', ()) or ()
                      if isinstance(i, int) and i >= 0)
    return [
        k for k in module.state_dict()
        if k.endswith(_EXEMPT_SUFFIXES) or (out_norms and k.startswith(
            out_norms))
    ]


def coverage_report(module: nn.Module,
                    state_dict: Mapping[str, torch.Tensor],
                    checkpoint: Optional[str] = None,
                    dropped: Sequence[str] = (),
                    layout: Optional[str] = None) -> dict:
    """Compare ``state_dict`` (already in the module's key layout) with
    ``module``.

    Returns:
        dict: ``checkpoint``, ``layout``, ``module`` (class name),
        ``expected`` (int), ``loaded`` (int), ``complete`` (bool),
        ``missing`` / ``unexpected`` / ``dropped`` / ``exempt`` (lists of
        keys) and ``shape_mismatch`` (list of ``(key, file_shape,
        module_shape)``).
    """
    own = module.state_dict()
    exempt = set(exempt_keys(module))
    expected = [k for k in own if k not in exempt]
    missing, mismatch = [], []
    for k in expected:
        if k not in state_dict:
            missing.append(k)
        elif tuple(state_dict[k].shape) != tuple(own[k].shape):
            mismatch.append((k, tuple(state_dict[k].shape),
                             tuple(own[k].shape)))
    for k in exempt:  # optional, but a present one must fit
        if k in state_dict and tuple(state_dict[k].shape) != tuple(
                own[k].shape):
            mismatch.append((k, tuple(state_dict[k].shape),
                             tuple(own[k].shape)))
    loaded = len(expected) - len(missing) - sum(m[0] not in exempt
                                                for m in mismatch)
    return dict(
        checkpoint=checkpoint,
        layout=layout,
        module=type(module).__name__,
        expected=len(expected),
        loaded=loaded,
        complete=not missing and not mismatch,
        missing=missing,
        unexpected=[k for k in state_dict if k not in own],
        shape_mismatch=mismatch,
        dropped=list(dropped),
        exempt=sorted(exempt))


def _head(keys: Sequence, n: int = SHOWN_KEYS) -> str:
    shown = ', '.join(str(k) for k in keys[:n])
    more = f', ... ({len(keys) - n} more)' if len(keys) > n else ''
    return shown + more


def format_coverage(report: dict) -> str:
    """A human-readable summary of a :func:`coverage_report`, listing the
    first 20 keys of each kind."""
    lines = [
        f"{report['module']}: the pretrained checkpoint "
        f"{report['checkpoint']} ({report.get('layout') or 'as is'} layout) "
        f"covers {report['loaded']} of {report['expected']} expected tensors."
    ]
    for name in ('missing', 'shape_mismatch', 'unexpected', 'dropped'):
        keys = report[name]
        if keys:
            lines.append(f'  {name} ({len(keys)}): {_head(keys)}')
    if report['exempt']:
        lines.append(f"  not required ({len(report['exempt'])}): "
                     f"{_head(report['exempt'], 4)}")
    return '\n'.join(lines)


def enforce_coverage(report: dict, allow_partial: bool = False) -> None:
    """Raise :class:`PretrainedCoverageError` on an incomplete report;
    with ``allow_partial``, warn instead. A complete one is logged."""
    if report['complete']:
        print_log(format_coverage(report), logger='current')
        return
    text = format_coverage(report)
    if allow_partial:
        warnings.warn('Partial pretrained load allowed by '
                      'allow_partial_pretrained=True:\n' + text, UserWarning)
        return
    raise PretrainedCoverageError(
        text + '\nThe checkpoint does not match the backbone (wrong file or '
        'key layout?). To load a partial checkpoint on purpose, set '
        'allow_partial_pretrained=True on the segmentor '
        '(model=dict(allow_partial_pretrained=True)).')


def _is_plain_mmseg_swin(module: nn.Module) -> bool:
    """An MMSeg ``SwinTransformer`` that loads with MMSeg's own
    ``init_weights`` (which ignores ``prefix`` and converts nothing)."""
    try:
        from mmseg.models.backbones.swin import SwinTransformer
    except ImportError:  # pragma: no cover
        return False
    return isinstance(module, SwinTransformer) and not hasattr(
        module, 'prepare_pretrained_state')


def check_pretrained_coverage(
        module: nn.Module,
        checkpoint: str,
        prefix: Optional[str] = None,
        convert: Optional[Callable[[Dict[str, torch.Tensor]],
                                   Dict[str, torch.Tensor]]] = None,
        state_dict: Optional[Mapping[str, torch.Tensor]] = None) -> dict:
    """Coverage of ``module`` by ``checkpoint`` as it would be loaded.

    A module with its own loader (``prepare_pretrained_state(state, prefix)
    -> (state, dropped, layout)``, e.g. ``PretrainedSwinTransformer``) maps
    the file with it; a plain MMSeg ``SwinTransformer`` as MMSeg's
    ``init_weights`` does (``state_dict`` or ``model`` entry, ``backbone.``
    and ``module.`` stripped, nothing converted); otherwise the keys are
    those MMEngine's ``PretrainedInit`` uses (``state_dict`` entry,
    ``prefix`` filtered and stripped, or ``module.`` stripped), then
    ``convert`` if given.

    Args:
        module (nn.Module): The backbone.
        checkpoint (str): Path or URL.
        prefix (str, optional): ``init_cfg['prefix']``.
        convert (callable, optional): state dict -> state dict.
        state_dict (dict, optional): The file's content if already read.

    Returns:
        dict: See :func:`coverage_report`.
    """
    own_loader = getattr(module, 'prepare_pretrained_state', None)
    if convert is None and callable(own_loader):
        raw = state_dict if state_dict is not None else read_checkpoint(
            checkpoint, unwrap=('state_dict', 'model'))
        mapped, dropped, layout = own_loader(raw, prefix)
        return coverage_report(module, mapped, checkpoint, dropped, layout)
    if convert is None and _is_plain_mmseg_swin(module):
        # MMSeg's own SwinTransformer.init_weights: 'state_dict' or 'model',
        # ``backbone.`` and ``module.`` stripped, no conversion, no prefix
        raw = state_dict if state_dict is not None else read_checkpoint(
            checkpoint, unwrap=('state_dict', 'model'))
        mapped = {re.sub(r'^module\.', '', re.sub(r'^backbone\.', '', k)): v
                  for k, v in raw.items()}
        return coverage_report(module, mapped, checkpoint,
                               layout='mmseg (MMSeg SwinTransformer loader)')
    raw = state_dict if state_dict is not None else read_checkpoint(
        checkpoint)
    mapped = as_pretrained_init(raw, prefix)
    if convert is not None:
        mapped = convert(mapped)
    return coverage_report(module, mapped, checkpoint)


def pretrained_coverage(backbone_cfg: dict) -> dict:
    """Coverage report of a backbone config's ``Pretrained`` checkpoint,
    without building the rest of the model or loading any weight.

    The backbone is built from ``backbone_cfg`` (MMSeg registry, so
    ``mmpretrain.ConvNeXt`` works too) with its ``init_cfg`` removed, and
    compared with the checkpoint (which is read, downloaded if a URL not yet
    in the cache). Used by ``tools/analysis_tools/print_recipe.py
    --check-pretrained``.

    Returns:
        dict: As :func:`check_pretrained_coverage`. Without a
        ``Pretrained`` init_cfg: ``checkpoint=None``, ``loaded=0``,
        ``complete=False`` and every expected key in ``missing`` (the
        backbone starts from scratch).
    """
    from mmseg.registry import MODELS

    import mmrrsis  # noqa: F401  (registers mmrrsis modules)
    cfg = copy.deepcopy(dict(backbone_cfg))
    init = pretrained_init_cfg(cfg.get('init_cfg'))
    if init is None and isinstance(cfg.get('pretrained'), str):
        # MMSeg's deprecated ``pretrained=PATH`` backbone argument
        init = dict(type='Pretrained', checkpoint=cfg['pretrained'])
    cfg.pop('pretrained', None)
    cfg['init_cfg'] = None
    module = MODELS.build(cfg)
    if init is None:
        return coverage_report(module, {}, None)
    return check_pretrained_coverage(module, init['checkpoint'],
                                     init.get('prefix'))
