"""What a text-aware neck offers the referring segmentor."""
from typing import Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor

from ..utils.text_features import TextFeatures


class BaseTextNeck(BaseModule):
    """Base of the necks that read the sentence (FIANet's TMEM, CroBIM's
    LGFA and CAPM).

    The segmentor calls ``feats, text = neck(feats, text)``: ``feats`` a
    sequence of [B, Ci, Hi, Wi] maps (finest first), ``text`` the
    :class:`~mmrrsis.models.utils.TextFeatures` after the fusion blocks.
    A text neck always returns both: the new maps and the text the heads
    read, which is the record it got or a new one when it refines the
    language (CAPM: ``text.replace(feats=words_and_prompts, ...)``); it
    never modifies the record given. A neck without this base (MMSeg's
    ``FPN``...) is called ``neck(feats)``.

    ``text_channels``: a neck whose constructor takes it gets the text
    encoder's width from the segmentor when the config leaves it out.
    """

    def forward(self, feats: Sequence[Tensor], text: TextFeatures
                ) -> Tuple[Sequence[Tensor], TextFeatures]:
        raise NotImplementedError
