"""mmrrsis: referring remote sensing image segmentation on MMSegmentation.

Importing this package applies the compatibility shims of
:mod:`mmrrsis.utils.compat` (mmcv-lite, mmpretrain with new transformers,
safe checkpoint loading on torch >= 2.6) and registers every mmrrsis module
into MMSegmentation's registries. It performs no I/O and downloads nothing.
"""
from .utils.compat import apply_all as _apply_compat

_apply_compat()

from . import (datasets, engine, evaluation, models,  # noqa: E402,F401
               visualization)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
