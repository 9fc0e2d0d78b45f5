"""The referring encoder-decoder: MMSeg's EncoderDecoder plus a sentence."""
import copy
import logging
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import ModuleList
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)
from torch import Tensor

from ..backbones.stage_runner import (early_fusion_error, run_with_fusion,
                                      supports_early_fusion)
from ..fusion.base_referring_fusion import BaseReferringFusion
from ..necks.base_text_neck import BaseTextNeck
from ..utils.pretrained import (check_pretrained_coverage, enforce_coverage,
                                pretrained_init_cfg)
from ..utils.text_channels import fill_text_channels
from ..utils.text_features import TextFeatures

FusionCfg = Union[None, dict, Sequence[Optional[dict]]]


def _expand_fusion_cfgs(fusion: FusionCfg, text_channels: int) -> List:
    """``dict(type=..., in_channels=[c0, c1, ...])`` -> one config per stage;
    a list is taken as is (``None`` entries mean "no fusion at that stage").
    ``text_channels`` is filled in by :func:`fill_text_channels`."""
    if fusion is None:
        return []
    if isinstance(fusion, dict):
        chans = fusion.get('in_channels')
        if not isinstance(chans, (list, tuple)):
            raise ValueError('A single fusion dict needs a list in_channels '
                             '(one entry per backbone stage, None to skip).')
        cfgs = []
        for c in chans:
            if c is None:
                cfgs.append(None)
            else:
                cfg = copy.deepcopy(dict(fusion))
                cfg['in_channels'] = c
                cfgs.append(cfg)
    else:
        cfgs = [copy.deepcopy(dict(c)) if c is not None else None
                for c in fusion]
    return [fill_text_channels(c, text_channels) for c in cfgs]


def _legacy_fuse(block: nn.Module, x: Tensor, text: TextFeatures
                 ) -> Tuple[Tensor, Tensor, TextFeatures]:
    """A fusion block written before :class:`BaseReferringFusion`: called as
    it was (``block(x, text)`` with ``with_text_dict = True``, else
    ``block(x, text.feats, text.mask)``) returning ``(stream, out)``; it
    cannot refine the text. Derive new blocks from the base class."""
    if getattr(block, 'with_text_dict', False):
        stream, out = block(x, text)
    else:
        stream, out = block(x, text.feats, text.mask)
    return stream, out, text


