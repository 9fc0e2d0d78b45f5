from .checkpoint_hook import SafeCheckpointHook
from .referring_visualization_hook import (ReferringVisualizationHook,
                                           read_rgb_image)

__all__ = ['ReferringVisualizationHook', 'SafeCheckpointHook',
           'read_rgb_image']
