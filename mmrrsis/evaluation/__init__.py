from . import metrics  # noqa: F401
from .metrics import (RefSegMetric, intersection_and_union,
                      resize_label_nearest, size_bucket)
from .protocol import select_on

__all__ = [
    'RefSegMetric', 'intersection_and_union', 'resize_label_nearest',
    'size_bucket', 'select_on'
]
