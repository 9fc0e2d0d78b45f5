"""Load the binary mask of the referred object."""
from typing import Optional

import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from .load_rs_image_from_file import _decode_cv2, _decode_file_order


def _sample_name(results: dict) -> str:
    """Short description of a sample for error messages."""
    parts = [f'{k}={results[k]!r}'
             for k in ('sample_idx', 'ref_id', 'img_path')
             if results.get(k) is not None]
    return ', '.join(parts) if parts else 'unknown sample'


@TRANSFORMS.register_module()
class LoadReferringAnnotations(BaseTransform):
    """Load the mask of the referred object as a {0, 1} ``gt_seg_map``.

    The mask file is read unchanged (OpenCV, then PIL / tifffile) and
    binarised with ``value > threshold``; the default 50 is the RefSegRS
    convention (its masks are 8-bit with soft edges). For multi-channel mask
    files the first channel of the file is used.

    If the sample already carries an in-memory mask ``results['gt_mask']``
    (a numpy array, e.g. decoded from RLE by a dataset), it is used instead
    of reading ``seg_map_path``; it is binarised with ``value > 0`` (so both
    {0, 1}/bool and {0, 255} masks work) and the threshold is not applied.

    When ``ori_shape`` is known (the image was loaded first) the mask must
    have that size, otherwise a ``ValueError`` names both files.

    Required Keys:

    - seg_map_path, or gt_mask
    - seg_fields (optional, created when missing)

    Added Keys:

    - gt_seg_map (np.uint8, (H, W), values {0: background, 1: target})
    - seg_fields (gains 'gt_seg_map')

    Args:
        threshold (float): Foreground is ``value > threshold``. Defaults
            to 50.
        backend_args (dict, optional): Arguments of the mmengine file backend.
            Defaults to None.
    """

    def __init__(self,
                 threshold: float = 50,
                 backend_args: Optional[dict] = None) -> None:
        self.threshold = threshold
        self.backend_args = backend_args.copy() if backend_args else None

    def _read_mask(self, path: str) -> np.ndarray:
        """Read the first channel of a mask file."""
        name = self.__class__.__name__
        try:
            content = fileio.get(path, backend_args=self.backend_args)
        except (FileNotFoundError, IsADirectoryError) as err:
            raise FileNotFoundError(
                f'{name}: mask file not found: {path}') from err
        mask = _decode_cv2(content)
        if mask is not None and mask.ndim == 3 and mask.shape[2] in (3, 4):
            mask = mask[..., 2]  # OpenCV gives B, G, R(, A): R is band 1
        elif mask is None or (mask.ndim == 3 and mask.shape[2] > 4):
            mask = _decode_file_order(content)
            if mask is not None and mask.ndim == 3:
                mask = mask[..., 0]
        if mask is None or mask.size == 0:
            raise OSError(f'{name}: cannot decode mask file {path} '
                          f'({len(content)} bytes)')
        if mask.ndim == 3:
            mask = mask[..., 0]
        return mask

    def transform(self, results: dict) -> dict:
        """Load and binarise the mask.

        Args:
            results (dict): Data info with ``seg_map_path`` or ``gt_mask``.

        Returns:
            dict: ``results`` with ``gt_seg_map`` and updated ``seg_fields``.
        """
        name = self.__class__.__name__
        source: str
        if results.get('gt_mask') is not None:
            mask = np.asarray(results['gt_mask'])
            if mask.ndim == 3:
                mask = mask[..., 0]
            if mask.ndim != 2:
                raise ValueError(f'{name}: gt_mask must be (H, W), got '
                                 f'{mask.shape} for {_sample_name(results)}')
            gt = (mask > 0).astype(np.uint8)
            source = 'the in-memory gt_mask'
        else:
            path = results.get('seg_map_path')
            if not path:
                raise KeyError(
                    f"{name}: neither 'gt_mask' nor 'seg_map_path' is set "
                    f'for {_sample_name(results)}')
            mask = self._read_mask(str(path))
            gt = (mask > self.threshold).astype(np.uint8)
            source = str(path)
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(gt.shape) != tuple(ori_shape[:2]):
            raise ValueError(
                f'{name}: mask {source} has size {gt.shape} but the image '
                f"{results.get('img_path')} has size {tuple(ori_shape[:2])}")
        results['gt_seg_map'] = gt
        seg_fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in seg_fields:
            seg_fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(threshold={self.threshold}, '
                f'backend_args={self.backend_args})')
