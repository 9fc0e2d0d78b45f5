"""Black boxes pasted on the images of a fixed share of the training
references (the RRSIS-D training augmentation of RMSIN and FIANet)."""
import zlib
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomOcclusionBoxes(BaseTransform):
    """Paste ``num_boxes`` black squares on the image of chosen references.

    What the official RRSIS-D loaders do (``data/rrsisd_refer_bert.py`` of
    Shaosifan/FIANet, as Lsan2401/RMSIN's): at start-up a fixed random 20 %
    of the training *references* is drawn once; every time one of them is
    loaded, 20 to 60 (uniform, inclusive) boxes of 32 x 32 pixels are set
    to 0 on the original image, before any resize, each at a uniform
    position in ``[0, W - 32]`` for both axes (the official code uses the
    image width for both; RRSIS-D images are square, 800 x 800). The mask
    and the sentence are unchanged, so an occluded target must be inferred.
    Only the training split is augmented.

    Choices here:

    * the fixed subset is chosen by a hash of ``(seed, ref_id)``, not by
      ``random.sample`` at dataset construction: every worker and every rank
      agrees on it without sharing state, and it is the same from run to
      run for a given ``seed``. Its size is binomial around ``ratio`` (on
      RRSIS-D's 12,181 training references, 20 % +- 0.4 %).
    * box positions use the height for the vertical axis (identical on
      square images).
    * with ``ref_id`` missing from the results every sample is a candidate
      and ``ratio`` is applied per call instead.

    Args:
        ratio (float): Share of references that get boxes. Defaults to 0.2.
        min_boxes (int): Fewest boxes. Defaults to 20.
        max_boxes (int): Most boxes (inclusive). Defaults to 60.
        box_size (int): Box side in pixels of the original image.
            Defaults to 32.
        seed (int): Chooses the fixed subset. Defaults to 2401 (the
            official seed).

    Required keys: ``img`` [H, W, C]. Optional: ``ref_id``.
    Modified keys: ``img`` (a new array; the input is not written to).
    Added keys: ``occluded`` (bool).
    """

    def __init__(self,
                 ratio: float = 0.2,
                 min_boxes: int = 20,
                 max_boxes: int = 60,
                 box_size: int = 32,
                 seed: int = 2401) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f'ratio must be in [0, 1], got {ratio}')
        if not 0 <= min_boxes <= max_boxes:
            raise ValueError(f'need 0 <= min_boxes <= max_boxes, got '
                             f'{min_boxes}, {max_boxes}')
        if box_size < 1:
            raise ValueError(f'box_size must be >= 1, got {box_size}')
        self.ratio = ratio
        self.min_boxes = min_boxes
        self.max_boxes = max_boxes
        self.box_size = box_size
        self.seed = seed

    def is_chosen(self, ref_id: Optional[object]) -> bool:
        """Whether a reference belongs to the occluded subset."""
        if ref_id is None:
            return bool(np.random.rand() < self.ratio)
        h = zlib.crc32(f'{self.seed}:{ref_id}'.encode('utf-8'))
        return h / 2**32 < self.ratio

    def transform(self, results: dict) -> dict:
        chosen = self.is_chosen(results.get('ref_id'))
        results['occluded'] = chosen
        if not chosen:
            return results
        img = np.array(results['img'], copy=True)
        h, w = img.shape[:2]
        s = self.box_size
        n = np.random.randint(self.min_boxes, self.max_boxes + 1)
        ys = np.random.randint(0, max(h - s, 0) + 1, size=n)
        xs = np.random.randint(0, max(w - s, 0) + 1, size=n)
        for y, x in zip(ys, xs):
            img[y:y + s, x:x + s] = 0
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ratio={self.ratio}, '
                f'min_boxes={self.min_boxes}, max_boxes={self.max_boxes}, '
                f'box_size={self.box_size}, seed={self.seed})')
