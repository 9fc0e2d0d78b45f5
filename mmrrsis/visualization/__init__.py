from .referring_visualizer import (ReferringLocalVisualizer,
                                   draw_referring_overlay)

__all__ = ['ReferringLocalVisualizer', 'draw_referring_overlay']
