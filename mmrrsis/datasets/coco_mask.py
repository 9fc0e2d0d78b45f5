"""COCO ``segmentation`` fields (polygons, RLE) as lazily decoded masks.

RRSIS-D ships its masks inside ``instances.json`` in the COCO style, as
RMSIN's ``refer.py`` reads them with pycocotools. A ``segmentation`` can be

- a list of polygons ``[[x1, y1, x2, y2, ...], ...]`` (RefCOCO style),
- one RLE dict ``{'size': [h, w], 'counts': str | bytes | list[int]}``
  (compressed when ``counts`` is a string, uncompressed when a list),
- a list of RLE dicts (what the RRSIS-D release holds: one compressed RLE
  per annotation, wrapped in a list).

Decoding uses pycocotools, the library the official loaders use, so masks
match theirs bit for bit (polygon rasterisation included). Parts are merged
by union. RMSIN sums the decoded parts and keeps pixels equal to 1, so where
two parts overlap it would mark background; with RRSIS-D's single RLE per
annotation both rules give the same mask.
"""
from typing import Any, Optional, Tuple

import numpy as np


def _mask_utils():
    try:
        from pycocotools import mask as mask_utils
    except ImportError as err:  # pragma: no cover - a runtime requirement
        raise ImportError(
            'pycocotools is needed to decode COCO masks (RRSIS-D): '
            'pip install pycocotools') from err
    return mask_utils


def segmentation_kind(segm: Any) -> Optional[str]:
    """Classify a COCO ``segmentation`` field without decoding it.

    Args:
        segm: The ``segmentation`` value of an annotation.

    Returns:
        str | None: ``'polygon'``, ``'rle'`` (a dict, compressed or not),
        ``'rle_list'`` (a non-empty list of RLE dicts), or None when the value
        has none of these shapes (empty list, missing keys, ...).
    """
    if isinstance(segm, dict):
        return 'rle' if 'counts' in segm and 'size' in segm else None
    if isinstance(segm, (list, tuple)) and segm:
        if all(isinstance(p, dict) and 'counts' in p and 'size' in p
               for p in segm):
            return 'rle_list'
        if all(isinstance(p, (list, tuple)) and len(p) >= 6
               and len(p) % 2 == 0 for p in segm):
            return 'polygon'
    return None


def to_rles(segm: Any, height: int, width: int) -> list:
    """Turn any supported ``segmentation`` into pycocotools RLE objects.

    Args:
        segm: The ``segmentation`` value (see the module docstring).
        height (int): Image height (used for polygons and to check RLEs).
        width (int): Image width.

    Returns:
        list[dict]: Compressed RLEs, one per part.

    Raises:
        ValueError: The value has no supported shape, or an RLE's ``size``
            is not ``[height, width]``.
    """
    mask_utils = _mask_utils()
    kind = segmentation_kind(segm)
    if kind is None:
        raise ValueError(f'unsupported COCO segmentation of type '
                         f'{type(segm).__name__}: {str(segm)[:80]!r}')
    if kind == 'polygon':
        return mask_utils.frPyObjects(
            [list(map(float, p)) for p in segm], height, width)
    parts = [segm] if kind == 'rle' else list(segm)
    rles = []
    for part in parts:
        size = [int(s) for s in part['size']]
        if size != [int(height), int(width)]:
            raise ValueError(f'RLE size {size} differs from the image size '
                             f'{[int(height), int(width)]}')
        counts = part['counts']
        if isinstance(counts, list):  # uncompressed RLE
            rles.append(mask_utils.frPyObjects(dict(part), *size))
        else:
            if isinstance(counts, str):
                counts = counts.encode('ascii')
            rles.append(dict(size=size, counts=counts))
    return rles


def segmentation_area(segm: Any, height: int, width: int) -> int:
    """Foreground pixels of the union of the parts, computed on the RLEs
    (no pixel raster is built, so this is cheap enough for load time)."""
    mask_utils = _mask_utils()
    rles = to_rles(segm, height, width)
    merged = rles[0] if len(rles) == 1 else mask_utils.merge(rles)
    return int(mask_utils.area(merged))


def decode_segmentation(segm: Any, height: int, width: int) -> np.ndarray:
    """Decode a ``segmentation`` to a ``uint8`` ``(height, width)`` mask
    with values {0, 1} (union of the parts)."""
    mask_utils = _mask_utils()
    rles = to_rles(segm, height, width)
    merged = rles[0] if len(rles) == 1 else mask_utils.merge(rles)
    return np.ascontiguousarray(mask_utils.decode(merged), dtype=np.uint8)


class CocoMask:
    """A COCO ``segmentation`` that decodes itself when read as an array.

    Datasets put it in a data info as ``gt_mask``; ``LoadReferringAnnotations``
    calls ``np.asarray(results['gt_mask'])``, which decodes it there, in the
    data loader worker, instead of at dataset load time (a 17k-sample split
    of 800x800 masks would otherwise take minutes and ~11 GB). It pickles
    as the compact RLE, so MMEngine's serialised data list stays small.

    Args:
        segmentation: The annotation's ``segmentation`` value.
        height (int): Image height.
        width (int): Image width.
    """

    __slots__ = ('segmentation', 'height', 'width')

    def __init__(self, segmentation: Any, height: int, width: int) -> None:
        self.segmentation = segmentation
        self.height = int(height)
        self.width = int(width)

    @property
    def shape(self) -> Tuple[int, int]:
        """``(height, width)`` of the decoded mask."""
        return (self.height, self.width)

    def area(self) -> int:
        """Foreground pixel count (from the RLE, without decoding)."""
        return segmentation_area(self.segmentation, self.height, self.width)

    def decode(self) -> np.ndarray:
        """The ``uint8`` {0, 1} mask of shape ``(height, width)``."""
        return decode_segmentation(self.segmentation, self.height,
                                   self.width)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        mask = self.decode()
        return mask if dtype is None else mask.astype(dtype)

    def __getstate__(self):
        return (self.segmentation, self.height, self.width)

    def __setstate__(self, state) -> None:
        self.segmentation, self.height, self.width = state

    def __eq__(self, other) -> bool:
        return (isinstance(other, CocoMask)
                and self.__getstate__() == other.__getstate__())

    def __repr__(self) -> str:
        kind = segmentation_kind(self.segmentation)
        return f'CocoMask({kind}, {self.height}x{self.width})'
