from .ckpt_convert import (reorder_merging_norm, reorder_merging_reduction,
                           swin_official_to_mmseg)
from .masked_attention import MaskedAttention, token_ffn
from .pixel_word_attention import (ImageLanguageAttention, attend_to_words,
                                   build_attention_projections, gated,
                                   tanh_gate)
from .pretrained import (PretrainedCoverageError, check_pretrained_coverage,
                         enforce_coverage, format_coverage,
                         pretrained_coverage)
from .text_channels import fill_text_channels, takes_text_channels
from .text_features import TextFeatures
from .window_attention import (SDPAShiftWindowMSA, SDPAWindowMSA,
                               ShiftMaskCache, shift_window_mask,
                               use_sdpa_window_attention)

__all__ = [
    'PretrainedCoverageError', 'check_pretrained_coverage',
    'enforce_coverage', 'format_coverage', 'pretrained_coverage',
    'reorder_merging_norm', 'reorder_merging_reduction',
    'swin_official_to_mmseg', 'MaskedAttention', 'token_ffn',
    'ImageLanguageAttention', 'attend_to_words',
    'build_attention_projections', 'gated', 'tanh_gate', 'TextFeatures',
    'fill_text_channels', 'takes_text_channels', 'SDPAWindowMSA',
    'SDPAShiftWindowMSA', 'ShiftMaskCache', 'shift_window_mask',
    'use_sdpa_window_attention'
]
