from .base_referring_fusion import BaseReferringFusion
from .bsc import BSC
from .fiam import FIAM
from .pwam import PWAM

__all__ = ['BaseReferringFusion', 'PWAM', 'FIAM', 'BSC']
