from . import (backbones, decode_heads, fusion, losses, necks,  # noqa: F401
               segmentors, text_encoders)
