from . import hooks  # noqa: F401
from .hooks import ReferringVisualizationHook, read_rgb_image

__all__ = ['ReferringVisualizationHook', 'read_rgb_image']
