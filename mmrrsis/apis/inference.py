"""Inference on one image and one sentence."""
import copy
import os.path as osp
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmrrsis.datasets.transforms import to_bgr3

ImageType = Union[str, Path, np.ndarray]

# transforms that need a ground truth or are training-only
_DROP = ('LoadReferringAnnotations', 'LoadAnnotations', 'TextAwareRandomFlip',
         'RandomFlip')
_LOADERS = ('LoadRSImageFromFile', 'LoadImageFromFile')


def _strip_module(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    if state and all(k.startswith('module.') for k in state):
        return {k[len('module.'):]: v for k, v in state.items()}
    return state


def load_checkpoint_strict(model: torch.nn.Module,
                           checkpoint: str,
                           map_location: str = 'cpu',
                           strict: bool = True) -> dict:
    """Load ``checkpoint`` into ``model``, naming what does not fit.

    Raises:
        RuntimeError: with the missing keys, unexpected keys and shape
            mismatches (when ``strict``); otherwise only logs them.

    Returns:
        dict: The checkpoint's ``meta`` (may be empty).
    """
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise RuntimeError(f'{checkpoint} holds no state dict')
    state = _strip_module(state)
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state)
    unexpected = sorted(k for k in state if k not in own)
    mismatched = sorted(
        f'{k}: checkpoint {tuple(state[k].shape)} vs model '
        f'{tuple(own[k].shape)}' for k in own
        if k in state and hasattr(state[k], 'shape')
        and tuple(state[k].shape) != tuple(own[k].shape))
    problems = []
    for title, keys in (('missing in checkpoint', missing),
                        ('unexpected in checkpoint', unexpected),
                        ('shape mismatch', mismatched)):
        if keys:
            shown = '\n    '.join(keys[:20])
            more = f'\n    ... and {len(keys) - 20} more' if len(
                keys) > 20 else ''
            problems.append(f'  {title} ({len(keys)}):\n    {shown}{more}')
    if problems:
        msg = (f'Checkpoint {checkpoint} does not fit the model:\n' +
               '\n'.join(problems))
        if strict:
            raise RuntimeError(msg)
        from mmengine.logging import print_log
        print_log(msg, logger='current', level=30)
    fitting = {k: v for k, v in state.items()
               if k in own and tuple(getattr(v, 'shape', ())) == tuple(
                   own[k].shape)}
    model.load_state_dict(fitting, strict=False)
    return ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> torch.nn.Module:
    """Build a referring segmentor from a config and load its checkpoint.

    Args:
        config: Config file or object.
        checkpoint (str, optional): Checkpoint; None keeps the initial
            weights (the text encoder's pretrained weights included).
        device (str): ``'cpu'``, ``'cuda:0'``...
        cfg_options (dict, optional): Overrides merged into the config.
        strict (bool): Refuse a checkpoint whose keys or shapes differ from
            the model, listing them. Defaults to True.
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a path or Config, got {type(config)}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    config.model.pretrained = None
    config.model.train_cfg = None
    # no pretrained backbone download at inference: weights come from ckpt
    if checkpoint is not None:
        backbone = config.model.get('backbone', {})
        if isinstance(backbone.get('init_cfg'), dict) and \
                backbone['init_cfg'].get('type') == 'Pretrained':
            backbone['init_cfg'] = None
    init_default_scope(config.get('default_scope', 'mmseg'))
    model = MODELS.build(config.model)
    if checkpoint is None:
        model.init_weights()
        meta = {}
    else:
        meta = load_checkpoint_strict(model, checkpoint, strict=strict)
    model.cfg = config
    model.dataset_meta = meta.get('dataset_meta', {
        'classes': ('background', 'target'),
        'palette': [[0, 0, 0], [255, 0, 0]]
    })
    model.to(device)
    model.eval()
    return model


def build_inference_pipeline(cfg: Config) -> List[dict]:
    """The test pipeline of ``cfg`` without ground-truth loading."""
    pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    return [t for t in pipeline if t['type'] not in _DROP]


def _prepare(image: ImageType, text: str, pipeline: List[dict],
             index: int) -> dict:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f'expression {index} is empty: {text!r}')
    steps = list(pipeline)
    if isinstance(image, np.ndarray):
        steps = [t for t in steps if t['type'] not in _LOADERS]
        # same band policy as LoadRSImageFromFile (array given as BGR)
        img = to_bgr3(image, bgr_order=True)
        results = dict(img=img, img_path=None, img_shape=img.shape[:2],
                       ori_shape=img.shape[:2])
    else:
        path = str(image)
        if not osp.isfile(path):
            raise FileNotFoundError(f'image not found: {path}')
        results = dict(img_path=path)
    results.update(text=text, sample_idx=index, ref_id=index, sent_id=index,
                   img_id=index, seg_fields=[], reduce_zero_label=False)
    return Compose(steps)(results)


def inference_model(model: torch.nn.Module,
                    image: Union[ImageType, Sequence[ImageType]],
                    text: Union[str, Sequence[str]]
                    ) -> Union[SegDataSample, List[SegDataSample]]:
    """Segment what ``text`` names in ``image``.

    Args:
        model: From :func:`init_model`.
        image: A path or a BGR ``np.ndarray`` (H, W, 3) (MMSeg convention),
            or a list of them.
        text: The expression, or one per image.

    Returns:
        SegDataSample | list: ``pred_sem_seg`` (the mask at the original
        size, 1 = target), ``seg_logits``; a list when lists were given.
    """
    single = not isinstance(image, (list, tuple))
    images = [image] if single else list(image)
    texts = [text] if isinstance(text, str) else list(text)
    if len(texts) == 1 and len(images) > 1:
        texts = texts * len(images)
    if len(texts) != len(images):
        raise ValueError(f'{len(images)} images but {len(texts)} expressions')
    pipeline = build_inference_pipeline(model.cfg)
    data = [_prepare(img, t, pipeline, i)
            for i, (img, t) in enumerate(zip(images, texts))]
    batch = dict(inputs=[d['inputs'] for d in data],
                 data_samples=[d['data_samples'] for d in data])
    with torch.no_grad():
        results = model.test_step(batch)
    return results[0] if single else results
