from .ckpt_convert import (reorder_merging_norm, reorder_merging_reduction,
                           swin_official_to_mmseg)
from .pretrained import (PretrainedCoverageError, check_pretrained_coverage,
                         enforce_coverage, format_coverage,
                         pretrained_coverage)

__all__ = [
    'PretrainedCoverageError', 'check_pretrained_coverage',
    'enforce_coverage', 'format_coverage', 'pretrained_coverage',
    'reorder_merging_norm', 'reorder_merging_reduction',
    'swin_official_to_mmseg'
]
