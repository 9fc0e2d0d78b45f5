from .referring_encoder_decoder import ReferringEncoderDecoder
from .referring_tta_model import ReferringTTAModel

__all__ = ['ReferringEncoderDecoder', 'ReferringTTAModel']
