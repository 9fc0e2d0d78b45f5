"""Common base for referring heads."""
from typing import List, Optional, Tuple, Union

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from ..utils.text_features import TextFeatures

#: What the segmentor gives a referring head:
#: ``dict(img_feats=tuple of [B, Ci, Hi, Wi], text=TextFeatures)``.
ReferringInputs = dict


class BaseReferringHead(BaseDecodeHead):
    """``BaseDecodeHead`` whose inputs carry the encoded expression.

    :class:`~mmrrsis.models.segmentors.ReferringEncoderDecoder` calls heads
    with ``inputs = dict(img_feats=tuple of [B, Ci, Hi, Wi], text=text)``,
    ``text`` the :class:`~mmrrsis.models.utils.TextFeatures` after the
    fusion blocks and the neck (``text.feats`` [B, L, Ct], ``text.mask``
    [B, L], ``text.pooled`` [B, Ct], ``text.words``: the grounded words
    where BSC grounded them, and the model's optional fields).
    ``loss``/``predict``/``loss_by_feat``/``predict_by_feat`` are MMSeg's,
    so MMSeg's losses, sampler and resizing apply unchanged. A plain tuple
    of visual features is also accepted (heads that ignore the text).

    ``text_channels``: a head whose constructor takes it gets the text
    encoder's width from the segmentor when the config leaves it out.
    """

    def split_inputs(
        self, inputs: Union[ReferringInputs, Tuple[Tensor, ...]]
    ) -> Tuple[List[Tensor], Optional[TextFeatures]]:
        """Return the selected visual features (``in_index`` /
        ``input_transform`` applied) and the text (None for a tuple)."""
        if isinstance(inputs, dict):
            feats, text = inputs['img_feats'], inputs.get('text')
        else:
            feats, text = inputs, None
        return self._transform_inputs(list(feats)), text
