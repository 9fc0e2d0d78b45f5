from .base_referring_head import BaseReferringHead
from .lavt_head import LAVTHead

__all__ = ['BaseReferringHead', 'LAVTHead']
