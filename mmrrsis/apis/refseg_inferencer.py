"""An inferencer in MMSeg's style: build once, call on images and sentences."""
import hashlib
import os
import os.path as osp
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .inference import (ImageType, as_text_list, check_image, inference_model,
                        init_model)

#: Longest sentence part kept in an output file name (characters).
MAX_SLUG = 60


def output_name(image: ImageType, text: str, index: int = 0) -> str:
    """The file-name stem of one result: image name + sentence.

    ``scene.tif`` + ``"The red building, top left"`` ->
    ``scene__the_red_building_top_left``. Letters of any script are kept;
    a sentence longer than :data:`MAX_SLUG` characters, or with no letter
    at all (emoji only), gets an 8-character hash of the whole sentence, so
    different sentences give different names. An array has no file name:
    ``array{index}`` (its position in the call) stands in.

    Args:
        image: A path or an array.
        text (str): The expression.
        index (int): Position of the image in the call.
    """
    if isinstance(image, np.ndarray):
        stem = f'array{index}'
    else:
        stem = Path(str(image)).stem or f'image{index}'
    stem = re.sub(r'[^\w.-]+', '_', stem).strip('_') or f'image{index}'
    slug = re.sub(r'\W+', '_', text.lower()).strip('_')
    digest = hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]
    if not slug:
        slug = f'text_{digest}'
    elif len(slug) > MAX_SLUG:
        slug = f'{slug[:MAX_SLUG].rstrip("_")}_{digest}'
    return f'{stem}__{slug}'


def _encode_png(image: np.ndarray) -> bytes:
    import cv2
    ok, buf = cv2.imencode('.png', image)
    if not ok:
        raise OSError('could not encode a PNG')
    return buf.tobytes()


def write_result_files(out_dir: str, base: str, mask: np.ndarray,
                       overlay_rgb: np.ndarray,
                       overwrite: bool = False) -> Tuple[str, str]:
    """Write ``{base}_mask.png`` (0/255) and ``{base}_overlay.png``.

    Without ``overwrite`` an existing file is never replaced: the first free
    name of ``{base}``, ``{base}_1``, ``{base}_2``, ... is taken for both
    files (created exclusively, so concurrent writers do not collide).

    Returns:
        tuple[str, str]: The mask and overlay paths written.
    """
    os.makedirs(out_dir, exist_ok=True)
    mask_png = _encode_png((mask > 0).astype(np.uint8) * 255)
    overlay_png = _encode_png(np.ascontiguousarray(overlay_rgb[..., ::-1]))
    mode = 'wb' if overwrite else 'xb'
    k = 0
    while True:
        name = base if k == 0 else f'{base}_{k}'
        mask_path = osp.join(out_dir, f'{name}_mask.png')
        overlay_path = osp.join(out_dir, f'{name}_overlay.png')
        k += 1
        try:
            with open(mask_path, mode) as f:
                f.write(mask_png)
        except FileExistsError:
            continue
        try:
            with open(overlay_path, mode) as f:
                f.write(overlay_png)
        except FileExistsError:
            os.remove(mask_path)  # ours, just written: take the next name
            continue
        return mask_path, overlay_path


class RefSegInferencer:
    """Referring segmentation on images and sentences.

    Example::

        >>> inferencer = RefSegInferencer(
        ...     'configs/lavt/lavt_tiny_synthetic.py',
        ...     'work_dirs/demo/iter_4000.pth')
        >>> out = inferencer('scene.tif', 'the red building at the top left',
        ...                  out_dir='outputs')
        >>> out['predictions'][0].shape  # (H, W) uint8 mask, 1 = target
        >>> out['files'][0]
        ('outputs/scene__the_red_building_at_the_top_left_mask.png',
         'outputs/scene__the_red_building_at_the_top_left_overlay.png')

    Args:
        model (str): Config file.
        weights (str, optional): Checkpoint.
        device (str): Device. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Config overrides.
    """

    def __init__(self,
                 model: str,
                 weights: Optional[str] = None,
                 device: str = 'cpu',
                 cfg_options: Optional[dict] = None) -> None:
        self.model = init_model(model, weights, device=device,
                                cfg_options=cfg_options)

    @staticmethod
    def _bgr(image: ImageType) -> np.ndarray:
        from mmrrsis.datasets.transforms import read_rs_image, to_bgr3
        if isinstance(image, np.ndarray):
            return to_bgr3(image, bgr_order=True)
        return read_rs_image(str(image), caller='RefSegInferencer')

    def __call__(self,
                 images: Union[ImageType, Sequence[ImageType]],
                 texts: Union[str, Sequence[str]],
                 out_dir: Optional[str] = None,
                 return_vis: bool = False,
                 batch_size: int = 1,
                 overwrite: bool = False) -> Dict[str, list]:
        """Predict masks.

        Every expression is checked and every image path looked up before
        the first forward pass; each image is decoded once.

        Args:
            images: One image (path or BGR array) or a list.
            texts: One expression (applied to every image) or one per image.
            out_dir (str, optional): Write ``{image}__{sentence}_mask.png``
                (0/255) and ``{image}__{sentence}_overlay.png`` (image, mask
                and the sentence as the model read it) here; see
                :func:`output_name`. An existing file is never replaced
                (unless ``overwrite``): the next free name ``..._1``,
                ``..._2`` is used, and ``files`` in the result says which.
            return_vis (bool): Also return the overlays (RGB arrays).
            batch_size (int): Images per forward pass.
            overwrite (bool): Replace files of the same name in
                ``out_dir``. Defaults to False.

        Returns:
            dict: ``predictions`` (list of HxW uint8 masks), ``texts_read``
            (what the model read of each sentence: the sentence, or its
            beginning when the token limit cut it), with ``out_dir`` the
            ``files`` written (list of (mask path, overlay path)), and, when
            asked, ``visualization`` (list of RGB overlays).
        """
        from mmrrsis.visualization import draw_referring_overlay
        imgs = list(images) if isinstance(images, (list, tuple)) else [images]
        txts = as_text_list(texts, len(imgs))
        for i, img in enumerate(imgs):  # fail before any work is done
            if not isinstance(img, np.ndarray):
                if not isinstance(img, (str, Path)):
                    check_image(img, i)  # raises the TypeError
                elif not osp.isfile(str(img)):
                    raise FileNotFoundError(f'image {i} not found: {img}')
        preds: List[np.ndarray] = []
        vis: List[np.ndarray] = []
        read: List[str] = []
        files: List[Tuple[str, str]] = []
        for start in range(0, len(imgs), batch_size):
            chunk = imgs[start:start + batch_size]
            bgrs = [self._bgr(img) for img in chunk]
            results = inference_model(self.model, bgrs,
                                      txts[start:start + batch_size])
            for j, (img, bgr, text, res) in enumerate(
                    zip(chunk, bgrs, txts[start:start + batch_size],
                        results)):
                mask = res.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
                text_read = res.metainfo.get('text_read', text)
                preds.append(mask)
                read.append(text_read)
                if not (out_dir or return_vis):
                    continue
                overlay = draw_referring_overlay(
                    np.ascontiguousarray(bgr[..., ::-1]), text,
                    pred_mask=mask, text_read=text_read)
                if return_vis:
                    vis.append(overlay)
                if out_dir:
                    files.append(write_result_files(
                        out_dir, output_name(img, text, start + j), mask,
                        overlay, overwrite=overwrite))
        out: Dict[str, list] = dict(predictions=preds, texts_read=read)
        if out_dir:
            out['files'] = files
        if return_vis:
            out['visualization'] = vis
        return out
