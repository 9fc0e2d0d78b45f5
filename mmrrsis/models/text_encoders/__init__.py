from .hf_text_encoder import HFTextEncoder, resolve_model_path

__all__ = ['HFTextEncoder', 'resolve_model_path']
