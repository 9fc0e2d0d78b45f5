from .stage_runner import run_with_fusion, supports_early_fusion

__all__ = ['run_with_fusion', 'supports_early_fusion']
