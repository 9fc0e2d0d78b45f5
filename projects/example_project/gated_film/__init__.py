"""Example project: a gated FiLM fusion block and a FiLM head.

Importing this package registers both into MMSeg's ``MODELS`` registry; a
config does it with ``custom_imports`` (see ``../configs``).
"""
from .film_head import FiLMHead
from .gated_film_fusion import GatedFiLMFusion

__all__ = ['GatedFiLMFusion', 'FiLMHead']
