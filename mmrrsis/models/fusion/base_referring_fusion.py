"""What a fusion block offers the referring segmentor."""
import contextlib
import contextvars
from typing import Iterator, List, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch import Tensor

from ..utils.text_features import TextFeatures

_CHECKPOINTING = contextvars.ContextVar('fusion_checkpointing', default=False)


@contextlib.contextmanager
def fusion_checkpointing(enabled: bool = True) -> Iterator[None]:
    """Within this context, fusion blocks called in training with gradients
    on are activation-checkpointed (as if their ``with_cp`` were True).
    Language-aware backbones enter it around ``fuse`` when their
    ``with_cp`` is set."""
    token = _CHECKPOINTING.set(bool(enabled))
    try:
        yield
    finally:
        _CHECKPOINTING.reset(token)


class BaseReferringFusion(BaseModule):
    """Base of the blocks that bring the sentence into a visual map, inside
    a backbone stage (``fusion_mode='early'``, through a language-aware
    backbone) or on a backbone output (``'late'``).

    The segmentor calls :meth:`fuse` once per stage that has a block::

        stream, out, text = block.fuse(x, text)

    * ``x`` [B, C, H, W]: the stage's visual map;
    * ``stream`` [B, C, H, W]: continues through the backbone (early
      fusion; dropped after the last stage and in late fusion);
    * ``out`` [B, C, H, W]: the stage output that goes to the neck / head;
    * ``text``: the :class:`~mmrrsis.models.utils.TextFeatures` the next
      block, the neck and the heads read: the one given, or a new record
      (``text.replace(grounded=...)``) when the block refines the language.
      Never modify the record given.

    The default :meth:`fuse` reads the word features and their mask and
    calls ``forward(x, text.feats, text.mask) -> (stream, out)`` (PWAM);
    a block that reads more (FIAM's object / spatial texts) or refines the
    words (BSC) overrides :meth:`fuse`.

    ``text_channels``: a block's constructor that takes it gets the text
    encoder's width from the segmentor when the config leaves it out
    (:func:`~mmrrsis.models.utils.fill_text_channels`).

    ``with_cp`` (activation checkpointing): when True, or inside
    :func:`fusion_checkpointing` (a language-aware backbone built with
    ``with_cp=True``), a call in training with gradients on keeps no
    activations and recomputes the block in backward (non-reentrant
    ``torch.utils.checkpoint``: same outputs and gradients, dropout
    replayed; the text record is an immutable input).
    """

    #: Checkpoint this block's activations in training (see the class doc).
    with_cp: bool = False

    def __call__(self, *args, **kwargs):
        if (self.with_cp or _CHECKPOINTING.get()) and self.training \
                and torch.is_grad_enabled():
            return cp.checkpoint(self._call_unchecked, *args,
                                 use_reentrant=False, **kwargs)
        return super().__call__(*args, **kwargs)

    def _call_unchecked(self, *args, **kwargs):
        # The block is checkpointed as a whole: blocks nested inside it
        # (FIAM's context PWAM) run plainly, in the forward pass and in the
        # recomputation alike. The context that switched checkpointing on
        # is gone when backward recomputes, so a nested block that read it
        # would save other tensors the second time (CheckpointError).
        with fusion_checkpointing(False):
            return super().__call__(*args, **kwargs)

    def fuse(self, x: Tensor,
             text: TextFeatures) -> Tuple[Tensor, Tensor, TextFeatures]:
        """Fuse one stage: ``(stream, out, text)``; see the class doc."""
        stream, out = self(x, text.feats, text.mask)
        return stream, out, text

    def stream_only_parameters(self) -> List[nn.Parameter]:
        """Parameters that only shape ``stream``. After a backbone's last
        stage the stream goes nowhere, so the segmentor freezes them there
        (``requires_grad=False``: checkpoints keep them, DDP needs no
        ``find_unused_parameters``). Defaults to none."""
        return []
