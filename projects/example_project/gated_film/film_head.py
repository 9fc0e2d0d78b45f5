"""A tiny referring head that reads the sentence through FiLM."""
from typing import List

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.registry import MODELS
from torch import Tensor

from mmrrsis.models.decode_heads.base_referring_head import BaseReferringHead


@MODELS.register_module()
class FiLMHead(BaseReferringHead):
    """Tiny referring head: resize-and-concatenate, then FiLM by the
    sentence (an example of a new head).

    All selected maps are resized to the finest one and concatenated
    (MMSeg's ``input_transform='resize_concat'``), a 3x3 conv-norm-act
    brings them to ``channels``, the pooled sentence scales and shifts
    every channel (FiLM, Perez et al., AAAI 2018: ``(1 + gamma) * x +
    beta``), a second 3x3 conv-norm-act and the 1x1 classifier
    (``conv_seg``) give the logits. Unlike LAVT's decoder it reads the
    sentence again at decoding time.

    Args:
        in_channels (list[int]): Channels of the input maps, finest first.
        channels (int): Head width.
        text_channels (int): Width of the pooled sentence vector (the
            segmentor fills it from the text encoder when the config leaves
            it out).
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes``,
            ``norm_cfg``, ``loss_decode``, ...). ``in_index`` defaults to
            every map.

    Shapes:
        inputs['img_feats'][i]: [B, Ci, Hi, Wi] (finest first);
        inputs['text'].pooled: [B, Ct] (a
        :class:`~mmrrsis.models.utils.TextFeatures`). Returns logits
        [B, num_classes, H0, W0] at the finest map's size.
    """

    def __init__(self, in_channels: List[int], channels: int,
                 text_channels: int, **kwargs) -> None:
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        super().__init__(in_channels=in_channels, channels=channels,
                         input_transform='resize_concat', **kwargs)
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg)
        self.squeeze = ConvModule(self.in_channels, channels, 3, padding=1,
                                  **conv)
        self.film = nn.Linear(text_channels, 2 * channels)
        self.refine = ConvModule(channels, channels, 3, padding=1, **conv)

    def forward(self, inputs: dict) -> Tensor:
        """Logits from ``inputs = dict(img_feats=..., text=...)``."""
        feats, text = self.split_inputs(inputs)
        x = self.squeeze(feats)  # resize_concat: one [B, sum(Ci), H0, W0]
        gamma, beta = self.film(text.pooled).chunk(2, dim=1)
        x = (1 + gamma[..., None, None]) * x + beta[..., None, None]
        return self.cls_seg(self.refine(x))
