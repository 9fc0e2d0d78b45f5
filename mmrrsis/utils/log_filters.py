"""One log line where MMEngine, MMSegmentation and OpenCV print one per item.

Installed by ``import mmrrsis`` (:func:`mmrrsis.utils.compat.apply_all`).
Three sources of noise are collapsed; nothing is lost silently, and the
environment variable ``MMRRSIS_VERBOSE_LOG=1`` turns every filter off:

1. **Frozen parameters.** MMEngine's ``DefaultOptimWrapperConstructor``
   logs ``<name> is skipped since its requires_grad=False`` once per frozen
   parameter (101 lines for a frozen all-MiniLM-L6-v2). While an optimiser
   is being built those lines are collected and replaced by one summary
   line, grouped by module (consecutive layer indices merged)::

       101 parameters (22.7M values) have requires_grad=False and are left
       out of the optimiser: text_encoder.hf.model.embeddings (5),
       text_encoder.hf.model.encoder.layer.0-5 (96)
       (MMRRSIS_VERBOSE_LOG=1 lists each)

   Lines logged outside an optimiser build (a custom constructor that
   overrides ``__call__``) pass unchanged.
2. **MMSegmentation's advice and deprecation warnings** (``build_loss``
   would be deprecated, the binary-segmentation ``out_channels = 1``
   suggestion, ``avg_non_ignore``, the ``align_corners`` size hint) are
   shown at most once per process, one line per kind. Python's default
   filter shows a warning once per code location and text, but every
   ``warnings.catch_warnings`` (transformers uses many) resets that memory,
   so they came back on every model build.
3. **OpenCV's libtiff warnings.** Decoding a GeoTIFF prints
   ``TIFFReadDirectory: Unknown field with tag 33550 ...`` for each
   georeferencing tag, for every file read. ``cv2.imdecode`` / ``cv2.imread``
   of TIFF data run with OpenCV's log level at ERROR, and the first file
   that carries GeoTIFF/GDAL tags gets one log line that says so
   (mmrrsis reads pixels only; georeferencing is not used). Other formats
   and other OpenCV messages are untouched. A user-set ``OPENCV_LOG_LEVEL``
   is respected (the TIFF wrapper is then not installed).

Why these means: the frozen-parameter lines come from a loop inside MMEngine
that exposes no switch, so a ``logging.Filter`` on the current MMLogger,
active only during ``DefaultOptimWrapperConstructor.__call__``, is the
narrowest hook; libtiff's warnings are printed by OpenCV's C++ logger, which
Python cannot filter line by line, so the level is lowered only around TIFF
decodes.
"""
import functools
import logging
import os
import re
import struct
import warnings
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

VERBOSE_ENV = 'MMRRSIS_VERBOSE_LOG'

_INSTALLED = False

_FROZEN_RE = re.compile(
    r'^(?P<name>\S+) is skipped since its requires_grad=False$')

#: MMSegmentation warnings shown at most once per process (regexes matched
#: against the start of the message, as ``warnings.filterwarnings`` does).
MMSEG_ONCE_WARNINGS: Tuple[str, ...] = (
    r'``build_(backbone|neck|head|loss|segmentor)`` would be deprecated',
    r'For binary segmentation, we suggest using',
    r'threshold is not defined for binary',
    r'Default ``avg_non_ignore`` is False',
    r'When align_corners=True, the output would more aligned',
    r'The draw is False, it means that the hook for visualization',
)

#: TIFF tags that libtiff does not know and reports per file (GeoTIFF keys,
#: GDAL metadata / nodata).
GEOTIFF_TAGS: Dict[int, str] = {
    33550: 'ModelPixelScale',
    33922: 'ModelTiepoint',
    34264: 'ModelTransformation',
    34735: 'GeoKeyDirectory',
    34736: 'GeoDoubleParams',
    34737: 'GeoAsciiParams',
    42112: 'GDAL_METADATA',
    42113: 'GDAL_NODATA',
}


def verbose_requested() -> bool:
    """Whether ``MMRRSIS_VERBOSE_LOG=1`` asks for every original line."""
    return os.environ.get(VERBOSE_ENV, '0') == '1'


