"""Referring segmentation datasets, transforms and the synthetic generator."""
from . import transforms  # noqa: F401
from .base_referring import BaseReferringDataset
from .refsegrs import RefSegRSDataset
from .shuffled_expressions import ShuffledExpressionDataset
from .synthetic import generate_synthetic_refseg

__all__ = [
    'BaseReferringDataset', 'RefSegRSDataset', 'ShuffledExpressionDataset',
    'generate_synthetic_refseg'
]
