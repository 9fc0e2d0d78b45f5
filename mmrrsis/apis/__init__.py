from .inference import (build_inference_pipeline, inference_model, init_model,
                        load_checkpoint_strict)
from .refseg_inferencer import RefSegInferencer
from .runtime import finish_launch, load_config, prepare_launch
from .scene_inference import (SceneReader, SceneResult, inference_scene,
                              object_phrase)

__all__ = [
    'init_model', 'inference_model', 'load_checkpoint_strict',
    'build_inference_pipeline', 'RefSegInferencer', 'prepare_launch',
    'load_config', 'finish_launch', 'inference_scene', 'SceneResult',
    'SceneReader', 'object_phrase'
]
