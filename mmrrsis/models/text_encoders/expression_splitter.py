"""Split a referring expression into ground-object and spatial-position
token masks (FIANet's decoupled texts)."""
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from .expression_grammar import NLTKGrammar, RuleGrammar, Word, WordSpan

#: Ground-object class phrases per dataset. ``refsegrs`` and ``rrsisd`` are
#: the lists hard-coded in FIANet's data loaders (14 RefSegRS classes, the 20
#: DIOR classes of RRSIS-D); ``synthetic`` covers the categories of
#: :mod:`mmrrsis.datasets.synthetic`.
CLASS_WORDS: Dict[str, Tuple[str, ...]] = {
    'refsegrs': ('road', 'vehicle', 'car', 'van', 'building', 'truck',
                 'trailer', 'bus', 'road marking', 'bikeway', 'sidewalk',
                 'tree', 'low vegetation', 'impervious surface'),
    'rrsisd': ('airplane', 'airport', 'golf field', 'expressway service area',
               'baseball field', 'stadium', 'ground track field',
               'storage tank', 'basketball court', 'chimney', 'tennis court',
               'overpass', 'train station', 'ship', 'expressway toll station',
               'dam', 'harbor', 'bridge', 'vehicle', 'windmill'),
    'synthetic': ('building', 'storage tank', 'vehicle', 'airplane', 'pool'),
}

MODES = ('rule', 'official')
PLACEMENTS = ('official', 'offsets')
OF_FILTERS = ('substring', 'word')

_WORD = re.compile(r'[A-Za-z0-9]+')
_PLURAL = ('', 's', 'es')
Span = Tuple[int, int]


