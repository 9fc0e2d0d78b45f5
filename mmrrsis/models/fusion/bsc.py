"""BSC: bidirectional spatial correlation (BTDNet)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..utils.pixel_word_attention import gated
from ..utils.text_features import TextFeatures
from .pwam import PWAM


@MODELS.register_module()
class BSC(PWAM):
    """Bidirectional Spatial Correlation module.

    Zhang et al., "Referring Remote Sensing Image Segmentation via
    Bidirectional Alignment Guided Joint Prediction" (BTDNet), arXiv
    2502.08486, Sec. "Bidirectional Spatial Correlation" / Fig. 4. The code
    is not public and the method section was not available to us: this is a
    reconstruction from the paper's abstract, figure captions and our notes
    (``shared/papers/fianet_btdnet.md`` B3). Run inside every backbone stage
    (early fusion, like LAVT's PWAM).

    One pixel-word correlation ``S`` is computed per stage and used both
    ways (``K`` = ``key_channels``, ``h`` heads, ``d = K / h``)::

        q = IN(Conv1x1(x))           [B, h, HW, d]   pixels
        k = Linear(words) * m        [B, h, L, d]    words (mask m)
        S = q k^T / sqrt(d)          [B, h, HW, L]

    * words -> pixels with a spatial prior: ``A = softmax_L(S)`` (padded
      words masked) gathers ``ctx = IN(W(A v))`` [B, C, HW] per pixel; the
      spatial prior ``P = sigmoid(conv3x3([mean_L S, max_L S]))`` [B, 1, H, W]
      (head-averaged S, mean/max over real words) says where the sentence is
      relevant and scales ``ctx``; then, as in PWAM,
      ``out = GELU(Conv1x1(GELU(Conv1x1(x)) * ctx * P))`` and
      ``stream = x + tanh_gate(out) * out`` (gate closed at init).
    * pixels -> words: ``B = softmax_HW(S^T + log P)`` (each word pools the
      pixels it correlates with, restricted by the same spatial prior) gives
      ``g = B u`` with ``u = Conv1x1(x)`` [B, h, L, d]; the words are updated
      ``words' = words + Linear(LN(g)) * m`` (the Linear is zero-initialised,
      so ``words' == words`` at init while staying trainable).

    How the grounded words flow on (the paper passes them to the next stage
    and to the decoder): the block reads ``text.words`` (the previous
    stage's grounded words, else the encoder's ``feats``) and returns a new
    :class:`TextFeatures` with its updated words in ``grounded``
    (``text.replace(grounded=...)``); the record it got is left as it is.
    The segmentor hands the new record to the next stage, the neck and the
    heads (the T-BTD head reads ``text.words``).

    Choices where the paper is silent: the correlation, attention values and
    the PWAM-style multimodal product and gate are LAVT's (BSC subclasses
    :class:`PWAM` and reuses its projections); the spatial prior is computed
    from ``S`` itself (mean and max over words, 3x3 conv, sigmoid); the
    prior also restricts the pixel-to-word pooling (``+ log P``); scaling is
    the per-head ``d^-0.5``; the word update is residual, zero-initialised,
    and leaves padded words unchanged.

    Args:
        in_channels (int): Visual channels C.
        text_channels (int): Word channels Ct.
        key_channels (int, optional): Correlation width K; defaults to C.
        num_heads (int): Heads of the correlation. Defaults to 1.
        dropout (float): Dropout after the projections. Defaults to 0.
        with_gate (bool): Tanh language gate on the stream (PWAM).
        gate_init (str): PWAM's ``gate_init``. BTDNet's code is not public;
            ``'zero'`` (closed at init) is kept, as the BTDNet figures in
            configs/btdnet/README.md were measured. Defaults to ``'zero'``.
            Defaults to True.
        with_spatial_prior (bool): Use the spatial prior ``P`` (both
            directions). Defaults to True.
        with_pixel_to_word (bool): Update the words from the pixels; False
            is the one-directional ablation (the record passes unchanged).
            Defaults to True.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        ``forward(x [B, C, H, W], text)`` (``fuse`` is the same) with
        ``text.words`` [B, L, Ct], ``text.mask`` [B, L]; returns
        ``(stream, out, text')``: stream and out [B, C, H, W], ``text'`` with
        ``grounded`` [B, L, Ct].
    """

    def __init__(self,
                 in_channels: int,
                 text_channels: int,
                 key_channels: Optional[int] = None,
                 num_heads: int = 1,
                 dropout: float = 0.0,
                 with_gate: bool = True,
                 with_spatial_prior: bool = True,
                 with_pixel_to_word: bool = True,
                 gate_init: str = 'zero',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            in_channels=in_channels,
            text_channels=text_channels,
            key_channels=key_channels,
            value_channels=in_channels,
            num_heads=num_heads,
            dropout=dropout,
            with_gate=with_gate,
            gate_init=gate_init,
            init_cfg=init_cfg)
        self.with_spatial_prior = with_spatial_prior
        self.with_pixel_to_word = with_pixel_to_word
        if with_spatial_prior:
            # [mean over words, max over words] of S -> prior logit
            self.prior_conv = nn.Conv2d(2, 1, 3, padding=1)
        if with_pixel_to_word:
            self.pixel_value = nn.Conv1d(in_channels, self.key_channels, 1)
            self.word_norm = nn.LayerNorm(self.key_channels)
            self.word_out = nn.Linear(self.key_channels, text_channels)

    def init_weights(self) -> None:
        super().init_weights()
        if self.with_pixel_to_word:
            # words' == words at init, yet word_out gets gradients
            nn.init.zeros_(self.word_out.weight)
            nn.init.zeros_(self.word_out.bias)

    def correlation(self, flat: Tensor, words: Tensor,
                    mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Pixel-word correlation.

        Args:
            flat: [B, C, N] pixels (N = H * W). words: [B, L, Ct].
            mask: [B, L] (1 for real words).

        Returns:
            tuple: ``S`` [B, h, N, L] (unmasked) and the word values
            [B, h, L, C / h].
        """
        B, _, N = flat.shape
        h = self.num_heads
        m = mask.to(flat.dtype).unsqueeze(1)  # B 1 L
        lang = words.transpose(1, 2)  # B Ct L
        q = self.f_query(flat).reshape(B, h, -1, N).transpose(2, 3)
        k = (self.f_key(lang) * m).reshape(B, h, -1, lang.shape[-1])
        v = (self.f_value(lang) * m).reshape(B, h, -1, lang.shape[-1])
        S = torch.matmul(q, k) * q.shape[-1]**-0.5  # B h N L
        return S, v.transpose(2, 3)

    def spatial_prior(self, S: Tensor, mask: Tensor,
                      hw: Tuple[int, int]) -> Tensor:
        """Prior logits [B, 1, N] from head-averaged ``S`` [B, h, N, L]."""
        s = S.mean(1)  # B N L
        m = mask.to(s.dtype).unsqueeze(1)  # B 1 L
        mean = (s * m).sum(-1) / m.sum(-1).clamp(min=1)
        mx = (s + (m - 1) * 1e4).amax(-1)
        stats = torch.stack([mean, mx], 1).reshape(s.shape[0], 2, *hw)
        return self.prior_conv(stats).flatten(2)

    def fuse(self, x: Tensor,
             text: TextFeatures) -> Tuple[Tensor, Tensor, TextFeatures]:
        return self(x, text)

    def forward(self, x: Tensor, text: TextFeatures
                ) -> Tuple[Tensor, Tensor, TextFeatures]:
        B, C, H, W = x.shape
        mask = text.mask
        words = text.words
        flat = x.flatten(2)  # B C N
        S, v = self.correlation(flat, words, mask)
        bias = ((mask.to(S.dtype) - 1) * 1e4)[:, None, None]  # B 1 1 L

        # words -> pixels
        attn = (S + bias).softmax(-1)  # B h N L
        ctx = torch.matmul(attn, v)  # B h N C/h
        ctx = self.W(ctx.transpose(2, 3).reshape(B, C, -1))  # B C N
        log_prior = None
        if self.with_spatial_prior:
            prior_logit = self.spatial_prior(S, mask, (H, W))  # B 1 N
            ctx = ctx * prior_logit.sigmoid()
            log_prior = F.logsigmoid(prior_logit)
        out = self.project_mm(self.vis_project(flat) * ctx)
        stream = flat + (gated(self.gate, out) if self.with_gate else out)

        # pixels -> words
        if self.with_pixel_to_word:
            logits = S.transpose(2, 3)  # B h L N
            if log_prior is not None:
                logits = logits + log_prior[:, None]
            pool = logits.softmax(-1)
            u = self.pixel_value(flat).reshape(B, self.num_heads, -1, H * W)
            g = torch.matmul(pool, u.transpose(2, 3))  # B h L d
            g = g.transpose(1, 2).reshape(B, words.shape[1], -1)  # B L K
            update = self.word_out(self.word_norm(g))
            text = text.replace(grounded=words + update * mask.to(
                update.dtype).unsqueeze(-1))
        return stream.view(B, C, H, W), out.view(B, C, H, W), text
