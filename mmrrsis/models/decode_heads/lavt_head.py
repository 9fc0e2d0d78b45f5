"""The LAVT decoder."""
from typing import List

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from .base_referring_head import BaseReferringHead


@MODELS.register_module()
class LAVTHead(BaseReferringHead):
    """Top-down decoder of LAVT (Yang et al., CVPR 2022; GitHub
    yz93/LAVT-RIS, ``SimpleDecoding``).

    Starting from the coarsest map, each step upsamples the running feature
    (bilinear) to the next finer map, concatenates them and applies two
    3x3 conv-BN-ReLU layers (no conv bias) of width ``channels``; a 1x1
    classifier (``conv_seg``) gives the logits at 1/4 of the input. LAVT's
    width is ``C4 // 2`` (512 for Swin-B). LAVT's decoder does not read the
    expression (the language is already fused into the features).

    Args:
        in_channels (list[int]): Channels of the 4 (or more) input maps,
            finest first, e.g. ``[128, 256, 512, 1024]``.
        channels (int): Decoder width. LAVT: ``in_channels[-1] // 2``.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes=2``,
            ``align_corners=True`` as in LAVT, ``loss_decode``...).
            ``input_transform`` defaults to ``'multiple_select'``.

    Shapes:
        inputs['img_feats'][i]: [B, Ci, H/2^(i+2), W/2^(i+2)];
        returns logits [B, num_classes, H/4, W/4].
    """

    def __init__(self, in_channels: List[int], channels: int, **kwargs):
        kwargs.setdefault('input_transform', 'multiple_select')
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        super().__init__(in_channels=in_channels, channels=channels, **kwargs)
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg, bias=False)
        self.fuse_blocks = nn.ModuleList()
        prev = self.in_channels[-1]
        for c in reversed(self.in_channels[:-1]):
            self.fuse_blocks.append(
                nn.Sequential(
                    ConvModule(prev + c, channels, 3, padding=1, **conv),
                    ConvModule(channels, channels, 3, padding=1, **conv)))
            prev = channels

    def forward(self, inputs) -> Tensor:
        feats, _ = self.split_inputs(inputs)  # the text is not read
        x = feats[-1]
        for block, skip in zip(self.fuse_blocks, reversed(feats[:-1])):
            if x.shape[-2:] != skip.shape[-2:]:
                x = resize(x, size=skip.shape[-2:], mode='bilinear',
                           align_corners=self.align_corners, warning=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.cls_seg(x)
