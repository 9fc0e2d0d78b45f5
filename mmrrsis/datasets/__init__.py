"""Referring segmentation datasets, transforms and the synthetic generator."""
from . import transforms  # noqa: F401
from .base_referring import BaseReferringDataset
from .coco_mask import CocoMask
from .phrase_file import PhraseFileReferringDataset
from .refsegrs import RefSegRSDataset
from .risbench import RISBenchDataset
from .rrsisd import RRSISDDataset
from .shuffled_expressions import ShuffledExpressionDataset
from .synthetic import generate_synthetic_refseg

__all__ = [
    'BaseReferringDataset', 'RefSegRSDataset', 'ShuffledExpressionDataset',
    'generate_synthetic_refseg', 'CocoMask', 'PhraseFileReferringDataset',
    'RISBenchDataset', 'RRSISDDataset'
]
