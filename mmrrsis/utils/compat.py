"""Compatibility shims that let the OpenMMLab 1.x stack run on current PyTorch.

Three problems are handled here, each only when it is actually present, so an
environment that does not need a shim is left untouched:

1. **mmcv-lite (no compiled ops).** ``mmseg`` 1.2.2 imports ``point_sample``
   and ``sigmoid_focal_loss`` from ``mmcv.ops`` without a guard, so
   ``import mmseg.models`` fails with ``No module named 'mmcv._ext'``.
   When ``mmcv.ops`` cannot be imported we register a small pure-PyTorch
   stand-in module under that name. It provides real implementations of the
   two functions MMSeg needs at import time; any other op raises
   ``ModuleNotFoundError`` with an explanation, which is exactly what the
   guarded imports in MMSeg (``cc_head``, ``psa_head``, ...) expect.
   mmrrsis itself never uses ``mmcv.ops``.
2. **mmpretrain 1.2 with transformers >= 4.4x.** Its multimodal models import
   names that transformers removed (``apply_chunking_to_forward`` from
   ``modeling_utils``), and the fallback then crashes at class creation. We
   only need mmpretrain's backbones, so when those names are missing we turn
   off mmpretrain's multimodal branch (it then registers placeholders, as it
   does when transformers is not installed).
3. **torch >= 2.6 ``weights_only`` default.** mmengine 0.10.7 calls
   ``torch.load`` without ``weights_only`` and its own checkpoints hold a
   message hub (``HistoryBuffer``, numpy arrays and scalars). Instead of
   switching the safe loader off, we keep ``weights_only=True`` and allow the
   handful of mmengine and numpy types such checkpoints contain (see
   :func:`safe_checkpoint_globals`). A file that needs anything else fails
   with torch's message, which names the offending global; set the
   environment variable ``MMRRSIS_UNSAFE_LOAD=1`` to load a checkpoint you
   trust with ``weights_only=False``.
"""
import importlib
import os
import sys
import types
import warnings
from typing import List

import torch
import torch.nn.functional as F

_APPLIED = False


