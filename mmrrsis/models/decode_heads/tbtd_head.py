"""T-BTD: the target-background twin-stream decoder (BTDNet)."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from ..utils.text_features import TextFeatures
from .base_referring_head import BaseReferringHead


class _TextStream(nn.Module):
    """One stream: sentence-conditioned channel modulation, convs, a 1-ch
    logit. ``F * (1 + tanh(Linear(t)))`` (Linear zero-initialised, so the
    stream starts as plain convs on ``F``)."""

    def __init__(self, channels: int, text_channels: int, num_convs: int,
                 conv_kwargs: dict) -> None:
        super().__init__()
        self.film = nn.Linear(text_channels, channels)
        self.convs = nn.Sequential(*[
            ConvModule(channels, channels, 3, padding=1, **conv_kwargs)
            for _ in range(num_convs)
        ])
        self.logit = nn.Conv2d(channels, 1, 1)

    def forward(self, feat: Tensor, sentence: Tensor):
        scale = 1 + torch.tanh(self.film(sentence))[..., None, None]
        feat = self.convs(feat * scale)
        return feat, self.logit(feat)


@MODELS.register_module()
class TBTDHead(BaseReferringHead):
    """Target-Background TwinStream Decoder with the learnable Fg-Bg
    predictor.

    Zhang et al., "Referring Remote Sensing Image Segmentation via
    Bidirectional Alignment Guided Joint Prediction" (BTDNet), arXiv
    2502.08486, Fig. 5: Multi-scale Context Integration (MCI) feeds a
    text-aware target stream and a background ("category-agnostic area")
    stream, joined by a learnable Fg-Bg predictor. Code not public; this is a
    reconstruction (see ``configs/btdnet/README.md``).

    1. MCI: each scale -> 1x1 ConvModule to ``channels``, upsampled to the
       finest scale (H/4), concatenated, 1x1 ConvModule -> ``channels``;
       then context branches (3x3 convs with ``dilations`` and an
       image-pool branch without norm, so batch 1 trains) concatenated and
       fused by a 1x1 ConvModule, added back (residual)
       -> ``F`` [B, C, H/4, W/4].
    2. Sentence vector ``t`` = masked mean of ``text.words``: the
       BSC-grounded words when BSC ran, else the text encoder's.
    3. Target stream ``Ft, z_fg = stream_t(F, t)``; background stream
       ``Fb, z_bg = stream_b(F, t)``; each modulates ``F`` channel-wise with
       ``1 + tanh(Linear(t))`` before ``num_stream_convs`` 3x3 convs and a
       1x1 logit conv.
    4. Learnable Fg-Bg predictor (2 logits, background first)::

           joint = cls_seg(fuse([Ft, Fb])) + [beta * z_bg, alpha * z_fg]

       with learnable scalars ``alpha, beta`` (init 1): the softmax of the
       second term alone is ``sigmoid(alpha z_fg - beta z_bg)``, the two
       streams' evidence combined; the first term learns corrections.
    5. Losses: ``loss_decode`` (CE + Dice in our configs) on ``joint``;
       ``loss_stream`` on ``z_fg`` against the mask and on ``z_bg`` against
       its complement (ignored pixels stay ignored), keys
       ``loss_fg_*``/``loss_bg_*``. Inference uses ``joint`` only.

    Choices where the paper is silent: the MCI layout (lateral 1x1, concat,
    dilated context branches as in ASPP), FiLM-style text conditioning of
    both streams, the additive joint predictor above and sigmoid BCE + Dice
    for the stream losses. ``with_bg_stream=False`` (ablation) keeps only
    the target stream: ``joint = cls_seg(Ft) + [0, alpha * z_fg]``.

    Args:
        in_channels (list[int]): Channels of the input maps, finest first.
        channels (int): Decoder width.
        text_channels (int): Word channels (filled in by the segmentor when
            a config leaves it out or sets None).
        dilations (Sequence[int]): Dilations of the MCI context branches.
            Defaults to (1, 3, 6).
        num_stream_convs (int): 3x3 convs per stream. Defaults to 2.
        with_bg_stream (bool): Use the background stream. Defaults to True.
        loss_stream (dict | list[dict]): Losses of each stream's 1-channel
            logit. Defaults to sigmoid BCE + foreground Dice, weight 0.5 each.
        **kwargs: ``BaseDecodeHead`` arguments (``num_classes=2``,
            ``loss_decode`` for the joint output...). ``input_transform``
            defaults to ``'multiple_select'``.

    Shapes:
        inputs['img_feats'][i]: [B, Ci, Hi, Wi]; returns joint logits
        [B, 2, H1, W1] (the finest input scale).
    """

    def __init__(self,
                 in_channels: List[int],
                 channels: int,
                 text_channels: int,
                 dilations: Sequence[int] = (1, 3, 6),
                 num_stream_convs: int = 2,
                 with_bg_stream: bool = True,
                 loss_stream: Optional[ConfigType] = None,
                 **kwargs) -> None:
        kwargs.setdefault('input_transform', 'multiple_select')
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        super().__init__(in_channels=in_channels, channels=channels, **kwargs)
        if self.out_channels != 2:
            raise ValueError('TBTDHead predicts 2 logits (background, '
                             f'target); got out_channels={self.out_channels}')
        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg)
        # ---- multi-scale context integration
        self.laterals = nn.ModuleList(
            [ConvModule(c, channels, 1, **conv) for c in self.in_channels])
        self.merge = ConvModule(channels * len(self.in_channels), channels, 1,
                                **conv)
        self.context = nn.ModuleList([
            ConvModule(channels, channels, 3, padding=d, dilation=d, **conv)
            for d in dilations
        ])
        # no norm on the pooled 1x1 map: BN cannot train on one value per
        # channel (batch 1 per GPU)
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            ConvModule(channels, channels, 1, conv_cfg=self.conv_cfg,
                       norm_cfg=None, act_cfg=self.act_cfg))
        self.context_fuse = ConvModule(channels * (len(dilations) + 1),
                                       channels, 1, **conv)
        # ---- twin streams and the learnable fg-bg predictor
        self.with_bg_stream = with_bg_stream
        self.target_stream = _TextStream(channels, text_channels,
                                         num_stream_convs, conv)
        if with_bg_stream:
            self.background_stream = _TextStream(channels, text_channels,
                                                 num_stream_convs, conv)
            self.stream_fuse = ConvModule(2 * channels, channels, 1, **conv)
        self.alpha = nn.Parameter(torch.ones(()))
        if with_bg_stream:
            self.beta = nn.Parameter(torch.ones(()))
        if loss_stream is None:
            loss_stream = [
                dict(type='CrossEntropyLoss', use_sigmoid=True,
                     loss_weight=0.5, loss_name='loss_bce'),
                dict(type='ForegroundDiceLoss', loss_weight=0.5),
            ]
        if isinstance(loss_stream, dict):
            loss_stream = [loss_stream]
        self.loss_stream = nn.ModuleList(
            [MODELS.build(c) for c in loss_stream])

    def init_weights(self) -> None:
        super().init_weights()
        streams = [self.target_stream]
        if self.with_bg_stream:
            streams.append(self.background_stream)
        for s in streams:
            nn.init.zeros_(s.film.weight)
            nn.init.zeros_(s.film.bias)

    # ------------------------------------------------------------ forward
    def integrate(self, feats: List[Tensor]) -> Tensor:
        """MCI: list of [B, Ci, Hi, Wi] -> [B, C, H1, W1]."""
        size = feats[0].shape[-2:]
        lat = [
            resize(lateral(f), size=size, mode='bilinear',
                   align_corners=self.align_corners, warning=False)
            for lateral, f in zip(self.laterals, feats)
        ]
        x = self.merge(torch.cat(lat, 1))
        ctx = [branch(x) for branch in self.context]
        pooled = self.image_pool(x).expand(-1, -1, *size)
        return x + self.context_fuse(torch.cat(ctx + [pooled], 1))

    @staticmethod
    def sentence(text: TextFeatures) -> Tensor:
        """Masked mean of the (grounded) words: [B, Ct]."""
        words = text.words
        m = text.mask.to(words.dtype).unsqueeze(-1)
        return (words * m).sum(1) / m.sum(1).clamp(min=1)

    def forward_streams(self, inputs) -> Dict[str, Tensor]:
        """All outputs: ``joint`` [B, 2, h, w], ``fg`` and (with the
        background stream) ``bg`` [B, 1, h, w]."""
        feats, text = self.split_inputs(inputs)
        if text is None:
            raise ValueError('TBTDHead reads the expression: call it with '
                             'dict(img_feats=..., text=TextFeatures(...))')
        x = self.integrate(feats)
        t = self.sentence(text)
        ft, z_fg = self.target_stream(x, t)
        outs = dict(fg=z_fg)
        if self.with_bg_stream:
            fb, z_bg = self.background_stream(x, t)
            outs['bg'] = z_bg
            joint = self.cls_seg(self.stream_fuse(torch.cat([ft, fb], 1)))
            evidence = torch.cat([self.beta * z_bg, self.alpha * z_fg], 1)
        else:
            joint = self.cls_seg(ft)
            evidence = torch.cat([torch.zeros_like(z_fg), self.alpha * z_fg],
                                 1)
        outs['joint'] = joint + evidence
        return outs

    def forward(self, inputs) -> Tensor:
        return self.forward_streams(inputs)['joint']

    # ------------------------------------------------------------ losses
    def loss(self, inputs, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """Joint loss (``loss_decode``) plus both streams' losses."""
        outs = self.forward_streams(inputs)
        losses = self.loss_by_feat(outs['joint'], batch_data_samples)
        label = self._stack_batch_gt(batch_data_samples).squeeze(1)
        targets = dict(fg=label)
        if self.with_bg_stream:
            ignore = label == self.ignore_index
            targets['bg'] = torch.where(ignore, label, 1 - label)
        for stream, target in targets.items():
            logit = resize(outs[stream], size=label.shape[-2:],
                           mode='bilinear', align_corners=self.align_corners)
            for loss in self.loss_stream:
                name = f'loss_{stream}_' + loss.loss_name[len('loss_'):]
                value = loss(logit, target, ignore_index=self.ignore_index)
                losses[name] = losses.get(name, 0) + value
        return losses
