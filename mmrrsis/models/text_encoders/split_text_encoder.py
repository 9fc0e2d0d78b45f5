"""Text encoder that also encodes the ground-object and spatial-position
texts of an expression (FIANet)."""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .expression_splitter import ExpressionSplitter
from .hf_text_encoder import HFTextEncoder, TokenBatch

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

    One BERT call (``batched_passes=True``, the default): the three passes
    share their token ids and differ only in the attention mask, and BERT
    treats every row of a batch on its own, so the sentence, object and
    spatial rows are stacked into one batch of at most [3B, L] and BERT runs
    once; the output is split back. A row whose object or spatial attention
    equals the sentence mask (the fallbacks above, or a mask that covers the
    whole sentence) or equals the other split mask is not run again: the
    features already computed for that attention are reused. Same function
    as three calls (float64: equal to ~1e-12, float32: to rounding, ~1e-6;
    tested), and gradients are the same. In train mode with dropout the
    random masks differ (one draw per distinct row instead of one per
    pass), as any change of batch layout does. ``batched_passes=False``
    keeps the three sequential calls of the official code, for reference
    and for measuring.

    Caching: with a frozen encoder (``cache_size > 0``) the base class's
    cache keeps every key :meth:`_encode` returns, the object and spatial
    features included, so every sentence is encoded once.

    Tokenisation: :meth:`HFTextEncoder.tokenize` runs the tokenizer once per
    batch; the same :class:`TokenBatch` gives the ids, the truncation
    warning and the splitter's character offsets.

    Args:
        splitter (dict | ExpressionSplitter, optional): Splitter arguments
            (e.g. ``dict(class_words='rrsisd')``). Defaults to the RefSegRS
            class list.
        batched_passes (bool): One BERT call over the stacked distinct
            attention rows instead of three calls (see above). Defaults to
            True.
        **kwargs: :class:`HFTextEncoder` arguments.

    Shapes:
        forward(texts) returns :class:`HFTextEncoder`'s record with
        ``object_feats`` and ``spatial_feats`` [B, L, C], ``object_mask``
        and ``spatial_mask`` [B, L] (long, 1 for the marked tokens) set.
    """

    def __init__(self,
                 splitter: Optional[Union[dict, ExpressionSplitter]] = None,
                 batched_passes: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(splitter, ExpressionSplitter):
            splitter = ExpressionSplitter(**(splitter or {}))
        self.splitter = splitter
        self.batched_passes = batched_passes

    @staticmethod
    def pass_masks(mask: Tensor, object_mask: Tensor,
                   spatial_mask: Tensor) -> Tuple[Tensor, Tensor]:
        """BERT attention masks [B, L] of the object and spatial passes: the
        marked tokens, or the sentence ``mask`` where none is marked."""
        obj_attn = torch.where(
            object_mask.any(1, keepdim=True), object_mask, mask)
        sp_attn = torch.where(
            spatial_mask.any(1, keepdim=True), spatial_mask, mask)
        return obj_attn, sp_attn

    @staticmethod
    def pass_plan(mask: Tensor, obj_attn: Tensor,
                  sp_attn: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Which attention rows one BERT call needs, and where each pass
        reads its features.

        Args:
            mask, obj_attn, sp_attn (Tensor): [B, L] attention masks of the
                sentence, object and spatial passes (on the host, so
                planning needs no device synchronisation).

        Returns:
            tuple: ``src`` [N] (rows of the stacked ``[mask; obj_attn;
            sp_attn]`` [3B, L] that BERT runs: the B sentence rows, then the
            object and spatial rows that differ from every row before
            them; the token ids of row ``src % B``), ``obj_index`` and
            ``sp_index`` [B] (the BERT row holding each sample's object /
            spatial features).
        """
        B = mask.shape[0]
        obj_same = (obj_attn == mask).all(1)
        sp_same = (sp_attn == mask).all(1)
        sp_as_obj = (sp_attn == obj_attn).all(1) & ~sp_same
        obj_new = (~obj_same).nonzero().flatten()
        sp_new = (~sp_same & ~sp_as_obj).nonzero().flatten()
        obj_index = torch.arange(B)
        obj_index[obj_new] = B + torch.arange(len(obj_new))
        sp_index = torch.arange(B)
        sp_index[sp_as_obj] = obj_index[sp_as_obj]
        sp_index[sp_new] = B + len(obj_new) + torch.arange(len(sp_new))
        src = torch.cat([torch.arange(B), B + obj_new, 2 * B + sp_new])
        return src, obj_index, sp_index

    def _three_passes(self, input_ids: Tensor, mask: Tensor,
                      obj_attn: Tensor, sp_attn: Tensor,
                      **extra) -> Tuple[Tensor, Tensor, Tensor]:
        """Sentence, object and spatial features [B, L, C] of the same ids
        under three attention masks (one BERT call or three, see
        ``batched_passes``). ``input_ids`` and ``extra`` are on the model's
        device; the masks may be on the host (then nothing synchronises)."""
        device = input_ids.device
        if not self.batched_passes:
            return tuple(self._run(input_ids, m.to(device), **extra)
                         for m in (mask, obj_attn, sp_attn))
        B = mask.shape[0]
        stacked = torch.cat([mask, obj_attn, sp_attn]).cpu()
        src, obj_index, sp_index = self.pass_plan(*stacked.split(B))
        rows = (src % B).to(device)
        hidden = self._run(input_ids[rows], stacked[src].to(device),
                           **{k: v[rows] for k, v in extra.items()})
        return (hidden[:B], hidden[obj_index.to(device)],
                hidden[sp_index.to(device)])

    def encode_split(self, input_ids: Tensor, mask: Tensor,
                     object_mask: Tensor, spatial_mask: Tensor,
                     **extra) -> Dict[str, Tensor]:
        """Object and spatial features for given token ids and masks
        (all [B, L]); used to feed externally computed masks (e.g. the
        official ones). With ``batched_passes`` the sentence rows are in
        the same BERT call (masks on a GPU are read on the host once)."""
        obj_attn, sp_attn = self.pass_masks(mask, object_mask, spatial_mask)
        _, obj_feats, sp_feats = self._three_passes(
            input_ids, mask, obj_attn, sp_attn, **extra)
        return dict(object_feats=obj_feats, object_mask=object_mask,
                    spatial_feats=sp_feats, spatial_mask=spatial_mask)

    def _encode_batch(self, texts: List[str],
                      tok: TokenBatch) -> Dict[str, Tensor]:
        masks = self.splitter(texts, tok)  # on the host, from the same tok
        device = self._device()
        mask = tok['attention_mask']
        obj_attn, sp_attn = self.pass_masks(mask, masks['object_mask'],
                                            masks['spatial_mask'])
        input_ids = tok['input_ids'].to(device)
        extra = {}
        if 'token_type_ids' in tok:
            extra['token_type_ids'] = tok['token_type_ids'].to(device)
        feats, obj_feats, sp_feats = self._three_passes(
            input_ids, mask, obj_attn, sp_attn, **extra)
        mask = mask.to(device)
        return dict(feats=feats, mask=mask, pooled=self._pool(feats, mask),
                    input_ids=input_ids, object_feats=obj_feats,
                    object_mask=masks['object_mask'].to(device),
                    spatial_feats=sp_feats,
                    spatial_mask=masks['spatial_mask'].to(device))
