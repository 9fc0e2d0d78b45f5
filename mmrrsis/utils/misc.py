"""Small helpers shared by tools."""
from typing import Dict


def collect_env_info() -> Dict[str, str]:
    """Versions of the stack, for logs and bug reports."""
    import mmcv
    import mmengine
    import mmseg
    import torch

    from .compat import has_compiled_mmcv_ops
    info = {
        'torch': torch.__version__,
        'mmengine': mmengine.__version__,
        'mmcv': mmcv.__version__,
        'mmcv compiled ops': str(has_compiled_mmcv_ops()),
        'mmsegmentation': mmseg.__version__,
    }
    try:
        import transformers
        info['transformers'] = transformers.__version__
    except ImportError:  # pragma: no cover
        info['transformers'] = 'missing'
    return info
