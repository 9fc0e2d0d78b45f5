"""Visualization hook writing one image per referring expression."""
import io
import os.path as osp
from typing import Optional, Sequence

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmengine.runner import Runner

from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample


def _decode_file_order(img_bytes: bytes) -> Optional[np.ndarray]:
    """Decode with PIL, then tifffile if installed; bands in file order."""
    try:
        from PIL import Image
        with Image.open(io.BytesIO(img_bytes)) as pil_img:
            if pil_img.mode == 'P':
                pil_img = pil_img.convert('RGB')
            return np.asarray(pil_img)
    except Exception:  # noqa: BLE001 - any PIL failure -> next decoder
        pass
    try:
        import tifffile
        arr = tifffile.imread(io.BytesIO(img_bytes))
    except Exception:  # noqa: BLE001 - missing or failing tifffile
        return None
    if arr.ndim == 3 and arr.shape[0] <= 16 < arr.shape[2]:
        arr = np.transpose(arr, (1, 2, 0))  # planar -> bands last
    return arr


def read_rgb_image(img_path: str,
                   backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an image (PNG/JPG/TIFF, grey or multi-band) as RGB uint8.

    Same band policy as the dataset loader: grey (or grey + alpha) images
    are repeated to three channels, images with four or more bands keep
    their first three bands (read as R, G, B), and non-uint8 data (e.g.
    uint16 GeoTIFF) is min-max stretched to uint8 over the kept bands.
    OpenCV (``IMREAD_UNCHANGED``) decodes first; PIL, then tifffile, are
    used when OpenCV fails or returns more than four bands.

    Args:
        img_path (str): Path or URI of the image.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.

    Returns:
        np.ndarray: ``HxWx3`` uint8 RGB image.
    """
    img_bytes = fileio.get(img_path, backend_args=backend_args)
    try:
        img = cv2.imdecode(
            np.frombuffer(img_bytes, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    bgr_order = True
    if img is None or (img.ndim == 3 and img.shape[2] > 4):
        img = _decode_file_order(img_bytes)
        bgr_order = False
    if img is None or img.size == 0:
        raise OSError(f'Cannot decode image {img_path}.')
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] < 3:  # grey, or grey + alpha
        img = np.repeat(img[..., :1], 3, axis=2)
    else:
        img = img[..., :3]
        if bgr_order:  # OpenCV gives B, G, R(, A) for 3/4-band files
            img = img[..., ::-1]
    if img.dtype != np.uint8:
        data = np.nan_to_num(img.astype(np.float64), nan=0.0, posinf=0.0,
                             neginf=0.0)
        lo, hi = float(data.min()), float(data.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        img = np.clip(np.rint((data - lo) * scale), 0, 255)
    return np.ascontiguousarray(img.astype(np.uint8))


@HOOKS.register_module()
class ReferringVisualizationHook(SegVisualizationHook):
    """Draw referring segmentation results, one image per expression.

    Like :class:`mmseg.engine.hooks.SegVisualizationHook` (same arguments
    and the same switch: ``tools/test.py --show-dir DIR`` sets
    ``draw=True`` on this hook and ``visualizer.save_dir=DIR``), but

    * the name of each drawn sample is ``{img_stem}_s{sample_idx}`` (the
      dataset ``sample_idx`` metainfo, or a running counter when absent),
      so the many expressions of one image never overwrite each other;
    * images are read with :func:`read_rgb_image` (TIFF, grey, 4-band);
    * in test mode every ``test_interval``-th batch is drawn (default: all
      of them), in val mode every ``interval``-th batch.

    Where files go: with ``test_out_dir`` set, test images are written
    directly as ``{test_out_dir}/{img_stem}_s{sample_idx}.png`` (a relative
    ``test_out_dir`` lives under ``{work_dir}/{timestamp}``). Otherwise they
    go through the visualizer backends, i.e. with MMSeg's ``--show-dir DIR``
    and a ``LocalVisBackend``: ``DIR/vis_data/vis_image/
    {img_stem}_s{sample_idx}_{iter}.png`` (val images get a ``val_``
    prefix).

    Args:
        draw (bool): Whether to draw. Defaults to False.
        interval (int): Val-mode drawing interval in batches.
            Defaults to 50.
        show (bool): Display the images instead of storing them.
            Defaults to False.
        wait_time (float): Display time (s). Defaults to 0.
        backend_args (dict, optional): mmengine file backend arguments
            used to read the images. Defaults to None.
        test_out_dir (str, optional): Directory for test images, see above.
            Defaults to None.
        test_interval (int): Test-mode drawing interval in batches.
            Defaults to 1.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 backend_args: Optional[dict] = None,
                 test_out_dir: Optional[str] = None,
                 test_interval: int = 1) -> None:
        super().__init__(
            draw=draw,
            interval=interval,
            show=show,
            wait_time=wait_time,
            backend_args=backend_args)
        self.test_out_dir = test_out_dir
        self.test_interval = test_interval
        self._counter = 0

    def before_val(self, runner: Runner) -> None:
        """Reset the fallback sample counter."""
        self._counter = 0

    def before_test(self, runner: Runner) -> None:
        """Reset the fallback sample counter."""
        self._counter = 0

    def _resolve_test_out_dir(self, runner: Runner) -> Optional[str]:
        """Absolute directory for test images, or None (use backends)."""
        if self.test_out_dir is None:
            return None
        if osp.isabs(self.test_out_dir):
            return self.test_out_dir
        return osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)

    def sample_name(self, data_sample: SegDataSample) -> str:
        """Collision-free name ``{img_stem}_s{sample_idx}`` of a sample.

        Args:
            data_sample (SegDataSample): Sample with ``img_path`` and
                (preferably) ``sample_idx`` metainfo.

        Returns:
            str: The name, without extension.
        """
        meta = data_sample.metainfo
        stem = osp.splitext(osp.basename(str(meta.get('img_path', 'img'))))[0]
        idx = meta.get('sample_idx')
        if idx is None:
            idx = f'c{self._counter}'
        return f'{stem}_s{idx}'

    def _after_iter(self,
                    runner: Runner,
                    batch_idx: int,
                    data_batch: dict,
                    outputs: Sequence[SegDataSample],
                    mode: str = 'val') -> None:
        """Draw the samples of one val/test batch.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the loop.
            data_batch (dict): Data from the dataloader.
            outputs (Sequence[SegDataSample]): Model outputs.
            mode (str): ``'val'`` or ``'test'``. Defaults to 'val'.
        """
        if self.draw is False or mode == 'train':
            return
        interval = self.test_interval if mode == 'test' else self.interval
        if not self.every_n_inner_iters(batch_idx, interval):
            self._counter += len(outputs)
            return
        out_dir = self._resolve_test_out_dir(runner) if mode == 'test' \
            else None
        for output in outputs:
            name = self.sample_name(output)
            self._counter += 1
            img = read_rgb_image(output.img_path, self.backend_args)
            out_file = None
            if out_dir is not None:
                out_file = osp.join(out_dir, f'{name}.png')
            if mode != 'test':
                name = f'{mode}_{name}'
            self._visualizer.add_datasample(
                name,
                img,
                data_sample=output,
                show=self.show,
                wait_time=self.wait_time,
                out_file=out_file,
                step=runner.iter)
