"""An inferencer in MMSeg's style: build once, call on images and sentences."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .inference import ImageType, inference_model, init_model


class RefSegInferencer:
    """Referring segmentation on images and sentences.

    Example::

        >>> inferencer = RefSegInferencer('configs/lavt_tiny_synthetic.py',
        ...                               'work_dirs/demo/iter_4000.pth')
        >>> out = inferencer('scene.tif', 'the red building at the top left',
        ...                  out_dir='outputs')
        >>> out['predictions'][0].shape  # (H, W) uint8 mask, 1 = target

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
    def _rgb(image: ImageType) -> np.ndarray:
        from mmrrsis.datasets.transforms import read_rs_image, to_bgr3
        bgr = (to_bgr3(image, bgr_order=True) if isinstance(image, np.ndarray)
               else read_rs_image(str(image)))
        return np.ascontiguousarray(bgr[..., ::-1])

    def __call__(self,
                 images: Union[ImageType, Sequence[ImageType]],
                 texts: Union[str, Sequence[str]],
                 out_dir: Optional[str] = None,
                 return_vis: bool = False,
                 batch_size: int = 1) -> Dict[str, List[np.ndarray]]:
        """Predict masks.

        Args:
            images: One image (path or BGR array) or a list.
            texts: One expression (applied to every image) or one per image.
            out_dir (str, optional): Write ``{i}_mask.png`` (0/255) and
                ``{i}_overlay.png`` (image, mask and sentence) here.
            return_vis (bool): Also return the overlays (RGB arrays).
            batch_size (int): Images per forward pass.

        Returns:
            dict: ``predictions`` (list of HxW uint8 masks) and, when asked,
            ``visualization`` (list of RGB overlays).
        """
        from mmrrsis.visualization import draw_referring_overlay
        imgs = list(images) if isinstance(images, (list, tuple)) else [images]
        txts = [texts] * len(imgs) if isinstance(texts, str) else list(texts)
        if len(txts) != len(imgs):
            raise ValueError(f'{len(imgs)} images but {len(txts)} expressions')
        preds, vis = [], []
        for start in range(0, len(imgs), batch_size):
            chunk = imgs[start:start + batch_size]
            results = inference_model(self.model, list(chunk),
                                      txts[start:start + batch_size])
            for img, text, res in zip(chunk, txts[start:start + batch_size],
                                      results):
                mask = res.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
                preds.append(mask)
                if out_dir or return_vis:
                    overlay = draw_referring_overlay(
                        self._rgb(img), text, pred_mask=mask)
                    vis.append(overlay)
        if out_dir:
            import cv2
            os.makedirs(out_dir, exist_ok=True)
            for i, (mask, overlay) in enumerate(zip(preds, vis)):
                cv2.imwrite(osp.join(out_dir, f'{i}_mask.png'), mask * 255)
                cv2.imwrite(osp.join(out_dir, f'{i}_overlay.png'),
                            overlay[..., ::-1])
        out = dict(predictions=preds)
        if return_vis:
            out['visualization'] = vis
        return out
