from . import metrics  # noqa: F401
from .metrics import (RefSegMetric, intersection_and_union,
                      resize_label_nearest)

__all__ = ['RefSegMetric', 'intersection_and_union', 'resize_label_nearest']
