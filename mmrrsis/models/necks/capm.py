"""CroBIM's context-aware prompt modulation (CAPM)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import Tensor

from ..utils.masked_attention import MaskedAttention, token_ffn
from ..utils.text_channels import fill_text_channels
from ..utils.text_features import TextFeatures
from .base_text_neck import BaseTextNeck


@MODELS.register_module()
class CAPM(BaseTextNeck):
    """Context-aware prompt modulation (CroBIM, Dong et al., arXiv
    2410.08613, Sec. "Context-Aware Prompt Modulation"; flowchart boxes
    "Prompt", "Pooling & Concat", "Vision-to-Language Interaction").

    A text neck (:class:`BaseTextNeck`): ``neck(feats, text)`` returns
    ``(feats, text')``, ``text'`` a new record with the linguistic features
    modulated.

    1. Pooling & concat: every backbone map is average-pooled to a
       ``pool_size`` x ``pool_size`` grid, projected to the text width and
       given a learned position embedding per cell and scale (the grid
       keeps *where* things are, the paper's spatial-position context):
       ``ctx`` [B, S * pool_size^2, Ct].
    2. Vision-to-language interaction: ``num_prompts`` learnable prompt
       tokens (task knowledge) query the context:
       ``P = LN(P0 + Attn(P0, ctx))``, ``P = LN(P + FFN(P))``.
    3. Prompt modulation: the prompts are appended to the word sequence,
       ``[T ; P]`` with mask ``[m ; 1]``, and ``num_layers`` transformer
       layers (masked self-attention + FFN) let words and prompts read each
       other. The result [B, L + K, Ct] is the new record's ``feats`` (and
       its mask grows by K ones); the plain words are its ``plain_feats`` /
       ``plain_mask``, the modulated prompts its ``prompt_feats``;
       ``pooled`` is kept, and ``grounded`` words of another length are
       dropped (``words`` then reads the new ``feats``).

    In the paper's figure the prompts are fed *into the text encoder* next
    to the word embeddings (the encoder runs twice: plain words for LGFA,
    words + prompts for MID). Our choice: the text encoder runs once and
    step 3's small transformer plays the prompted pass. Reasons: the
    segmentor encodes the expression once before the backbone, and a
    second BERT-base pass over [words; prompts] per sample would need the
    encoder inside the neck and double the text cost; this way CAPM also
    works with frozen, cached encoders (the CPU demo). Defaults
    ``num_prompts=4`` (the flowchart draws four), ``pool_size=4``,
    one modulation layer, 8 heads: the paper gives no numbers we could
    read.

    ``visual_neck`` (e.g. ``dict(type='LGFA', ...)``): CAPM and LGFA are
    parallel in the figure (both read the backbone maps; LGFA reads the
    *plain* words, MID the prompted ones) and the segmentor has one neck
    slot, so CAPM runs the visual neck on the backbone maps with the
    unmodulated text and returns its maps. None: the maps pass through.

    Args:
        in_channels (list[int]): Channels of the backbone maps.
        text_channels (int): Word feature width Ct (filled in by the
            segmentor when a config leaves it out or sets None).
        num_prompts (int): Learnable prompts K. Defaults to 4.
        pool_size (int): Context grid per scale. Defaults to 4.
        num_heads (int): Attention heads; must divide Ct. Defaults to 8.
        num_layers (int): Prompt modulation layers. Defaults to 1.
        ffn_ratio (float): FFN expansion. Defaults to 4.
        visual_neck (dict, optional): Neck run on the visual maps (its
            ``text_channels`` is filled in with Ct by the same rule).
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        feats: sequence of [B, Ci, Hi, Wi]; text ``feats`` [B, L, Ct],
        ``mask`` [B, L]. Returns ``(feats', text')`` with text' ``feats``
        [B, L + K, Ct] and ``mask`` [B, L + K].
    """

    def __init__(self,
                 in_channels: List[int],
                 text_channels: Optional[int] = None,
                 num_prompts: int = 4,
                 pool_size: int = 4,
                 num_heads: int = 8,
                 num_layers: int = 1,
                 ffn_ratio: float = 4.0,
                 visual_neck: OptConfigType = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if text_channels is None:
            raise ValueError('CAPM needs text_channels (a segmentor fills '
                             'it in from its text encoder).')
        if num_prompts < 1:
            raise ValueError(f'num_prompts must be >= 1, got {num_prompts}')
        D = text_channels
        self.in_channels = list(in_channels)
        self.pool_size = pool_size
        self.num_prompts = num_prompts
        cells = pool_size * pool_size
        self.context_proj = nn.ModuleList(
            nn.Linear(c, D) for c in self.in_channels)
        self.context_pos = nn.Parameter(
            torch.zeros(len(self.in_channels), cells, D))
        self.context_norm = nn.LayerNorm(D)
        self.prompts = nn.Parameter(torch.zeros(num_prompts, D))
        self.v2l = MaskedAttention(D, D, D, num_heads)
        self.v2l_norm = nn.LayerNorm(D)
        self.prompt_ffn = token_ffn(D, ffn_ratio)
        self.prompt_norm = nn.LayerNorm(D)
        self.layers = nn.ModuleList(
            nn.ModuleDict(
                dict(
                    attn=MaskedAttention(D, D, D, num_heads),
                    attn_norm=nn.LayerNorm(D),
                    ffn=token_ffn(D, ffn_ratio),
                    ffn_norm=nn.LayerNorm(D))) for _ in range(num_layers))
        self.visual_neck = None
        if visual_neck is not None:
            self.visual_neck = MODELS.build(
                fill_text_channels(visual_neck, D))

    def init_weights(self) -> None:
        super().init_weights()
        nn.init.trunc_normal_(self.prompts, std=0.02)
        nn.init.trunc_normal_(self.context_pos, std=0.02)

    def context(self, feats: Sequence[Tensor]) -> Tensor:
        """Pooled multi-scale context tokens [B, S * pool_size^2, Ct]."""
        tokens = []
        for i, x in enumerate(feats):
            cell = F.adaptive_avg_pool2d(x, self.pool_size)
            cell = self.context_proj[i](cell.flatten(2).transpose(1, 2))
            tokens.append(cell + self.context_pos[i].to(cell.dtype))
        return self.context_norm(torch.cat(tokens, 1))

    def modulate(self, feats: Sequence[Tensor], words: Tensor,
                 mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Steps 1-3: [B, L, Ct] words -> [B, L + K, Ct] tokens and mask."""
        B = words.shape[0]
        ctx = self.context(feats)
        p = self.prompts.to(ctx.dtype).unsqueeze(0).expand(B, -1, -1)
        p = self.v2l_norm(p + self.v2l(p, ctx))
        p = self.prompt_norm(p + self.prompt_ffn(p))
        x = torch.cat([words.to(p.dtype), p], 1)
        full_mask = torch.cat([mask, mask.new_ones(B, self.num_prompts)], 1)
        for layer in self.layers:
            x = layer['attn_norm'](x + layer['attn'](x, x, full_mask))
            x = layer['ffn_norm'](x + layer['ffn'](x))
        return x, full_mask

    def forward(self, feats: Sequence[Tensor], text: TextFeatures
                ) -> Tuple[Sequence[Tensor], TextFeatures]:
        if len(feats) != len(self.in_channels):
            raise ValueError(f'CAPM expects {len(self.in_channels)} maps, '
                             f'got {len(feats)}')
        tokens, mask = self.modulate(feats, text.feats, text.mask)
        out_text = text.replace(
            feats=tokens,
            mask=mask,
            plain_feats=text.feats,
            plain_mask=text.mask,
            prompt_feats=tokens[:, -self.num_prompts:],
            grounded=None)
        if self.visual_neck is None:
            return feats, out_text
        if isinstance(self.visual_neck, BaseTextNeck):
            # the visual neck reads the plain words; a text it returns is
            # not used (the heads read the modulated one)
            out, _ = self.visual_neck(feats, text)
        else:
            out = self.visual_neck(feats)
        return out, out_text