# ------------------------------------------------------ frozen parameters
def group_parameter_names(names: Iterable[str]) -> List[Tuple[str, int]]:
    """Group parameter names by module for a one-line summary.

    A name is cut after its first numeric component
    (``...encoder.layer.3.attention.self.query.weight`` ->
    ``...encoder.layer.3``), or, without one, before its last two
    components (``...embeddings.LayerNorm.weight`` -> ``...embeddings``).
    Groups that differ only in a trailing index that counts up by one are
    merged (``layer.0`` .. ``layer.5`` -> ``layer.0-5``).

    Returns:
        list[tuple[str, int]]: (group, number of parameters), in order of
        first appearance.
    """
    groups: 'OrderedDict[str, int]' = OrderedDict()
    for name in names:
        parts = name.strip('.').split('.')
        key = None
        for i, part in enumerate(parts[:-1]):
            if part.isdigit():
                key = '.'.join(parts[:i + 1])
                break
        if key is None:
            key = '.'.join(parts[:-2]) if len(parts) > 2 else '.'.join(
                parts[:-1]) or parts[0]
        groups[key] = groups.get(key, 0) + 1
    merged: List[Tuple[str, int]] = []
    run: Optional[List] = None  # [stem, first, last, count]
    for key, count in groups.items():
        stem, _, idx = key.rpartition('.')
        if idx.isdigit() and run is not None and run[0] == stem \
                and int(idx) == run[2] + 1:
            run[2] = int(idx)
            run[3] += count
            continue
        if run is not None:
            merged.append(_run_label(run))
            run = None
        if idx.isdigit() and stem:
            run = [stem, int(idx), int(idx), count]
        else:
            merged.append((key, count))
    if run is not None:
        merged.append(_run_label(run))
    return merged


def _run_label(run: List) -> Tuple[str, int]:
    stem, first, last, count = run
    span = f'{first}' if first == last else f'{first}-{last}'
    return f'{stem}.{span}', count


def _format_count(n: int) -> str:
    if n >= 1e6:
        return f'{n / 1e6:.1f}M'
    if n >= 1e3:
        return f'{n / 1e3:.1f}K'
    return str(n)


def frozen_summary(names: Sequence[str],
                   sizes: Optional[Dict[str, int]] = None) -> str:
    """The one line that replaces MMEngine's per-parameter lines."""
    values = ''
    if sizes:
        total = sum(sizes.get(n.strip('.'), 0) for n in names)
        values = f' ({_format_count(total)} values)'
    groups = ', '.join(f'{g} ({c})' for g, c in group_parameter_names(names))
    return (f'{len(names)} parameters{values} have requires_grad=False and '
            f'are left out of the optimiser: {groups} '
            f'({VERBOSE_ENV}=1 lists each)')


