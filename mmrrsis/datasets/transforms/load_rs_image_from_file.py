"""Load a remote sensing image (any band count / bit depth) as BGR uint8."""
import io
import os.path as osp
import warnings
from typing import Optional

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


def _decode_cv2(content: bytes) -> Optional[np.ndarray]:
    """Decode with OpenCV; channel order of 3/4-band results is B, G, R(, A).

    Returns None when OpenCV cannot decode the bytes.
    """
    buf = np.frombuffer(content, dtype=np.uint8)
    try:
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None


#: The first bytes of a TIFF / BigTIFF file, little and big endian.
_TIFF_MAGIC = (b'II*\x00', b'MM\x00*', b'II+\x00', b'MM\x00+')


def is_tiff(content: bytes) -> bool:
    """Whether ``content`` starts like a TIFF (or BigTIFF) file."""
    return content[:4] in _TIFF_MAGIC


def _decode_rasterio(content: bytes) -> Optional[np.ndarray]:
    """Decode a TIFF with rasterio (GDAL), every band in file order.

    OpenCV reads a GDAL-written multi-band GeoTIFF (e.g. 4 bands uint16,
    photometric MinIsBlack) as one grey band; GDAL reads what it wrote.
    A palette image is expanded through its colour map (R, G, B).

    Returns:
        np.ndarray | None: (H, W, bands) in file order, the file's dtype;
        None when rasterio is not installed or cannot read the bytes.
    """
    try:
        from rasterio.enums import ColorInterp
        from rasterio.errors import NotGeoreferencedWarning
        from rasterio.io import MemoryFile
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            with MemoryFile(content) as mem, mem.open() as ds:
                arr = ds.read()
                if ds.count == 1 and ds.colorinterp[0] == ColorInterp.palette:
                    cmap = ds.colormap(1)
                    lut = np.zeros((max(cmap) + 1, 3), np.uint8)
                    for k, rgba in cmap.items():
                        lut[k] = rgba[:3]
                    return lut[np.clip(arr[0], 0, len(lut) - 1)]
    except Exception:  # noqa: BLE001 - RasterioIOError & co -> next decoder
        return None
    return np.moveaxis(arr, 0, -1)


def _decode_file_order(content: bytes) -> Optional[np.ndarray]:
    """Decode with PIL, then tifffile (if installed); bands in file order."""
    try:
        from PIL import Image
        with Image.open(io.BytesIO(content)) as pil_img:
            if pil_img.mode == 'P':
                pil_img = pil_img.convert('RGB')
            return np.asarray(pil_img)
    except Exception:  # noqa: BLE001 - any PIL failure -> next decoder
        pass
    try:
        import tifffile
    except ImportError:
        return None
    try:
        arr = tifffile.imread(io.BytesIO(content))
    except Exception:  # noqa: BLE001
        return None
    # tifffile may return planar (bands, H, W) data; move bands last.
    if arr.ndim == 3 and arr.shape[0] < min(arr.shape[1:]) and \
            arr.shape[0] <= 16 and arr.shape[2] > 16:
        arr = np.transpose(arr, (1, 2, 0))
    return arr


