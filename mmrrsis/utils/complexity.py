"""FLOPs of a referring segmentor: one image and one sentence.

MMSeg's ``get_flops`` feeds an image only; a referring model also reads a
sentence (its text encoder and fusion blocks cost FLOPs too), so the count
needs one. Counted with ``torch.utils.flop_counter.FlopCounterMode``: it runs
the model once in eager mode (no JIT trace, so the tokenizer inside the
model is no obstacle, and it works offline on the CPU) and counts matrix
multiplies, convolutions and attention (``scaled_dot_product_attention``
included, which MMEngine's fvcore-style analyser skips); element-wise ops,
normalisation and interpolation are not counted.

Conventions: ``flops`` follows torch (2 per multiply-add); ``macs`` is half
of it, the figure MMSeg's ``get_flops`` and fvcore print as "FLOPs" and most
papers report as "GFLOPs".
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

#: The sentence counted when none is given.
DEFAULT_SENTENCE = 'the storage tank at the bottom left of the harbor'


def is_referring_model(model: torch.nn.Module) -> bool:
    """Whether ``model`` reads a sentence (has a text encoder)."""
    model = getattr(model, 'module', model)
    return getattr(model, 'text_encoder', None) is not None


def _part_totals(counts: Dict[str, Dict], root: str,
                 parts: Sequence[str]) -> 'OrderedDict[str, int]':
    """FLOPs per top-level child from FlopCounterMode's per-module counts.

    A module's count includes its tracked submodules, so for each part the
    top-most tracked modules under it are summed (a part run stage by stage
    through its submodules, e.g. an early-fusion backbone, is not tracked
    as a whole).
    """
    totals: 'OrderedDict[str, int]' = OrderedDict()
    for part in parts:
        prefix = f'{root}.{part}'
        keys = [k for k in counts if k == prefix or k.startswith(prefix + '.')]
        keyset = set(keys)
        top = []
        for k in keys:
            pieces = k.split('.')
            if not any('.'.join(pieces[:i]) in keyset
                       for i in range(len(prefix.split('.')), len(pieces))):
                top.append(k)
        total = sum(sum(counts[k].values()) for k in top)
        if total:
            totals[part] = int(total)
    return totals


def referring_flops(model: torch.nn.Module,
                    inputs: Tensor,
                    data_samples: Optional[List] = None,
                    sentence: Optional[str] = None) -> dict:
    """Count the FLOPs of one forward pass (``mode='tensor'``).

    Args:
        model: A referring segmentor (``ReferringEncoderDecoder``) in eval
            mode, inputs already through its data preprocessor.
        inputs (Tensor): Images, shape (B, 3, H, W).
        data_samples (list[SegDataSample], optional): One per image; built
            (with ``img_shape`` = (H, W)) when None. Their ``text`` is set
            to ``sentence`` when that is given or they carry none.
        sentence (str, optional): The sentence of every image. Defaults to
            :data:`DEFAULT_SENTENCE` when the samples carry none.

    Returns:
        dict: ``flops`` (torch convention, 2 per multiply-add, the whole
        batch), ``macs`` (``flops / 2``), ``parts`` (FLOPs per top-level
        module: ``text_encoder``, ``backbone``, ``fusions``, ``neck``,
        ``decode_head``, ...), ``params`` (number of parameters),
        ``sentence`` and ``batch_size``.
    """
    from mmseg.structures import SegDataSample
    from torch.utils.flop_counter import FlopCounterMode
    inner = getattr(model, 'module', model)
    batch, size = inputs.shape[0], tuple(inputs.shape[-2:])
    if data_samples is None:
        data_samples = [
            SegDataSample(metainfo=dict(img_shape=size, ori_shape=size,
                                        pad_shape=size))
            for _ in range(batch)
        ]
    for sample in data_samples:
        if sentence is not None or not sample.metainfo.get('text'):
            sample.set_metainfo(dict(text=sentence or DEFAULT_SENTENCE))
    used = data_samples[0].metainfo['text']
    # a frozen encoder's sentence cache would skip the encoder: count it
    encoder = getattr(inner, 'text_encoder', None)
    cache_size = getattr(encoder, 'cache_size', None)
    if cache_size:
        encoder.cache_size = 0
    counter = FlopCounterMode(display=False)
    # Autograd stays on: FlopCounterMode's module tracker hooks every module
    # input that requires grad, and under no_grad a parameter passed as an
    # input (CroBIM's CAPM context) makes it fail. The graph is dropped.
    try:
        with torch.enable_grad(), counter:
            out = inner(inputs, data_samples, mode='tensor')
        del out
    finally:
        if cache_size:
            encoder.cache_size = cache_size
    total = int(counter.get_total_flops())
    names = [name for name, _ in inner.named_children()]
    parts = _part_totals(counter.get_flop_counts(), type(inner).__name__,
                         names)
    return dict(flops=total, macs=total // 2, parts=parts,
                params=sum(p.numel() for p in inner.parameters()),
                sentence=used, batch_size=batch)


def format_flops(result: dict) -> List[str]:
    """Human-readable lines of :func:`referring_flops` (per image)."""
    b = max(1, result['batch_size'])
    lines = [
        f'GMACs per image: {result["macs"] / b / 1e9:.4g} (multiply-adds: '
        'what MMSeg\'s get_flops and most papers call GFLOPs)',
        f'GFLOPs per image: {result["flops"] / b / 1e9:.4g} (2 per '
        'multiply-add, torch FlopCounterMode)',
        f'sentence: {result["sentence"]!r}',
    ]
    for part, flops in result['parts'].items():
        share = flops / max(1, result['flops'])
        lines.append(f'  {part}: {flops / 2 / b / 1e9:.4g} GMACs '
                     f'({share:.0%})')
    return lines


def training_flops(model: torch.nn.Module, inputs: Tensor,
                   data_samples: List) -> dict:
    """Count the FLOPs of one training step: the loss forward pass and its
    backward pass (the optimiser step does no matrix work and is not
    counted).

    This is the "model FLOPs" of model FLOPs utilisation (MFU): what the
    step computes, counted once. Recomputation (``with_cp``) is counted as
    it runs, so switch it off for the MFU convention.

    Args:
        model: A referring segmentor in train mode, inputs already through
            its data preprocessor.
        inputs (Tensor): Images, shape (B, 3, H, W).
        data_samples (list[SegDataSample]): One per image, with their
            sentence (``text``) and ``gt_sem_seg``.

    Returns:
        dict: ``flops`` (the whole batch, 2 per multiply-add),
        ``forward_flops`` and ``backward_flops`` (their split) and
        ``batch_size``. The parameters' gradients are cleared afterwards.
    """
    from torch.utils.flop_counter import FlopCounterMode
    inner = getattr(model, 'module', model)
    encoder = getattr(inner, 'text_encoder', None)
    cache_size = getattr(encoder, 'cache_size', None)
    if cache_size:
        encoder.cache_size = 0
    forward = FlopCounterMode(display=False)
    backward = FlopCounterMode(display=False)
    try:
        with torch.enable_grad():
            with forward:
                losses = inner.loss(inputs, data_samples)
                loss, _ = inner.parse_losses(losses)
            with backward:
                loss.backward()
    finally:
        if cache_size:
            encoder.cache_size = cache_size
        for p in inner.parameters():
            p.grad = None
    fwd = int(forward.get_total_flops())
    bwd = int(backward.get_total_flops())
    return dict(flops=fwd + bwd, forward_flops=fwd, backward_flops=bwd,
                batch_size=inputs.shape[0])


#: Dense peak tensor-core throughput in TFLOP/s (vendor data sheets, SXM
#: parts where there are two): ``'16bit'`` for bf16/fp16 autocast,
#: ``'tf32'`` for float32 runs (PyTorch runs convolutions in TF32 by
#: default; float32 matrix multiplies stay full precision unless
#: ``torch.backends.cuda.matmul.allow_tf32`` is set, so MFU against the TF32
#: peak is a lower bound). Matched by substring of the device name, first
#: match wins.
PEAK_TFLOPS = (
    ('H200', {'16bit': 989.4, 'tf32': 494.7}),
    ('H100 PCIe', {'16bit': 756.0, 'tf32': 378.0}),
    ('H100', {'16bit': 989.4, 'tf32': 494.7}),
    ('A100', {'16bit': 312.0, 'tf32': 156.0}),
    ('L40S', {'16bit': 362.1, 'tf32': 183.0}),
    ('A10', {'16bit': 125.0, 'tf32': 62.5}),
    ('RTX 4090', {'16bit': 165.2, 'tf32': 82.6}),
    ('V100', {'16bit': 125.0, 'tf32': None}),
)


def peak_tflops(device_name: str, precision: str) -> Optional[float]:
    """The dense peak TFLOP/s of a GPU from :data:`PEAK_TFLOPS`.

    Args:
        device_name (str): ``torch.cuda.get_device_name()``, e.g.
            ``'NVIDIA H200'``.
        precision (str): ``'bf16'``, ``'fp16'`` or ``'fp32'``.

    Returns:
        float | None: None for an unknown device (the CPU included) or a
        precision the device has no tensor cores for.
    """
    if precision not in ('bf16', 'fp16', 'fp32'):
        raise ValueError(f'precision must be bf16, fp16 or fp32, not '
                         f'{precision!r}')
    key = 'tf32' if precision == 'fp32' else '16bit'
    for name, peaks in PEAK_TFLOPS:
        if name.lower() in device_name.lower():
            return peaks[key]
    return None
