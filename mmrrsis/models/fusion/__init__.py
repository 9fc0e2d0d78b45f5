from .bsc import BSC
from .fiam import FIAM
from .pwam import PWAM

__all__ = ['PWAM', 'FIAM', 'BSC']
