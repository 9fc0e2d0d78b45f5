from .ckpt_convert import (reorder_merging_norm, reorder_merging_reduction,
                           swin_official_to_mmseg)
from .masked_attention import MaskedAttention, token_ffn
from .pixel_word_attention import (ImageLanguageAttention, attend_to_words,
                                   build_attention_projections, gated,
                                   tanh_gate)
from .pretrained import (PretrainedCoverageError, check_pretrained_coverage,
                         enforce_coverage, format_coverage,
                         pretrained_coverage)
from .word_grounding import grounded_words

__all__ = [
    'PretrainedCoverageError', 'check_pretrained_coverage',
    'enforce_coverage', 'format_coverage', 'pretrained_coverage',
    'reorder_merging_norm', 'reorder_merging_reduction',
    'swin_official_to_mmseg', 'MaskedAttention', 'token_ffn',
    'ImageLanguageAttention', 'build_attention_projections', 'gated',
    'attend_to_words', 'tanh_gate', 'grounded_words'
]
