"""Common base for referring heads."""
from typing import Dict, List, Tuple, Union

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

ReferringInputs = Dict[str, Union[Tuple[Tensor, ...], Tensor]]


class BaseReferringHead(BaseDecodeHead):
    """``BaseDecodeHead`` whose inputs carry the encoded expression.

    :class:`~mmrrsis.models.segmentors.ReferringEncoderDecoder` calls heads
    with ``inputs = dict(img_feats=tuple of [B, Ci, Hi, Wi],
    text_feats=[B, L, Ct], text_mask=[B, L], text_pooled=[B, Ct])``.
    ``loss``/``predict``/``loss_by_feat``/``predict_by_feat`` are MMSeg's,
    so MMSeg's losses, sampler and resizing apply unchanged. A plain tuple of
    visual features is also accepted (heads that ignore the text).
    """

    def split_inputs(self, inputs) -> Tuple[List[Tensor], ReferringInputs]:
        """Return the selected visual features (``in_index`` /
        ``input_transform`` applied) and the text dict (may be empty)."""
        if isinstance(inputs, dict):
            feats, text = inputs['img_feats'], inputs
        else:
            feats, text = inputs, {}
        return self._transform_inputs(list(feats)), text
