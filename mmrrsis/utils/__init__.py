from .compat import apply_all, has_compiled_mmcv_ops, safe_torch_load
from .misc import collect_env_info

__all__ = ['apply_all', 'has_compiled_mmcv_ops', 'safe_torch_load',
           'collect_env_info']
