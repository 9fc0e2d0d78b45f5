from .referring_visualization_hook import (ReferringVisualizationHook,
                                           read_rgb_image)

__all__ = ['ReferringVisualizationHook', 'read_rgb_image']
