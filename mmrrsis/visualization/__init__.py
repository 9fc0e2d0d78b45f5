from .referring_visualizer import (GT_COLOR, PRED_COLOR,
                                   ReferringLocalVisualizer, contact_sheet,
                                   draw_referring_overlay)

__all__ = [
    'ReferringLocalVisualizer', 'draw_referring_overlay', 'contact_sheet',
    'PRED_COLOR', 'GT_COLOR'
]