@MODELS.register_module()
class ReferringEncoderDecoder(EncoderDecoder):
    """Referring segmentor: image backbone + text encoder + fusion + head.

    Data flow (one way; the text is an immutable
    :class:`~mmrrsis.models.utils.TextFeatures` that modules read and, when
    they refine it, return anew)::

        texts (data_sample.metainfo['text']) -> text_encoder
            -> text: feats [B, L, Ct], mask [B, L], pooled [B, Ct], ...
        img [B, 3, H, W] -> backbone stages, each followed by its fusion
            block when fusion_mode='early' (LAVT/FIANet/BTDNet), or the
            fusion blocks applied to the backbone outputs ('late'):
            stream, out, text = block.fuse(x, text)
            -> neck (optional): feats, text = neck(feats, text) for a
               BaseTextNeck, feats = neck(feats) otherwise
            -> heads: dict(img_feats=tuple of [B, Ci, Hi, Wi], text=text)
            -> logits [B, K, h, w]

    ``text_channels`` of every fusion block, neck and head (auxiliary heads
    and CAPM's nested visual neck too) whose constructor takes it is filled
    in with the text encoder's width unless the config sets a number
    (:func:`~mmrrsis.models.utils.fill_text_channels`).

    Loss, predict and tensor modes follow MMSeg. Whole and slide inference
    carry the sentence (``encode_decode`` reads it from the image metas).
    Predictions come back at the original image size (``pred_sem_seg``),
    and also at the network input size (``pred_sem_seg_input``), which the
    LAVT/RMSIN evaluation protocol uses.

    Args:
        backbone (dict): Backbone config. Early fusion needs a
            language-aware backbone (``LanguageAwareSwin``,
            ``LanguageAwareResNet``, ``LanguageAwareConvNeXt``; plain MMSeg
            Swin / ResNet and MMPretrain ConvNeXt work too, see
            :mod:`mmrrsis.models.backbones.stage_runner`).
        text_encoder (dict): Text encoder config (``HFTextEncoder``).
        decode_head (dict): Referring head config.
        fusion (dict | list[dict | None], optional): Fusion blocks
            (:class:`~mmrrsis.models.fusion.BaseReferringFusion`), one per
            backbone stage (the list covers every stage, so its last entry
            is the last stage, whose stream-only parameters are frozen). A
            dict with a list ``in_channels`` expands to one block per
            entry. None: no fusion.
        fusion_mode (str): ``'early'`` (inside the stages) or ``'late'``
            (on the backbone outputs). Defaults to ``'early'``.
        neck (dict, optional): Neck; a
            :class:`~mmrrsis.models.necks.BaseTextNeck` is called
            ``neck(img_feats, text)`` and returns ``(img_feats, text)``,
            another neck ``neck(img_feats)``.
        allow_partial_pretrained (bool): Accept a backbone ``Pretrained``
            checkpoint that covers only part of the backbone (a warning
            instead of ``PretrainedCoverageError`` in ``init_weights``; see
            :mod:`mmrrsis.models.utils.pretrained`). Defaults to False.
        channels_last (bool): Keep every 4-D parameter and buffer
            (convolution weights) in the channels-last memory format, so
            that the convolutions run, and hand on their outputs, in NHWC
            layout: ConvNeXt's depthwise convolutions then skip the
            layout copies around its channel-last LayerNorm and Linear
            layers. The same function (float32 differences from the
            convolutions' other summation order, about 1e-5); checkpoints
            are the same in both layouts. Measured on the 2-core CPU with
            ``crobim_convnextb.py`` at 480x480, batch 1, three alternating
            rounds: training step 0.82-1.05x (median 0.86x), inference
            0.75-0.89x (median 0.83x); the ConvNeXt-B backbone alone trains
            in 0.79x. No gain for the LAVT decoder's convolutions, so the
            Swin configs leave it off. Defaults to False.
        auxiliary_head, train_cfg, test_cfg, data_preprocessor, pretrained,
        init_cfg: As in MMSeg's ``EncoderDecoder``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 text_encoder: ConfigType,
                 decode_head: ConfigType,
                 fusion: FusionCfg = None,
                 fusion_mode: str = 'early',
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None,
                 allow_partial_pretrained: bool = False,
                 channels_last: bool = False) -> None:
        if fusion_mode not in ('early', 'late'):
            raise ValueError(f"fusion_mode must be 'early' or 'late', got "
                             f'{fusion_mode!r}')
        text_enc = MODELS.build(text_encoder)
        text_channels = int(text_enc.out_channels)
        decode_head = fill_text_channels(decode_head, text_channels)
        neck = fill_text_channels(neck, text_channels)
        if isinstance(auxiliary_head, (list, tuple)):
            auxiliary_head = [fill_text_channels(c, text_channels)
                              for c in auxiliary_head]
        else:
            auxiliary_head = fill_text_channels(auxiliary_head,
                                                text_channels)
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            neck=neck,
            auxiliary_head=auxiliary_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            pretrained=pretrained,
            init_cfg=init_cfg)
        self.text_encoder = text_enc
        self.fusion_mode = fusion_mode
        self.allow_partial_pretrained = allow_partial_pretrained
        self.pretrained_report: Optional[dict] = None
        cfgs = _expand_fusion_cfgs(fusion, text_channels)
        # mmengine's ModuleList (a BaseModule): init_weights() reaches the
        # fusion blocks (a torch nn.ModuleList would stop the walk, leaving
        # e.g. PWAM's gate un-zeroed)
        self.fusions = ModuleList(
            [MODELS.build(c) if c is not None else nn.Identity()
             for c in cfgs])
        self._has_fusion = [c is not None for c in cfgs]
        for block in self.fusions:
            if not isinstance(block, (BaseReferringFusion, nn.Identity)):
                print_log(
                    f'{type(block).__name__} does not derive from '
                    'BaseReferringFusion: it is called with the former '
                    'protocol (deprecated) and cannot refine the text.',
                    logger='current', level=logging.WARNING)
        if fusion_mode == 'early' and cfgs and self._has_fusion[-1]:
            # After the last stage the stream goes nowhere (LAVT returns the
            # fusion output and drops the stream too): freeze what only
            # shapes it (checkpoints unchanged, no unused DDP parameters).
            last = self.fusions[len(cfgs) - 1]
            stream_only = (last.stream_only_parameters() if isinstance(
                last, BaseReferringFusion) else getattr(
                    last, 'stream_only_parameters', list)())
            for p in stream_only:
                p.requires_grad = False
        if any(self._has_fusion) and fusion_mode == 'early' \
                and not supports_early_fusion(self.backbone):
            raise early_fusion_error(self.backbone)
        self.channels_last = channels_last
        self._apply_memory_format()

    def _apply_memory_format(self) -> None:
        # Module.to(memory_format=...) converts the 4-D parameters and
        # buffers in place (the Parameter objects stay, so an optimiser
        # built before keeps them); loading a checkpoint copies into them
        # and keeps the layout
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def init_weights(self) -> None:
        """MMEngine's init walk, then a check that a ``Pretrained``
        backbone checkpoint covered the whole backbone (raises
        ``PretrainedCoverageError`` listing missing and unexpected keys
        unless ``allow_partial_pretrained``). A backbone that checks its own
        load (``PretrainedSwinTransformer``) gets the switch and leaves its
        report; others (``mmpretrain.ConvNeXt``, MMSeg ``ResNet``, loaded by
        MMEngine's ``PretrainedInit``) are checked here by reading the
        checkpoint again. The report is kept in ``self.pretrained_report``.
        """
        first = not self.is_init
        backbone = self.backbone
        if self.allow_partial_pretrained and hasattr(
                backbone, 'allow_partial_pretrained'):
            backbone.allow_partial_pretrained = True
        if self.channels_last:
            # random initialisers fill a tensor in memory order: initialise
            # in the standard layout, so a seed gives the same weights in
            # either layout
            self.to(memory_format=torch.contiguous_format)
        super().init_weights()
        self._apply_memory_format()
        if not first:
            return
        report = getattr(backbone, 'pretrained_report', None)
        init = pretrained_init_cfg(getattr(backbone, 'init_cfg', None))
        if report is None and init is not None:
            report = check_pretrained_coverage(backbone, init['checkpoint'],
                                               init.get('prefix'))
            enforce_coverage(report, self.allow_partial_pretrained)
        self.pretrained_report = report

    # ----------------------------------------------------------- text side
    @staticmethod
    def texts_from_metas(metas: Sequence[dict]) -> List[str]:
        """Collect the expressions of a batch from its image metas."""
        texts = []
        for i, meta in enumerate(metas):
            text = meta.get('text') if isinstance(meta, dict) else None
            if text is None:
                raise KeyError(
                    f'Sample {i} of the batch has no "text" in its metainfo '
                    f'(keys: {sorted(meta)}); pack samples with '
                    'PackReferringInputs so the expression travels with them.')
            texts.append(text)
        return texts

    def encode_text(self, texts: Sequence[str]) -> TextFeatures:
        """Encode B expressions: ``feats`` [B, L, Ct], ``mask`` [B, L],
        ``pooled`` [B, Ct] and the encoder's other fields."""
        text = self.text_encoder(list(texts))
        if not isinstance(text, TextFeatures):  # an encoder returning a dict
            text = TextFeatures.from_dict(dict(text))
        return text

    # ----------------------------------------------------------- features
    def _fuse(self, i: int, x: Tensor, text: TextFeatures
              ) -> Tuple[Tensor, Tensor, TextFeatures]:
        """Fusion block ``i`` on map ``x``: ``(stream, out, text)``."""
        if i >= len(self.fusions) or not self._has_fusion[i]:
            return x, x, text
        block = self.fusions[i]
        if isinstance(block, BaseReferringFusion):
            return block.fuse(x, text)
        return _legacy_fuse(block, x, text)

    def extract_feat(self, inputs: Tensor,
                     texts: Optional[Sequence[str]] = None) -> dict:
        """Visual features fused with the expressions.

        Args:
            inputs (Tensor): Images [B, 3, H, W].
            texts (list[str]): B expressions.

        Returns:
            dict: ``img_feats`` (tuple of [B, Ci, Hi, Wi]) and ``text``: the
            :class:`TextFeatures` after the fusion blocks and the neck.
        """
        if texts is None:
            raise ValueError('ReferringEncoderDecoder needs the expressions: '
                             'extract_feat(inputs, texts).')
        if len(texts) != inputs.shape[0]:
            raise ValueError(f'{len(texts)} expressions for a batch of '
                             f'{inputs.shape[0]} images')
        text = self.encode_text(texts)
        if any(self._has_fusion) and self.fusion_mode == 'early':
            state = dict(text=text)

            def fuse(i: int, x: Tensor) -> Tuple[Tensor, Tensor]:
                stream, out, state['text'] = self._fuse(i, x, state['text'])
                return stream, out

            feats = run_with_fusion(self.backbone, inputs, fuse)
            text = state['text']
        else:
            feats = list(self.backbone(inputs))
            if any(self._has_fusion):
                outs = []
                for i, f in enumerate(feats):
                    _, out, text = self._fuse(i, f, text)
                    outs.append(out)
                feats = outs
        if self.with_neck:
            if isinstance(self.neck, BaseTextNeck):
                feats, text = self.neck(feats, text)
            else:
                feats = self.neck(feats)
        return dict(img_feats=tuple(feats), text=text)

    # ----------------------------------------------------------- modes
    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Logits at the (padded) input size; the expressions come from
        ``batch_img_metas`` so slide inference carries them per crop."""
        x = self.extract_feat(inputs, self.texts_from_metas(batch_img_metas))
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        texts = self.texts_from_metas([s.metainfo for s in data_samples])
        x = self.extract_feat(inputs, texts)
        losses = dict()
        losses.update(self._decode_head_forward_train(x, data_samples))
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return losses

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        if data_samples is None:
            raise ValueError("tensor mode needs data_samples carrying 'text'")
        texts = self.texts_from_metas([s.metainfo for s in data_samples])
        return self.decode_head.forward(self.extract_feat(inputs, texts))

    def postprocess_result(self,
                           seg_logits: Tensor,
                           data_samples: OptSampleList = None) -> SampleList:
        """MMSeg's post-processing (original size) plus
        ``pred_sem_seg_input``: the mask at the network input size
        (``img_shape``, padding removed, flips undone)."""
        data_samples = super().postprocess_result(seg_logits, data_samples)
        H, W = seg_logits.shape[-2:]
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            pad = meta.get('img_padding_size', meta.get('padding_size',
                                                        [0] * 4))
            left, right, top, bottom = pad
            logit = seg_logits[i, :, top:H - bottom, left:W - right]
            img_shape = meta.get('img_shape')
            if img_shape is not None and tuple(logit.shape[-2:]) != tuple(
                    img_shape[:2]):
                logit = logit[:, :img_shape[0], :img_shape[1]]
            if meta.get('flip', False):
                dim = 2 if meta.get('flip_direction') == 'horizontal' else 1
                logit = logit.flip(dims=(dim, ))
            if logit.shape[0] > 1:
                pred = logit.argmax(dim=0, keepdim=True)
            else:
                pred = (logit.sigmoid() > self.decode_head.threshold).to(
                    torch.long)
            sample.set_data({'pred_sem_seg_input': PixelData(data=pred)})
        return data_samples
