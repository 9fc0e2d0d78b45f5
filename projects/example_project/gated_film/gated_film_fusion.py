"""Gated FiLM fusion: the sentence scales and shifts a backbone stage."""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from mmrrsis.models.fusion import BaseReferringFusion


@MODELS.register_module()
class GatedFiLMFusion(BaseReferringFusion):
    """Gated FiLM fusion block (an example of a new fusion block).

    FiLM (Perez et al., "FiLM: Visual Reasoning with a General Conditioning
    Layer", AAAI 2018) conditions visual features on language with a
    per-channel affine map predicted from the sentence. Here, after a
    backbone stage:

    1. ``s``: the mean of the word features over the real words (padded
       words excluded by the mask);
    2. ``gamma, beta = Linear(s)``; ``out = conv1x1((1 + gamma) * x + beta)``
       (``1 +`` so a small ``gamma`` starts near the identity);
    3. a per-channel tanh gate adds ``out`` to the visual stream, as LAVT's
       language gate does: ``stream = x + tanh(g) * out``. ``g`` starts at
       zero: the stream is the backbone's own at initialisation, and the
       gate still gets a gradient (``out``) from the first step.

    Choice not taken from a paper: the mean over real words as the sentence
    vector (FiLM uses a GRU's last state); any pooled sentence vector works.

    Protocol (:class:`~mmrrsis.models.fusion.BaseReferringFusion`): the
    segmentor calls ``fuse(x, text)``, whose default reads the words and
    their mask and calls ``forward(x, text.feats, text.mask)``; ``stream``
    continues through the backbone, ``out`` is the stage's output to the
    neck / head; the text goes on unchanged. The gate only shapes the
    stream (:meth:`stream_only_parameters`).

    Args:
        in_channels (int): Visual channels C of the stage.
        text_channels (int): Word feature channels Ct (the segmentor fills
            it from the text encoder when the config leaves it out).
        init_cfg (dict | list[dict], optional): Initialisation config.

    Shapes:
        x: [B, C, H, W]; text_feats: [B, L, Ct]; text_mask: [B, L] (1 for
        real words). Returns ``(stream, out)``, both [B, C, H, W].
    """

    def __init__(self,
                 in_channels: int,
                 text_channels: int,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.film = nn.Linear(text_channels, 2 * in_channels)
        self.project = nn.Conv2d(in_channels, in_channels, 1)
        self.gate = nn.Parameter(torch.zeros(in_channels))

    def stream_only_parameters(self) -> List[nn.Parameter]:
        """The gate: it only shapes ``stream``, so the segmentor freezes it
        after the last stage, where the stream goes nowhere."""
        return [self.gate]

    @staticmethod
    def sentence_vector(text_feats: Tensor, text_mask: Tensor) -> Tensor:
        """Mean of the word features over the real words: [B, Ct]."""
        mask = text_mask.to(text_feats.dtype).unsqueeze(-1)  # B L 1
        return (text_feats * mask).sum(1) / mask.sum(1).clamp(min=1)

    def forward(self, x: Tensor, text_feats: Tensor,
                text_mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Fuse one stage; see the class docstring for shapes."""
        gamma, beta = self.film(self.sentence_vector(
            text_feats, text_mask)).chunk(2, dim=1)
        out = self.project((1 + gamma[..., None, None]) * x +
                           beta[..., None, None])
        stream = x + torch.tanh(self.gate)[None, :, None, None] * out
        return stream, out
