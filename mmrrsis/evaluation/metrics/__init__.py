from .refseg_metric import (RefSegMetric, intersection_and_union,
                            resize_label_nearest, size_bucket)

__all__ = [
    'RefSegMetric', 'intersection_and_union', 'resize_label_nearest',
    'size_bucket'
]