class FrozenParamCollector(logging.Filter):
    """Drop ``... is skipped since its requires_grad=False`` records and
    remember the parameter names."""

    def __init__(self) -> None:
        super().__init__()
        self.names: List[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        match = _FROZEN_RE.match(str(record.getMessage()))
        if match is None:
            return True
        self.names.append(match.group('name'))
        return False


def _patch_optim_constructor() -> None:
    from mmengine.logging import MMLogger
    from mmengine.optim import DefaultOptimWrapperConstructor
    original = DefaultOptimWrapperConstructor.__call__
    if getattr(original, '_mmrrsis_quiet', False):
        return

    @functools.wraps(original)
    def __call__(self, model):
        logger = MMLogger.get_current_instance()
        collector = FrozenParamCollector()
        logger.addFilter(collector)
        try:
            return original(self, model)
        finally:
            logger.removeFilter(collector)
            if collector.names:
                inner = getattr(model, 'module', model)
                sizes = {n: p.numel() for n, p in inner.named_parameters()}
                logger.warning(frozen_summary(collector.names, sizes))

    __call__._mmrrsis_quiet = True
    DefaultOptimWrapperConstructor.__call__ = __call__


# ------------------------------------------------------ MMSeg warnings
_ONCE_PATTERNS = [re.compile(p, re.I) for p in MMSEG_ONCE_WARNINGS]
_SHOWN_ONCE: set = set()


def _once_mmseg_warnings() -> None:
    """Wrap ``warnings.showwarning`` so that each kind of MMSeg advice is
    printed once per process, as one line (one pattern of
    :data:`MMSEG_ONCE_WARNINGS`, whatever sizes or layers it names; the
    echo of MMSeg's source line is left out).

    The ``'once'`` filter action is no help here: CPython clears its
    registry whenever the filter list changes, which every
    ``warnings.catch_warnings`` block does. ``catch_warnings(record=True)``
    (pytest, transformers) bypasses the wrapper while it is active, so
    recorded warnings are unchanged.
    """
    previous = warnings.showwarning
    if getattr(previous, '_mmrrsis_quiet', False):
        return

    @functools.wraps(previous)
    def showwarning(message, category, filename, lineno, file=None,
                    line=None):
        text = str(message)
        for i, pattern in enumerate(_ONCE_PATTERNS):
            if pattern.match(text):
                if i in _SHOWN_ONCE:
                    return None
                _SHOWN_ONCE.add(i)
                # one line: no echo of MMSeg's ``warnings.warn(`` source line
                return previous(
                    category(f'{text} [mmrrsis: shown once]'), category,
                    filename, lineno, file, '')
        return previous(message, category, filename, lineno, file, line)

    showwarning._mmrrsis_quiet = True
    warnings.showwarning = showwarning


# ------------------------------------------------------ OpenCV / libtiff
def _is_tiff(head: bytes) -> bool:
    return head[:4] in (b'II*\x00', b'MM\x00*', b'II+\x00', b'MM\x00+')


def tiff_tags(data: bytes) -> List[int]:
    """Tag ids of the first IFD of TIFF ``data`` (classic or BigTIFF);
    an empty list when ``data`` is not a readable TIFF header."""
    if len(data) < 8 or not _is_tiff(data):
        return []
    end = '<' if data[:2] == b'II' else '>'
    try:
        if data[2:4] in (b'*\x00', b'\x00*'):  # classic TIFF
            (offset, ) = struct.unpack(end + 'I', data[4:8])
            (count, ) = struct.unpack(end + 'H', data[offset:offset + 2])
            start, size, fmt = offset + 2, 12, end + 'H'
        else:  # BigTIFF
            (offset, ) = struct.unpack(end + 'Q', data[8:16])
            (count, ) = struct.unpack(end + 'Q', data[offset:offset + 8])
            start, size, fmt = offset + 8, 20, end + 'H'
        return [
            struct.unpack(fmt, data[start + i * size:start + i * size + 2])[0]
            for i in range(min(count, 4096))
        ]
    except struct.error:
        return []


class _TiffQuiet:
    """Wraps ``cv2.imdecode`` / ``cv2.imread``: TIFF data is decoded with
    OpenCV's log level at ERROR; the first GeoTIFF gets one warning."""

    def __init__(self) -> None:
        self.noticed = False

    def notice(self, data: bytes, source: str) -> None:
        if self.noticed:
            return
        found = [t for t in tiff_tags(data) if t in GEOTIFF_TAGS]
        if not found:
            return
        self.noticed = True
        names = ', '.join(f'{GEOTIFF_TAGS[t]} ({t})' for t in found)
        from mmengine.logging import MMLogger
        MMLogger.get_current_instance().warning(
            f'{source}: GeoTIFF georeferencing tags {names} are not read '
            '(mmrrsis uses the pixels only). OpenCV\'s per-file '
            '"TIFFReadDirectory: Unknown field with tag ..." warnings are '
            f'hidden; this line is shown once ({VERBOSE_ENV}=1 or '
            'OPENCV_LOG_LEVEL=WARNING shows them).')

    def quiet(self, fn, *args, **kwargs):
        import cv2
        logging_ = cv2.utils.logging
        level = logging_.getLogLevel()
        if level < logging_.LOG_LEVEL_WARNING:  # already quieter
            return fn(*args, **kwargs)
        logging_.setLogLevel(logging_.LOG_LEVEL_ERROR)
        try:
            return fn(*args, **kwargs)
        finally:
            logging_.setLogLevel(level)


def _patch_cv2_tiff() -> None:
    if 'OPENCV_LOG_LEVEL' in os.environ:
        return
    try:
        import cv2
        cv2.utils.logging.getLogLevel  # noqa: B018
    except (ImportError, AttributeError):  # pragma: no cover
        return
    if getattr(cv2.imdecode, '_mmrrsis_quiet', False):
        return
    state = _TiffQuiet()
    imdecode, imread = cv2.imdecode, cv2.imread

    @functools.wraps(imdecode)
    def quiet_imdecode(buf, *args, **kwargs):
        try:
            head = bytes(memoryview(buf).cast('B')[:4])
        except (TypeError, ValueError):
            head = b''
        if not _is_tiff(head):
            return imdecode(buf, *args, **kwargs)
        if not state.noticed:
            state.notice(bytes(memoryview(buf).cast('B')[:1 << 16]),
                         'A TIFF image')
        return state.quiet(imdecode, buf, *args, **kwargs)

    @functools.wraps(imread)
    def quiet_imread(filename, *args, **kwargs):
        try:
            with open(filename, 'rb') as f:
                head = f.read(1 << 16 if not state.noticed else 4)
        except (OSError, TypeError):
            head = b''
        if not _is_tiff(head):
            return imread(filename, *args, **kwargs)
        if not state.noticed:
            state.notice(head, str(filename))
        return state.quiet(imread, filename, *args, **kwargs)

    quiet_imdecode._mmrrsis_quiet = True
    quiet_imread._mmrrsis_quiet = True
    cv2.imdecode = quiet_imdecode
    cv2.imread = quiet_imread


def install() -> bool:
    """Install the three filters once (no-op with ``MMRRSIS_VERBOSE_LOG=1``).

    Returns:
        bool: True when the filters are active.
    """
    global _INSTALLED
    if verbose_requested():
        return False
    if _INSTALLED:
        return True
    _patch_optim_constructor()
    _once_mmseg_warnings()
    _patch_cv2_tiff()
    _INSTALLED = True
    return True
