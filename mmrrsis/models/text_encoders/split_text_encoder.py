"""Text encoder that also encodes the ground-object and spatial-position
texts of an expression (FIANet)."""
from typing import Dict, List, Optional, Union

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .expression_splitter import ExpressionSplitter
from .hf_text_encoder import HFTextEncoder

#: Fields of the text record this encoder sets beyond
#: :class:`HFTextEncoder`'s.
SPLIT_KEYS = ('object_feats', 'object_mask', 'spatial_feats', 'spatial_mask')


@MODELS.register_module()
class SplitTextEncoder(HFTextEncoder):
    """:class:`HFTextEncoder` plus FIANet's decoupled texts.

    Lei et al., "Exploring Fine-Grained Image-Text Alignment for Referring
    Remote Sensing Image Segmentation", TGRS 2024. The
    expression is the *context text*; an :class:`ExpressionSplitter` marks
    its ground-object and spatial-position tokens, and, as in the official
    code, the same BERT runs three times over the same token ids with three
    attention masks (the sentence, the object tokens, the spatial tokens),
    so the object and spatial features are contextualised only among
    themselves.

    Where the object mask of a sentence is empty, BERT is run over the
    whole sentence instead (an all-masked attention row is ill-defined);
    this changes nothing downstream because the object attention then
    masks every word and FIAM's object branch outputs exactly zero, as in
    the official code.

    Caching: with a frozen encoder (``cache_size > 0``) the base class's
    cache keeps every key :meth:`_encode` returns, the object and spatial
    features included, so every sentence is encoded once.

    Args:
        splitter (dict | ExpressionSplitter, optional): Splitter arguments
            (e.g. ``dict(class_words='rrsisd')``). Defaults to the RefSegRS
            class list.
        **kwargs: :class:`HFTextEncoder` arguments.

    Shapes:
        forward(texts) returns :class:`HFTextEncoder`'s record with
        ``object_feats`` and ``spatial_feats`` [B, L, C], ``object_mask``
        and ``spatial_mask`` [B, L] (long, 1 for the marked tokens) set.
    """

    def __init__(self,
                 splitter: Optional[Union[dict, ExpressionSplitter]] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(splitter, ExpressionSplitter):
            splitter = ExpressionSplitter(**(splitter or {}))
        self.splitter = splitter

    def _run(self, input_ids: Tensor, attention_mask: Tensor,
             **extra) -> Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and self.frozen_layers >= 0):
            return self.model(input_ids=input_ids,
                              attention_mask=attention_mask,
                              **extra).last_hidden_state

    def encode_split(self, input_ids: Tensor, mask: Tensor,
                     object_mask: Tensor, spatial_mask: Tensor,
                     **extra) -> Dict[str, Tensor]:
        """Object and spatial features for given token ids and masks
        (all [B, L]); used by :meth:`forward` and to feed externally
        computed masks (e.g. the official ones)."""
        obj_attn = torch.where(
            object_mask.any(1, keepdim=True), object_mask, mask)
        sp_attn = torch.where(
            spatial_mask.any(1, keepdim=True), spatial_mask, mask)
        return dict(
            object_feats=self._run(input_ids, obj_attn, **extra),
            object_mask=object_mask,
            spatial_feats=self._run(input_ids, sp_attn, **extra),
            spatial_mask=spatial_mask)

    def _encode(self, texts: List[str]) -> Dict[str, Tensor]:
        out = super()._encode(texts)
        # same settings as the base call: identical ids, with offsets
        tok = self.tokenize(texts)
        masks = self.splitter(texts, tok)
        device = out['input_ids'].device
        extra = {}
        if 'token_type_ids' in tok:
            extra['token_type_ids'] = tok['token_type_ids'].to(device)
        out.update(self.encode_split(
            out['input_ids'], out['mask'], masks['object_mask'].to(device),
            masks['spatial_mask'].to(device), **extra))
        return out
