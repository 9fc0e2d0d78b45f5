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


def check_text(text, index: int = 0) -> str:
    """Return ``text`` if it is a usable expression, else raise naming it.

    Raises:
        TypeError: ``text`` is None or not a string.
        ValueError: ``text`` is empty or only whitespace.
    """
    if text is None:
        raise TypeError(
            f'expression {index} is None: give the sentence that names the '
            "object to segment, e.g. inference_model(model, 'scene.tif', "
            "'the red building at the top left')")
    if not isinstance(text, str):
        raise TypeError(f'expression {index} must be a string, got '
                        f'{type(text).__name__}: {text!r}')
    if not text.strip():
        raise ValueError(f'expression {index} is empty: {text!r}')
    return text


def check_image(image: ImageType, index: int = 0) -> ImageType:
    """Check that an image exists and decodes, before any model runs.

    Paths are decoded with the dataset reader (same band and bit-depth
    policy); arrays must be ``(H, W)`` or ``(H, W, C)``.

    Raises:
        FileNotFoundError: The file does not exist.
        OSError: The file exists but no decoder can read it.
        ValueError: An array of the wrong shape.
    """
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or image.size == 0:
            raise ValueError(f'image {index}: expected an (H, W) or (H, W, C)'
                             f' array, got shape {image.shape}')
        return image
    if not isinstance(image, (str, Path)):
        raise TypeError(f'image {index} must be a path or an np.ndarray, '
                        f'got {type(image).__name__}')
    path = str(image)
    if not osp.isfile(path):
        raise FileNotFoundError(f'image not found: {path}')
    from mmrrsis.datasets.transforms import read_rs_image
    read_rs_image(path, caller=f'image {index}')
    return image


def as_text_list(text, num_images: int) -> List[str]:
    """One checked expression per image (a single string is repeated)."""
    if text is None:
        raise TypeError(
            'text is None: give the sentence that names the object to '
            "segment, e.g. inference_model(model, 'scene.tif', 'the red "
            "building at the top left'), or one sentence per image")
    if isinstance(text, str):
        texts = [check_text(text)] * num_images
    else:
        try:
            texts = list(text)
        except TypeError:
            raise TypeError('text must be a string or a list of strings, '
                            f'got {type(text).__name__}') from None
        if len(texts) == 1 and num_images > 1:
            texts = texts * num_images
        texts = [check_text(t, i) for i, t in enumerate(texts)]
    if len(texts) != num_images:
        raise ValueError(f'{num_images} images but {len(texts)} expressions')
    return texts


def read_info(model: torch.nn.Module, texts: Sequence[str]) -> List[dict]:
    """What the model reads of each expression (empty dicts when its text
    encoder cannot say). See ``HFTextEncoder.read_texts``."""
    encoder = getattr(model, 'text_encoder', None)
    if encoder is None or not hasattr(encoder, 'read_texts'):
        return [{} for _ in texts]
    return encoder.read_texts(list(texts))


def _prepare(image: ImageType, text: str, pipeline: List[dict],
             index: int) -> dict:
    check_text(text, index)
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

    Every image is decoded and every expression checked before the model
    runs (a None or empty expression, a missing or corrupt image raise
    naming it).

    Args:
        model: From :func:`init_model`.
        image: A path or a BGR ``np.ndarray`` (H, W, 3) (MMSeg convention),
            or a list of them.
        text: The expression, or one per image.

    Returns:
        SegDataSample | list: ``pred_sem_seg`` (the mask at the original
        size, 1 = target), ``seg_logits``; a list when lists were given.
        The metainfo also holds what the model read of the sentence:
        ``text_read`` (the part within the text encoder's token limit),
        ``text_truncated``, ``text_num_tokens``, and ``text_num_unknown`` /
        ``text_num_words`` (tokens outside the vocabulary, e.g. emoji, of
        the word tokens read; the encoder warns when they are the majority).
    """
    single = not isinstance(image, (list, tuple))
    images = [image] if single else list(image)
    texts = as_text_list(text, len(images))
    pipeline = build_inference_pipeline(model.cfg)
    data = [_prepare(img, t, pipeline, i)
            for i, (img, t) in enumerate(zip(images, texts))]
    batch = dict(inputs=[d['inputs'] for d in data],
                 data_samples=[d['data_samples'] for d in data])
    with torch.no_grad():
        results = model.test_step(batch)
    for result, info in zip(results, read_info(model, texts)):
        if info:
            result.set_metainfo(dict(
                text_read=info['text_read'],
                text_truncated=info['truncated'],
                text_num_tokens=info['num_tokens'],
                text_num_unknown=info['num_unknown'],
                text_num_words=info['num_words']))
    return results[0] if single else results