class ExpressionSplitter:
    """Ground-object and spatial-position token masks over one tokenisation.

    FIANet (Lei et al., "Exploring Fine-Grained Image-Text Alignment for
    Referring Remote Sensing Image Segmentation", TGRS 2024) decouples the
    expression into the ground-object text and the spatial-position text.
    As in the official code (``data/refsegrs_refer_bert.py`` and
    ``data/rrsisd_refer_bert.py`` of GitHub Shaosifan/FIANet), the two
    texts are token masks over the expression's own tokenisation; BERT is
    then run once per mask (:class:`SplitTextEncoder`).

    The official algorithm, for one expression:

    * Object: for each class phrase of the dataset's list that occurs in
      the raw sentence (case-sensitive *substring*: "tree" occurs in
      "street"), the first word that contains the phrase's first word is
      found (word 0 when none does) and as many words as the phrase has are
      marked from there.
    * Spatial: the words are POS-tagged with NLTK's perceptron tagger and
      chunked with the grammar
      :data:`~mmrrsis.models.text_encoders.expression_grammar.FIANET_GRAMMAR`
      (``IN DT? JJ.*? NN | IN DT? JJ.*? JJ | IN DT? JJ.* VBD``); every chunk
      whose text does not contain the *substring* "of" is spatial text
      ("on the road", "along the sidewalk", "in the upper left", "with
      grey"; not "of the image", and not "with red roof": "roof" holds
      "of"). Each is marked from the first word equal to the chunk's first
      word (its preposition), so a chunk whose preposition occurred
      earlier is marked at that earlier place.
    * Placement: a word index ``i`` marks token position ``i + 1`` (after
      [CLS]) of the BERT input, whatever the word pieces are; positions past
      the sequence length are dropped here (the official list grew).
    * No chunk kept: the spatial mask is the attention mask. (The RRSIS-D
      loader checks this on a reference's first sentence only; here every
      sentence is checked, the same for one sentence per reference.)
    * FIANet truncates the word pieces to ``max_tokens`` and loses [SEP];
      this project's tokenizer keeps [SEP], so on a truncated sentence the
      official placement can mark [SEP] where FIANet marked a word piece.

    Modes (``mode``):

    * ``'official'``: NLTK's ``word_tokenize``, ``pos_tag`` and
      ``RegexpParser``, exactly as the official loaders; needs the ``nltk``
      package and its tagger data, which no PyPI package ships (see
      :class:`~mmrrsis.models.text_encoders.expression_grammar.NLTKGrammar`:
      pass ``nltk_data='DIR'``). Checked against the official loaders run
      unmodified on 458 expressions: identical masks.
    * ``'rule'`` (default): no dependency, no data. A Treebank-like
      tokeniser and a built-in lexicon tagger
      (:class:`~mmrrsis.models.text_encoders.expression_grammar.RuleGrammar`)
      in place of NLTK's, then the same grammar, "of" filter and placement.
      Measured agreement with ``'official'`` (exact-mask match per
      sentence, object / spatial, placement ``'official'``;
      ``tools/analysis_tools/splitter_agreement.py`` on
      ``tests/data/splitter/official_reference.jsonl``):

      =================================  ===============  ===============
      sentences                          rule mode        rule used before
      =================================  ===============  ===============
      hand-written RefSegRS style (70)   100 / 100 %      88.6 / 28.6 %
      hand-written RRSIS-D style (66)    100 / 100 %      97.0 / 63.6 %
      synthetic generator (257)          100 / 100 %      81.3 / 66.1 %
      held-out RefSegRS style (35)       100 / 97.1 %     85.7 / 25.7 %
      held-out RRSIS-D style (30)        100 / 100 %      96.7 / 36.7 %
      =================================  ===============  ===============

      The lexicon was written while reading NLTK's tags of the first three
      sets (in-sample rates); the held-out sets were written after it (first
      version: 94.3 / 96.7 % spatial, then two general rules were fixed).
      The rule used before needed a word from a list of position words, so
      "on the road" was not spatial. Real dataset expressions have a wider
      vocabulary: expect lower rates there; words the lexicon lacks can be
      added with ``lexicon``.

    Placements (``placement``):

    * ``'official'`` (default): the official word-index placement above,
      with its quirks (a word split into several word pieces, or a
      preceding one, shifts the marks onto other tokens; a repeated
      preposition marks its first occurrence), so the masks are FIANet's.
    * ``'offsets'``: a corrected placement: each chunk marks its own words,
      every whole-word occurrence of a class phrase is marked (the last
      word may carry a plural "s"/"es"; case-insensitive), and words map to
      word pieces through the fast tokenizer's character offsets (every
      piece of a marked word; never [CLS], [SEP], padding or punctuation
      between words).

    Args:
        class_words (str | list[str]): A key of :data:`CLASS_WORDS`
            (``'refsegrs'``, ``'rrsisd'``, ``'synthetic'``) or the class
            phrases themselves. Defaults to ``'refsegrs'``.
        extra_class_words (list[str], optional): Phrases added to the list.
        mode (str): ``'rule'`` or ``'official'``. Defaults to ``'rule'``.
        placement (str): ``'official'`` or ``'offsets'``. Defaults to
            ``'official'``.
        of_filter (str): ``'substring'`` drops every chunk whose text holds
            "of" (official); ``'word'`` only chunks with the word "of".
            Defaults to ``'substring'``.
        spatial_fallback (bool): Use the whole sentence when no spatial
            chunk is kept (FIANet). Defaults to True.
        lexicon (dict, optional): ``{word: Penn tag}`` added to the rule
            tagger's lexicon (``mode='rule'``).
        nltk_data (str | list[str], optional): Folder(s) with NLTK data
            (``mode='official'``); nothing is downloaded.
        pos_tagger (callable, optional): Replaces ``nltk.pos_tag``
            (``mode='official'``).
    """

    def __init__(self,
                 class_words: Union[str, Sequence[str]] = 'refsegrs',
                 extra_class_words: Optional[Sequence[str]] = None,
                 mode: str = 'rule',
                 placement: str = 'official',
                 of_filter: str = 'substring',
                 spatial_fallback: bool = True,
                 lexicon: Optional[Dict[str, str]] = None,
                 nltk_data: Optional[Union[str, Sequence[str]]] = None,
                 pos_tagger: Optional[Callable] = None) -> None:
        if isinstance(class_words, str):
            if class_words not in CLASS_WORDS:
                raise KeyError(f'Unknown class word list {class_words!r}; '
                               f'known: {sorted(CLASS_WORDS)} (or pass the '
                               'phrases as a list)')
            class_words = CLASS_WORDS[class_words]
        for name, value, allowed in (('mode', mode, MODES),
                                     ('placement', placement, PLACEMENTS),
                                     ('of_filter', of_filter, OF_FILTERS)):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got '
                                 f'{value!r}')
        phrases = [p.strip() for p in
                   list(class_words) + list(extra_class_words or [])]
        self.class_list = list(dict.fromkeys(p for p in phrases if p))
        self.class_phrases = sorted(
            {tuple(p.lower().split()) for p in self.class_list},
            key=len, reverse=True)
        self.mode = mode
        self.placement = placement
        self.of_filter = of_filter
        self.spatial_fallback = spatial_fallback
        if mode == 'official':
            if lexicon:
                raise ValueError("lexicon is for mode='rule'")
            self.grammar = NLTKGrammar(nltk_data, pos_tagger)
        else:
            if nltk_data is not None or pos_tagger is not None:
                raise ValueError("nltk_data and pos_tagger are for "
                                 "mode='official'")
            self.grammar = RuleGrammar(lexicon)

    # ------------------------------------------------------------ words
    def tokenize(self, text: str) -> List[Word]:
        """Words of ``text`` with character spans (NLTK's in ``official``
        mode, the Treebank-like rule tokeniser's otherwise)."""
        return self.grammar.tokenize(text)

    def _tokens(self, text: str) -> List[str]:
        if self.mode == 'official':
            return self.grammar.tokenize_raw(text)
        return [w for w, _, _ in self.grammar.tokenize(text)]

    def tag(self, words: Sequence[str]) -> List[str]:
        """Penn Treebank tags of ``words``."""
        if self.mode == 'official':
            return self.grammar.tag_words(words)
        return self.grammar.tag(words)

    def chunks(self, words: Sequence[str],
               tags: Sequence[str]) -> List[WordSpan]:
        """Word spans of the grammar's chunks (before the "of" filter)."""
        if self.mode == 'official':
            return self.grammar.chunk_words(words, tags)
        return self.grammar.chunk(tags)

    def _keep(self, chunk_words: Sequence[str]) -> bool:
        if self.of_filter == 'substring':
            return 'of' not in ' '.join(chunk_words)
        return 'of' not in [w.lower() for w in chunk_words]

    def analyse(self, text: str) -> dict:
        """Word-level analysis of one expression.

        Returns:
            dict: ``words`` (list of ``(word, start, end)``), ``tags``,
            ``chunks`` (word spans of all chunks), ``phrases`` (word spans
            of the kept, spatial chunks), and ``object_words`` /
            ``spatial_words``: the word spans the placement marks (with
            ``'official'`` placement these can reach past the last word).
        """
        words = self.tokenize(text)
        toks = [w for w, _, _ in words]
        tags = self.tag(toks)
        chunks = self.chunks(toks, tags)
        phrases = [c for c in chunks if self._keep(toks[c[0]:c[1]])]
        if self.placement == 'official':
            obj = self._official_objects(text, toks)
            sp = []
            for a, b in phrases:
                # the official code re-tokenises the chunk's text and looks
                # for the first word equal to its first word
                pp = self._tokens(' '.join(toks[a:b])) or toks[a:b]
                idx = next((i for i, t in enumerate(toks) if t == pp[0]), 0)
                sp.append((idx, idx + len(pp)))
        else:
            obj = self._word_objects(text, words)
            sp = list(phrases)
        return dict(words=words, tags=tags, chunks=chunks, phrases=phrases,
                    object_words=obj, spatial_words=sp)

    def _official_objects(self, text: str,
                          toks: Sequence[str]) -> List[WordSpan]:
        spans = []
        for cls in self.class_list:
            if cls not in text:  # the official re.findall(cls, sentence)
                continue
            cls_toks = self._tokens(cls)
            idx = next((i for i, t in enumerate(toks) if cls_toks[0] in t),
                       0)
            spans.append((idx, idx + len(cls_toks)))
        return spans

    def _word_objects(self, text: str,
                      words: Sequence[Word]) -> List[WordSpan]:
        """Every whole-word, plural-aware occurrence of a class phrase, as
        spans over ``words`` (the words it overlaps)."""
        plain = [(m.group().lower(), m.start(), m.end())
                 for m in _WORD.finditer(text)]
        chars = []
        for i in range(len(plain)):
            for phrase in self.class_phrases:
                n = len(phrase)
                cand = [w for w, _, _ in plain[i:i + n]]
                if len(cand) < n or cand[:-1] != list(phrase[:-1]):
                    continue
                if any(cand[-1] == phrase[-1] + s for s in _PLURAL):
                    chars.append((plain[i][1], plain[i + n - 1][2]))
                    break
        return [_char_to_word_span(words, a, b) for a, b in chars]

    def _char_spans(self, words: Sequence[Word],
                    spans: Sequence[WordSpan]) -> List[Span]:
        out = []
        for a, b in spans:
            ws = words[a:min(b, len(words))]
            if ws:
                out.append((ws[0][1], ws[-1][2]))
        return out

    def object_spans(self, text: str) -> List[Span]:
        """Character spans of the words the object mask marks."""
        info = self.analyse(text)
        return self._char_spans(info['words'], info['object_words'])

    def spatial_spans(self, text: str) -> List[Span]:
        """Character spans of the words the spatial mask marks (before the
        fallback)."""
        info = self.analyse(text)
        return self._char_spans(info['words'], info['spatial_words'])

    # ------------------------------------------------------------ tokens
    @staticmethod
    def spans_to_token_mask(encoding, index: int, spans: Sequence[Span],
                            length: int) -> torch.Tensor:
        """[length] mask of the tokens of sample ``index`` that overlap a
        character span (needs a fast tokenizer's ``token_to_chars``)."""
        mask = torch.zeros(length, dtype=torch.long)
        if not spans:
            return mask
        for t in range(length):
            chars = encoding.token_to_chars(index, t)
            if chars is None:  # special tokens, padding
                continue
            s, e = chars
            if e > s and any(s < b and e > a for a, b in spans):
                mask[t] = 1
        return mask

    @staticmethod
    def positions_to_mask(spans: Sequence[WordSpan],
                          length: int) -> torch.Tensor:
        """[length] mask with token positions ``i + 1`` set for every word
        index ``i`` of ``spans`` (the official placement; positions past
        ``length`` are dropped)."""
        mask = torch.zeros(length, dtype=torch.long)
        for a, b in spans:
            mask[min(a + 1, length):min(b + 1, length)] = 1
        return mask

    def masks(self, text: str, encoding, index: int,
              length: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Object and spatial masks [length] of one sample, before the
        spatial fallback."""
        info = self.analyse(text)
        if self.placement == 'official':
            return (self.positions_to_mask(info['object_words'], length),
                    self.positions_to_mask(info['spatial_words'], length))
        words = info['words']
        return (self.spans_to_token_mask(
            encoding, index, self._char_spans(words, info['object_words']),
            length),
                self.spans_to_token_mask(
                    encoding, index,
                    self._char_spans(words, info['spatial_words']), length))

    def __call__(self, texts: Sequence[str],
                 encoding) -> Dict[str, torch.Tensor]:
        """Token masks for a tokenised batch.

        Args:
            texts (list[str]): B expressions, as given to the tokenizer.
            encoding (BatchEncoding): The tokenizer's output for ``texts``
                (``attention_mask`` [B, L]; ``placement='offsets'`` needs a
                fast tokenizer's character offsets).

        Returns:
            dict: ``object_mask`` and ``spatial_mask``, long [B, L].
        """
        if self.placement == 'offsets' and not getattr(
                encoding, 'is_fast', False):
            raise TypeError("placement='offsets' aligns on word pieces "
                            'through character offsets: it needs the output '
                            'of a fast (Rust) tokenizer.')
        attn = encoding['attention_mask']
        B, L = attn.shape
        obj, sp = [], []
        for b, text in enumerate(texts):
            o, m = self.masks(text, encoding, b, L)
            if self.spatial_fallback and not m.any():
                m = attn[b].detach().cpu().long().clone()
            obj.append(o)
            sp.append(m)
        return dict(object_mask=torch.stack(obj).to(attn.device),
                    spatial_mask=torch.stack(sp).to(attn.device))


def _char_to_word_span(words: Sequence[Word], a: int, b: int) -> WordSpan:
    idx = [i for i, (_, s, e) in enumerate(words) if s < b and e > a]
    return (idx[0], idx[-1] + 1) if idx else (0, 0)
