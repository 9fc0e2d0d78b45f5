"""Referring segmentation datasets and transforms.

The synthetic data generator is not imported here: it produces data, it is
not a dataset. Import it as ``mmrrsis.datasets.synthetic``.
"""
from . import transforms  # noqa: F401
from .base_referring import BaseReferringDataset
from .coco_mask import CocoMask
from .phrase_file import PhraseFileReferringDataset
from .refsegrs import RefSegRSDataset
from .risbench import RISBenchDataset
from .rrsisd import RRSISDDataset
from .shuffled_expressions import ShuffledExpressionDataset

__all__ = [
    'BaseReferringDataset', 'RefSegRSDataset', 'ShuffledExpressionDataset',
    'CocoMask', 'PhraseFileReferringDataset', 'RISBenchDataset',
    'RRSISDDataset'
]
