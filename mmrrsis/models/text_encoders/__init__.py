from .expression_splitter import ExpressionSplitter
from .hf_text_encoder import HFTextEncoder, resolve_model_path
from .split_text_encoder import SplitTextEncoder

__all__ = ['HFTextEncoder', 'resolve_model_path', 'ExpressionSplitter',
           'SplitTextEncoder']
