"""Run an MMSeg / MMPretrain backbone stage by stage with a fusion callback.

Early fusion (LAVT, FIANet, CroBIM) inserts a language block inside every
backbone stage. Rather than forking each backbone, we drive the unmodified
backbone's own sub-modules and call ``fuse(stage_index, feature_map)`` where
the fusion belongs. Supported:

* ``mmseg`` ``SwinTransformer``: after each stage's blocks and before its
  patch merging (exactly where LAVT puts PWAM); the stage output norm
  ``norm{i}`` is applied to the fusion's ``out``, as in LAVT.
* ``mmseg`` ``ResNet`` family (``ResNetV1c``/``V1d``): after each res layer.
* ``mmpretrain`` ``ConvNeXt``: after each stage, before ``norm{i}``.
* Any backbone with a method ``forward_with_fusion(x, fuse)`` (the hook for
  custom backbones).

``fuse(i, x) -> (stream, out)`` gets and returns [B, C, H, W] maps.
"""
from typing import Callable, List, Tuple

import torch.nn as nn
from torch import Tensor

FuseFn = Callable[[int, Tensor], Tuple[Tensor, Tensor]]


def _tokens_to_map(x: Tensor, hw: Tuple[int, int]) -> Tensor:
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *hw)


def _run_mmseg_swin(backbone: nn.Module, img: Tensor,
                    fuse: FuseFn) -> List[Tensor]:
    x, hw = backbone.patch_embed(img)
    if backbone.use_abs_pos_embed:
        x = x + backbone.absolute_pos_embed
    x = backbone.drop_after_pos(x)
    outs = []
    for i, stage in enumerate(backbone.stages):
        for block in stage.blocks:
            x = block(x, hw)
        stream, out = fuse(i, _tokens_to_map(x, hw))
        x = stream.flatten(2).transpose(1, 2)
        if i in backbone.out_indices:
            out = out.flatten(2).transpose(1, 2)
            out = getattr(backbone, f'norm{i}')(out)
            outs.append(_tokens_to_map(out, hw).contiguous())
        if stage.downsample is not None:
            x, hw = stage.downsample(x, hw)
    return outs


def _run_mmseg_resnet(backbone: nn.Module, img: Tensor,
                      fuse: FuseFn) -> List[Tensor]:
    if backbone.deep_stem:
        x = backbone.stem(img)
    else:
        x = backbone.relu(backbone.norm1(backbone.conv1(img)))
    x = backbone.maxpool(x)
    outs = []
    for i, name in enumerate(backbone.res_layers):
        x = getattr(backbone, name)(x)
        x, out = fuse(i, x)
        if i in backbone.out_indices:
            outs.append(out)
    return outs


def _run_mmpretrain_convnext(backbone: nn.Module, img: Tensor,
                             fuse: FuseFn) -> List[Tensor]:
    if backbone.gap_before_final_norm:
        raise ValueError('ConvNeXt must be built with '
                         'gap_before_final_norm=False for segmentation.')
    x = img
    outs = []
    for i, stage in enumerate(backbone.stages):
        x = stage(backbone.downsample_layers[i](x))
        x, out = fuse(i, x)
        if i in backbone.out_indices:
            outs.append(getattr(backbone, f'norm{i}')(out))
    return outs


def _runner_for(backbone: nn.Module):
    names = [c.__module__ + '.' + c.__name__ for c in type(backbone).__mro__]
    if any(n.startswith('mmseg.models.backbones.swin.SwinTransformer')
           for n in names):
        return _run_mmseg_swin
    if any(n.startswith('mmseg.models.backbones.resnet.ResNet')
           for n in names):
        return _run_mmseg_resnet
    if any(n.startswith('mmpretrain.models.backbones.convnext.ConvNeXt')
           for n in names):
        return _run_mmpretrain_convnext
    return None


def supports_early_fusion(backbone: nn.Module) -> bool:
    """Whether :func:`run_with_fusion` can drive this backbone."""
    return (hasattr(backbone, 'forward_with_fusion')
            or _runner_for(backbone) is not None)


def run_with_fusion(backbone: nn.Module, img: Tensor,
                    fuse: FuseFn) -> List[Tensor]:
    """Forward ``img`` [B, 3, H, W] through ``backbone``, calling ``fuse``
    inside every stage. Returns the backbone's multi-scale outputs."""
    if hasattr(backbone, 'forward_with_fusion'):
        return list(backbone.forward_with_fusion(img, fuse))
    runner = _runner_for(backbone)
    if runner is None:
        raise TypeError(
            f'Early fusion cannot drive {type(backbone).__name__}: supported '
            'are mmseg SwinTransformer, mmseg ResNet* and mmpretrain '
            'ConvNeXt, or a backbone with forward_with_fusion(x, fuse). '
            "Use fusion_mode='late' to fuse after the backbone instead.")
    return runner(backbone, img, fuse)
