"""Referring-segmentation transforms (registered into MMSeg's TRANSFORMS)."""
from .clean_expression import CleanExpression, clean_text
from .load_referring_annotations import LoadReferringAnnotations
from .load_rs_image_from_file import (LoadRSImageFromFile, read_rs_image,
                                      to_bgr3)
from .pack_referring_inputs import PackReferringInputs
from .random_occlusion_boxes import RandomOcclusionBoxes
from .text_aware_random_flip import TextAwareRandomFlip, swap_direction_words

__all__ = [
    'LoadRSImageFromFile', 'LoadReferringAnnotations', 'CleanExpression',
    'TextAwareRandomFlip', 'PackReferringInputs', 'RandomOcclusionBoxes',
    'clean_text', 'read_rs_image', 'swap_direction_words', 'to_bgr3'
]
