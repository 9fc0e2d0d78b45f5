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
   :func:`safe_checkpoint_globals`). A checkpoint that needs anything else
   fails with torch's message, which names the offending global; set the
   environment variable ``MMRRSIS_UNSAFE_LOAD=1`` to load a checkpoint you
   trust with ``weights_only=False``. A file that is no checkpoint at all
   (an image, a config, an empty or cut-off file) is named for what it is
   (:class:`CheckpointFileError`), without that advice.
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


class CheckpointFileError(RuntimeError):
    """A file given as a checkpoint cannot be read as one: it is not a
    ``torch.save`` file at all (an image, a config, a plain pickle, ...), or
    it is cut off. The message says what the file is."""


#: ``torch.save``'s legacy (pre-1.6) format: pickle protocol 2, then the
#: magic number 0x1950a86a20f9469cfc6c as a 10-byte LONG1.
_TORCH_LEGACY_MAGIC = b'\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50'
_KNOWN_FORMATS = (
    (b'\x89PNG\r\n\x1a\n', 'a PNG image'),
    (b'\xff\xd8\xff', 'a JPEG image'),
    (b'II*\x00', 'a TIFF image'),
    (b'MM\x00*', 'a TIFF image'),
    (b'GIF8', 'a GIF image'),
    (b'BM', 'a BMP image'),
    (b'\x89HDF', 'an HDF5 file'),
    (b'\x1f\x8b', 'a gzip archive'),
    (b'%PDF', 'a PDF document'),
    (b'\x93NUMPY', 'a NumPy .npy array'),
    (b'\x7fELF', 'an executable (ELF)'),
)


def checkpoint_file_kind(filename: str) -> str:
    """What a local file given as a checkpoint is, from its first bytes.

    Returns:
        str: ``'torch-zip'`` (``torch.save``'s zip format, what MMEngine
        writes; the zip may still be cut off) or ``'torch-legacy'``
        (``torch.save``'s pre-1.6 format).

    Raises:
        CheckpointFileError: The file is empty, cut off, or something else
            (an image, text, a plain pickle, safetensors, ...); the message
            names what it is and that it is not a checkpoint.
    """
    import zipfile
    size = os.path.getsize(filename)
    if size == 0:
        raise CheckpointFileError(
            f'{filename} is empty (0 bytes), not a checkpoint: a save or '
            'copy of it was interrupted, or it was created empty.')
    with open(filename, 'rb') as f:
        head = f.read(512)
    if head.startswith(b'PK\x03\x04'):
        if not zipfile.is_zipfile(filename):
            raise CheckpointFileError(
                f'{filename} is an incomplete checkpoint: its zip archive '
                f'ends after {size} bytes without the central directory (a '
                'save or copy of it was interrupted, e.g. a killed job or a '
                'full disk). Use an earlier checkpoint.')
        with zipfile.ZipFile(filename) as zf:
            names = zf.namelist()
        if not any(n == 'data.pkl' or n.endswith('/data.pkl')
                   for n in names):
            raise CheckpointFileError(
                f'{filename} is a zip archive but not a torch checkpoint '
                f'(no data.pkl inside; it holds {names[:3]}...).')
        return 'torch-zip'
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return 'torch-legacy'
    for magic, what in _KNOWN_FORMATS:
        if head.startswith(magic):
            raise CheckpointFileError(
                f'{filename} is {what}, not a checkpoint (a .pth file '
                'written by torch.save, e.g. by MMEngine\'s CheckpointHook).')
    if len(head) >= 9 and head[8:9] == b'{' and int.from_bytes(
            head[:8], 'little') < size:
        raise CheckpointFileError(
            f'{filename} is a safetensors file, not a torch.save '
            'checkpoint: convert it (safetensors.torch.load_file, then '
            'torch.save({"state_dict": ...})) before loading it here.')
    if head.startswith(b'\x80'):
        raise CheckpointFileError(
            f'{filename} is a plain Python pickle, not a checkpoint written '
            'by torch.save (torch cannot load it, safely or not).')
    if b'\x00' not in head:
        text = None
        for cut in range(4):  # the 512-byte head may split a character
            try:
                text = head[:len(head) - cut].decode('utf-8')
                break
            except UnicodeDecodeError:
                continue
        if text is not None:
            first = text.strip().splitlines()[0][:60] if text.strip() \
                else ''
            raise CheckpointFileError(
                f'{filename} is a text file (it starts with {first!r}), '
                'not a checkpoint.')
    raise CheckpointFileError(
        f'{filename} is not a checkpoint: neither torch.save format (zip or '
        f'legacy) nor a known file type (it starts with {head[:8]!r}).')


def safe_torch_load(filename, map_location=None, mmap: bool = False):
    """``torch.load`` with ``weights_only=True`` plus MMEngine's own types.

    A local file is identified first (:func:`checkpoint_file_kind`): an
    image, a text file, a plain pickle, an empty or cut-off file raises
    :class:`CheckpointFileError` saying what the file is. Only a real
    ``torch.save`` file whose pickle holds types outside the allowlist
    gets the advice to set ``MMRRSIS_UNSAFE_LOAD=1`` (which falls back to
    ``weights_only=False`` for a file you trust, e.g. an old checkpoint
    holding ``argparse.Namespace``).

    Args:
        filename (str | file-like): The checkpoint.
        map_location: As in ``torch.load``.
        mmap (bool): Map the tensors' storage instead of reading it (zip
            format only; ignored otherwise). Cheap check that a checkpoint
            loads. Defaults to False.
    """
    kind = None
    if isinstance(filename, (str, os.PathLike)) and os.path.isfile(
            filename):
        kind = checkpoint_file_kind(str(filename))
    kwargs = dict(map_location=map_location)
    if mmap and kind == 'torch-zip':
        kwargs['mmap'] = True
    if os.environ.get('MMRRSIS_UNSAFE_LOAD', '0') == '1':
        return torch.load(filename, weights_only=False, **kwargs)
    with torch.serialization.safe_globals(safe_checkpoint_globals()):
        try:
            return torch.load(filename, weights_only=True, **kwargs)
        except Exception as err:  # pickle.UnpicklingError and friends
            if 'Weights only load failed' not in str(err):
                raise
            raise RuntimeError(
                f'Refusing to unpickle {filename!s}: it is a torch '
                'checkpoint whose pickle holds objects outside the '
                'tensor/MMEngine allowlist (torch names them below). If '
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
    importlib.import_module('.log_filters', __package__).install()
    _APPLIED = True
