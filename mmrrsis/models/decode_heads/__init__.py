from .base_referring_head import BaseReferringHead
from .dmols_head import DMOLSHead
from .lavt_head import LAVTHead
from .mid_head import MIDHead
from .tbtd_head import TBTDHead

__all__ = ['BaseReferringHead', 'LAVTHead', 'MIDHead', 'TBTDHead', 'DMOLSHead']
