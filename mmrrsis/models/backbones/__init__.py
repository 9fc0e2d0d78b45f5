from .base_language_aware import BaseLanguageAwareBackbone
from .language_aware_resnet import LanguageAwareResNet
from .language_aware_swin import LanguageAwareSwin
from .pretrained_swin import PretrainedSwinTransformer
from .stage_runner import fusion_runner, run_with_fusion, supports_early_fusion

__all__ = [
    'BaseLanguageAwareBackbone', 'LanguageAwareResNet', 'LanguageAwareSwin',
    'PretrainedSwinTransformer', 'fusion_runner', 'run_with_fusion',
    'supports_early_fusion'
]

try:  # MMPretrain is a requirement; without it only ConvNeXt is missing
    from .language_aware_convnext import LanguageAwareConvNeXt  # noqa: F401
    __all__.append('LanguageAwareConvNeXt')
except ImportError:
    pass