def rescale_to_uint8(img: np.ndarray) -> np.ndarray:
    """Linearly map an image to uint8 using its own min and max.

    uint8 input is returned unchanged; bool becomes {0, 255}. For any other
    dtype (uint16, int, float) the per-image minimum maps to 0 and the
    per-image maximum to 255 (one min/max over all kept bands, so the colour
    balance between bands is preserved). NaN/inf are treated as 0 first. A
    constant image becomes all zeros.

    Args:
        img (np.ndarray): Image of shape (H, W) or (H, W, C).

    Returns:
        np.ndarray: uint8 image of the same shape.
    """
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.bool_:
        return img.astype(np.uint8) * 255
    data = np.nan_to_num(img.astype(np.float64), nan=0.0, posinf=0.0,
                         neginf=0.0)
    lo, hi = float(data.min()), float(data.max())
    if hi <= lo:
        return np.zeros(img.shape, dtype=np.uint8)
    out = (data - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def to_bgr3(img: np.ndarray, bgr_order: bool) -> np.ndarray:
    """Bring a decoded image to exactly 3 channels in B, G, R order.

    Args:
        img (np.ndarray): Decoded image, (H, W) or (H, W, C).
        bgr_order (bool): Whether the first three channels are already in
            B, G, R order (OpenCV decoding of 3/4-band files). Otherwise they
            are taken to be R, G, B (file order) and reversed.

    Returns:
        np.ndarray: (H, W, 3) array, same dtype as the input.
    """
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3:
        raise ValueError(f'expected a 2-D or 3-D image, got shape '
                         f'{img.shape}')
    c = img.shape[2]
    if c in (1, 2):  # grey or grey + alpha
        return np.repeat(img[..., :1], 3, axis=2)
    rgb_or_bgr = img[..., :3]
    if not bgr_order:
        rgb_or_bgr = rgb_or_bgr[..., ::-1]
    return np.ascontiguousarray(rgb_or_bgr)


def read_rs_image(path: str, backend_args: Optional[dict] = None,
                  caller: str = 'read_rs_image') -> np.ndarray:
    """Read an image file as BGR uint8 (H, W, 3) following the RS policy.

    See :class:`LoadRSImageFromFile` for the band and bit-depth policy.

    Args:
        path (str): Image file path (any mmengine file backend).
        backend_args (dict, optional): mmengine file backend arguments.
        caller (str): Name used as the prefix of error messages.

    Returns:
        np.ndarray: uint8 array of shape (H, W, 3), channels B, G, R.

    Raises:
        FileNotFoundError: The file does not exist.
        OSError: The file exists but no decoder can read it.
    """
    try:
        content = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'{caller}: image file not found: {path}') from err
    except IsADirectoryError as err:
        raise FileNotFoundError(
            f'{caller}: expected an image file but found a directory: '
            f'{path}') from err
    img, bgr_order = None, True
    if is_tiff(content):
        img = _decode_rasterio(content)
        bgr_order = False
    if img is None:
        img = _decode_cv2(content)
        bgr_order = True
    if img is None or (img.ndim == 3 and img.shape[2] > 4):
        img = _decode_file_order(content)
        bgr_order = False
    if img is None or img.size == 0:
        raise OSError(f'{caller}: cannot decode image file {path} '
                      f'({len(content)} bytes) with rasterio, OpenCV, PIL '
                      'or tifffile')
    img = to_bgr3(img, bgr_order=bgr_order)
    return np.ascontiguousarray(rescale_to_uint8(img))


@TRANSFORMS.register_module()
class LoadRSImageFromFile(BaseTransform):
    """Load a remote sensing image as a BGR uint8 (H, W, 3) array.

    TIFF files (GeoTIFF included; recognised by their first bytes, whatever
    the suffix) are read with rasterio (GDAL), which keeps every band and
    the bit depth (OpenCV reads a GDAL-written 4-band uint16 GeoTIFF as one
    grey band). Other files, and TIFFs rasterio cannot open, are read with
    OpenCV (``cv2.IMREAD_UNCHANGED``, which keeps the bit depth and up to 4
    bands); when OpenCV cannot decode a file (or it has more than 4 bands)
    PIL is tried, then ``tifffile`` if it is installed. The band policy
    below is the same whichever decoder reads the file (and the same as
    the large-scene reader's, :mod:`mmrrsis.apis.scene_inference`).

    Band and bit-depth policy:

    - Greyscale (1 band, or grey + alpha) is replicated to 3 identical
      channels; a palette image is expanded through its colour map.
    - 3 bands are taken as R, G, B in the file and returned as B, G, R
      (MMSeg convention; the data preprocessor converts to RGB).
    - 4 or more bands: only the first three bands are kept and read as
      R, G, B; the rest (alpha, NIR, ...) is dropped.
    - uint8 is kept as is. uint16, other integer types and float images are
      linearly rescaled per image to 0..255 with the image's own minimum and
      maximum over the kept bands (no clipping percentiles; a constant image
      becomes black). This normalises sensors with different bit depths but
      means absolute radiometry is not preserved across images.

    Required Keys:

    - img_path

    Added Keys:

    - img (np.uint8, (H, W, 3), BGR)
    - img_shape ((H, W))
    - ori_shape ((H, W))

    Args:
        backend_args (dict, optional): Arguments of the mmengine file backend.
            Defaults to None (local disk).
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Read ``results['img_path']``.

        Args:
            results (dict): Data info with ``img_path``.

        Returns:
            dict: ``results`` with ``img``, ``img_shape`` and ``ori_shape``.
        """
        path = results.get('img_path')
        if not path:
            raise KeyError('LoadRSImageFromFile: the sample has no '
                           f"'img_path' (keys: {sorted(results)})")
        img = read_rs_image(
            osp.expanduser(str(path)), self.backend_args,
            caller=self.__class__.__name__)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend_args={self.backend_args})'
