from .pretrained_swin import PretrainedSwinTransformer
from .stage_runner import run_with_fusion, supports_early_fusion

__all__ = [
    'PretrainedSwinTransformer', 'run_with_fusion', 'supports_early_fusion'
]