# ---------------------------------------------------------------- mmcv-lite
def _point_sample(input: torch.Tensor,
                  points: torch.Tensor,
                  align_corners: bool = False,
                  **kwargs) -> torch.Tensor:
    """Pure PyTorch ``mmcv.ops.point_sample``.

    Args:
        input (Tensor): Feature map, shape (N, C, H, W).
        points (Tensor): Relative point coordinates in [0, 1], shape
            (N, P, 2) or (N, Hg, Wg, 2).

    Returns:
        Tensor: Sampled features, shape (N, C, P) or (N, C, Hg, Wg).
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)
    out = F.grid_sample(
        input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if add_dim else out


def _sigmoid_focal_loss(input: torch.Tensor,
                        target: torch.Tensor,
                        gamma: float = 2.0,
                        alpha: float = 0.25,
                        weight=None,
                        reduction: str = 'mean') -> torch.Tensor:
    """Pure PyTorch ``mmcv.ops.sigmoid_focal_loss``.

    Args:
        input (Tensor): Logits, shape (N, C).
        target (Tensor): Class indices, shape (N,); an index equal to C
            means background (no positive class), as in mmcv.
        weight (Tensor, optional): Per-class weights, shape (C,); as in
            mmcv's kernel, row n is scaled by ``weight[target[n]]``
            (background rows are left unscaled).
        reduction (str): 'none', 'sum', or 'mean', which (as in mmcv)
            divides the sum by N, not by N * C.
    """
    num_classes = input.size(1)
    target = target.long()
    one_hot = F.one_hot(target.clamp(max=num_classes),
                        num_classes + 1)[:, :num_classes].type_as(input)
    prob = input.sigmoid()
    pt = (1 - prob) * one_hot + prob * (1 - one_hot)
    focal_w = (alpha * one_hot + (1 - alpha) * (1 - one_hot)) * pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(
        input, one_hot, reduction='none') * focal_w
    if weight is not None:
        valid = target < num_classes
        row_w = torch.ones_like(input[:, 0])
        row_w[valid] = weight.type_as(input)[target[valid]]
        loss = loss * row_w.view(-1, 1)
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    if reduction == 'sum':
        return loss.sum()
    return loss


def _make_ops_stub(reason: str) -> types.ModuleType:
    mod = types.ModuleType('mmcv.ops')
    mod.__doc__ = ('Pure-PyTorch stand-in for mmcv.ops installed by mmrrsis '
                   f'because the compiled ops are unavailable ({reason}).')
    mod.point_sample = _point_sample
    mod.sigmoid_focal_loss = _sigmoid_focal_loss
    mod.MMRRSIS_STUB = True

    def __getattr__(name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        raise ModuleNotFoundError(
            f'mmcv.ops.{name} needs the compiled mmcv ops, which this '
            f'environment lacks ({reason}). mmrrsis does not need them; '
            'install full mmcv 2.1.x to use MMSeg models that do.')

    mod.__getattr__ = __getattr__
    return mod


def patch_mmcv_ops() -> bool:
    """Install the ``mmcv.ops`` stand-in when compiled ops are missing.

    Returns:
        bool: True when the stand-in was installed.
    """
    if 'mmcv.ops' in sys.modules:
        return bool(getattr(sys.modules['mmcv.ops'], 'MMRRSIS_STUB', False))
    try:
        importlib.import_module('mmcv.ops')
        return False
    except (ImportError, OSError) as err:  # missing mmcv._ext, bad ABI
        for key in [k for k in sys.modules if k.startswith('mmcv.ops.')]:
            del sys.modules[key]
        stub = _make_ops_stub(str(err))
        # mmcv's own notice that deformable attention is missing; expected
        # with mmcv-lite and irrelevant to mmrrsis.
        warnings.filterwarnings(
            'ignore', message='Fail to import ``MultiScaleDeformableAttention')
        sys.modules['mmcv.ops'] = stub
        import mmcv
        mmcv.ops = stub
        return True


def has_compiled_mmcv_ops() -> bool:
    """Whether the real compiled ``mmcv.ops`` is importable."""
    mod = sys.modules.get('mmcv.ops')
    return mod is not None and not getattr(mod, 'MMRRSIS_STUB', False)


# ---------------------------------------------------------------- mmpretrain
def patch_mmpretrain_multimodal() -> bool:
    """Disable mmpretrain's multimodal models if transformers cannot host
    them; backbones are unaffected. Returns True when it did so."""
    if 'mmpretrain.models' in sys.modules:
        return False
    try:
        import transformers.modeling_utils as tmu
    except ImportError:
        return False
    if hasattr(tmu, 'apply_chunking_to_forward'):
        return False
    try:
        dep = importlib.import_module('mmpretrain.utils.dependency')
    except ImportError:
        return False
    dep.WITH_MULTIMODAL = False
    return True


# ---------------------------------------------------------------- checkpoints
def _history_buffer_getattr(obj, name):
    """Stand-in for ``builtins.getattr`` during a weights-only load.

    ``HistoryBuffer.__getstate__`` pickles its statistics methods, which
    pickle stores as ``getattr(HistoryBuffer, 'mean')``; every MMEngine
    checkpoint's message hub holds such buffers. Allowing the real
    ``getattr`` would reopen arbitrary code execution, so only public
    methods of ``HistoryBuffer`` are resolved here.
    """
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer
    if (obj is HistoryBuffer and isinstance(name, str)
            and not name.startswith('_')
            and callable(getattr(HistoryBuffer, name, None))):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not allowed: only HistoryBuffer '
        'statistics methods are')


def safe_checkpoint_globals() -> List[object]:
    """Types that MMEngine checkpoints hold besides tensors and containers
    (plus a restricted ``getattr``, see :func:`_history_buffer_getattr`)."""
    import numpy as np
    allowed: List[object] = [np.ndarray, np.dtype]
    try:
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy layout changed
        from numpy._core.multiarray import _reconstruct, scalar
    allowed += [_reconstruct, scalar]
    # numpy >= 1.25 pickles dtypes through numpy.dtypes.*DType classes
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes)
                    if n.endswith('DType')]
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
        allowed += [HistoryBuffer,
                    (_history_buffer_getattr, 'builtins.getattr')]
    except ImportError:  # pragma: no cover
        pass
    from collections import OrderedDict, defaultdict
    allowed += [OrderedDict, defaultdict]
    try:
        from mmengine.config import ConfigDict
        allowed.append(ConfigDict)
    except ImportError:  # pragma: no cover
        pass
    return allowed


def safe_torch_load(filename, map_location=None):
    """``torch.load`` with ``weights_only=True`` plus MMEngine's own types.

    Set ``MMRRSIS_UNSAFE_LOAD=1`` to fall back to ``weights_only=False`` for
    a file you trust (e.g. an old checkpoint holding ``argparse.Namespace``).
    """
    if os.environ.get('MMRRSIS_UNSAFE_LOAD', '0') == '1':
        return torch.load(filename, map_location=map_location,
                          weights_only=False)
    with torch.serialization.safe_globals(safe_checkpoint_globals()):
        try:
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
        except Exception as err:  # pickle.UnpicklingError and friends
            if 'Weights only load failed' not in str(err):
                raise
            raise RuntimeError(
                f'Refusing to unpickle {filename!s}: it holds objects '
                'outside the tensor/MMEngine allowlist (details below). If '
                'you trust this file, set MMRRSIS_UNSAFE_LOAD=1.\n'
                f'{err}') from None


def patch_checkpoint_loader() -> None:
    """Route MMEngine's local-file checkpoint loading through
    :func:`safe_torch_load` (covers ``load_from``, ``--resume`` and
    ``load_checkpoint``)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    def load_from_local(filename, map_location):
        filename = os.path.expanduser(filename)
        if not os.path.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return safe_torch_load(filename, map_location=map_location)

    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)


def apply_all() -> None:
    """Apply every shim once (called by ``import mmrrsis``)."""
    global _APPLIED
    if _APPLIED:
        return
    patch_mmcv_ops()
    patch_mmpretrain_multimodal()
    patch_checkpoint_loader()
    _APPLIED = True
