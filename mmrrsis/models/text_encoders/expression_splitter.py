"""Split a referring expression into ground-object and spatial-position
token masks (FIANet's decoupled texts), deterministically and offline."""
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch

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

#: Words that name a position; a spatial phrase must contain one of them.
POSITION_WORDS = frozenset((
    'left', 'right', 'top', 'bottom', 'upper', 'lower', 'middle', 'center',
    'centre', 'central', 'north', 'south', 'east', 'west', 'northern',
    'southern', 'eastern', 'western', 'northeast', 'northwest', 'southeast',
    'southwest', 'northeastern', 'northwestern', 'southeastern',
    'southwestern', 'leftmost', 'rightmost', 'topmost', 'bottommost',
    'uppermost', 'lowermost', 'above', 'below', 'beside', 'near', 'next',
    'between', 'adjacent', 'closest', 'nearest', 'farthest', 'furthest'))
#: Nouns that continue a position phrase ("the top left *corner*") but do
#: not make one on their own.
POSITION_NOUNS = frozenset((
    'corner', 'corners', 'side', 'sides', 'edge', 'edges', 'part', 'half',
    'end', 'area', 'region', 'portion', 'border'))
#: Prepositions that may open a spatial phrase ("*at* the top"). "of" is
#: left out on purpose: FIANet drops every phrase containing "of".
PREPOSITIONS = frozenset((
    'in', 'on', 'at', 'to', 'near', 'by', 'along', 'toward', 'towards',
    'within', 'inside', 'from', 'into', 'onto', 'across'))
DETERMINERS = frozenset(('the', 'a', 'an', 'this', 'that', 'its', 'their'))

_WORD = re.compile(r'[A-Za-z0-9]+')
_PLURAL = ('', 's', 'es')
Span = Tuple[int, int]


class ExpressionSplitter:
    """Ground-object and spatial-position token masks over one tokenisation.

    FIANet (Lei et al., TGRS 2024) decouples the expression into
    the ground-object text and the spatial-position text. As in the official
    code, the two texts are not new sentences but token masks over the
    expression's own tokenisation: BERT is then run once per mask.

    Rules (all deterministic, no download):

    * Words are runs of letters/digits; punctuation and hyphens separate
      words and are never marked.
    * Object mask: every occurrence of a class phrase of ``class_words``
      (word by word, case-insensitive; the last word may carry a plural
      ``s``/``es``: "vehicles", "buses", "storage tanks").
    * Spatial mask: every maximal run of position words (``POSITION_WORDS``)
      and position nouns (``POSITION_NOUNS``) that holds at least one
      position word, extended to the left by one determiner and one
      preposition when they precede it ("in the upper left corner",
      "to the left", "leftmost", "north"). The determiner is only kept
      when a preposition opens the phrase.
    * No class word: the object mask is all zero (official behaviour; the
      object branch then outputs zero). No spatial phrase: the spatial
      mask is the whole sentence's attention mask when ``spatial_fallback``
      (official behaviour), else all zero.
    * Marked character spans are mapped to word pieces through the fast
      tokenizer's character offsets: a token is marked when its characters
      overlap a marked word, so every word piece of a marked word is
      marked and [CLS]/[SEP]/padding never are.

    Differences from the official splitter (``data/*_refer_bert.py`` of
    GitHub Shaosifan/FIANet):

    * The official code tags words with NLTK (``punkt``,
      ``averaged_perceptron_tagger``: data that must be downloaded) and
      chunks ``IN DT? JJ? NN|JJ``; here fixed word lists replace the tagger.
      So "to the left" (TO, not IN, for NLTK) is a phrase here and not
      there, bare position words ("the leftmost building", "north of")
      are phrases here, and a relational preposition's landmark ("above
      *the red building*") is not part of the spatial text here (it is
      there). Phrases with "of" are never formed here either, but words
      merely containing "of" ("roof") are not dropped.
    * The official code applies NLTK *word* indices to BERT *word-piece*
      positions (offset by one for [CLS]), so a word split into several
      pieces, or punctuation tokenised differently, shifts the masks; an
      object word that the token search misses marks the sentence's first
      words. Here the masks are aligned on word pieces through character
      offsets.
    * The official code marks the first occurrence of each class found;
      here every occurrence is marked (a class word named twice names the
      same kind of object, and the anchor of a relation is a ground
      object too).

    Args:
        class_words (str | list[str]): A key of :data:`CLASS_WORDS`
            (``'refsegrs'``, ``'rrsisd'``, ``'synthetic'``) or the class
            phrases themselves. Defaults to ``'refsegrs'``.
        extra_class_words (list[str], optional): Phrases added to the list.
        position_words, position_nouns, prepositions, determiners
            (list[str], optional): Replace the default word lists.
        spatial_fallback (bool): Use the whole sentence when no spatial
            phrase is found (FIANet). Defaults to True.
    """

    def __init__(self,
                 class_words: Union[str, Sequence[str]] = 'refsegrs',
                 extra_class_words: Optional[Sequence[str]] = None,
                 position_words: Optional[Iterable[str]] = None,
                 position_nouns: Optional[Iterable[str]] = None,
                 prepositions: Optional[Iterable[str]] = None,
                 determiners: Optional[Iterable[str]] = None,
                 spatial_fallback: bool = True) -> None:
        if isinstance(class_words, str):
            if class_words not in CLASS_WORDS:
                raise KeyError(f'Unknown class word list {class_words!r}; '
                               f'known: {sorted(CLASS_WORDS)} (or pass the '
                               'phrases as a list)')
            class_words = CLASS_WORDS[class_words]
        phrases = list(class_words) + list(extra_class_words or [])
        self.class_phrases = sorted(
            {tuple(p.lower().split()) for p in phrases if p.strip()},
            key=len, reverse=True)
        self.position_words = frozenset(
            w.lower() for w in (position_words or POSITION_WORDS))
        self.position_nouns = frozenset(
            w.lower() for w in (position_nouns or POSITION_NOUNS))
        self.prepositions = frozenset(
            w.lower() for w in (prepositions or PREPOSITIONS))
        self.determiners = frozenset(
            w.lower() for w in (determiners or DETERMINERS))
        self.spatial_fallback = spatial_fallback

    # ------------------------------------------------------------ words
    @staticmethod
    def words(text: str) -> List[Tuple[str, int, int]]:
        """``(lower-case word, start, end)`` for every word of ``text``."""
        return [(m.group().lower(), m.start(), m.end())
                for m in _WORD.finditer(text)]

    def object_spans(self, text: str) -> List[Span]:
        """Character spans of every class phrase occurrence in ``text``."""
        words = self.words(text)
        spans = []
        for i in range(len(words)):
            for phrase in self.class_phrases:
                n = len(phrase)
                cand = [w for w, _, _ in words[i:i + n]]
                if len(cand) < n or cand[:-1] != list(phrase[:-1]):
                    continue
                if any(cand[-1] == phrase[-1] + s for s in _PLURAL):
                    spans.append((words[i][1], words[i + n - 1][2]))
        return spans

    def spatial_spans(self, text: str) -> List[Span]:
        """Character spans of the spatial phrases of ``text``."""
        words = self.words(text)
        mods = self.position_words | self.position_nouns
        spans = []
        i = 0
        while i < len(words):
            if words[i][0] not in mods:
                i += 1
                continue
            j = i
            while j + 1 < len(words) and words[j + 1][0] in mods:
                j += 1
            run = [w for w, _, _ in words[i:j + 1]]
            if any(w in self.position_words for w in run):
                start = i
                k = i - 1
                if k >= 0 and words[k][0] in self.determiners:
                    k -= 1
                if k >= 0 and words[k][0] in self.prepositions:
                    start = k
                spans.append((words[start][1], words[j][2]))
            i = j + 1
        return spans

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

    def __call__(self, texts: Sequence[str],
                 encoding) -> Dict[str, torch.Tensor]:
        """Token masks for a tokenised batch.

        Args:
            texts (list[str]): B expressions, as given to the tokenizer.
            encoding (BatchEncoding): The fast tokenizer's output for
                ``texts`` (``input_ids`` and ``attention_mask`` [B, L]).

        Returns:
            dict: ``object_mask`` and ``spatial_mask``, long [B, L].
        """
        if not getattr(encoding, 'is_fast', False):
            raise TypeError('ExpressionSplitter aligns on word pieces '
                            'through character offsets: it needs the output '
                            'of a fast (Rust) tokenizer.')
        attn = encoding['attention_mask']
        B, L = attn.shape
        obj, sp = [], []
        for b, text in enumerate(texts):
            obj.append(self.spans_to_token_mask(
                encoding, b, self.object_spans(text), L))
            m = self.spans_to_token_mask(encoding, b,
                                         self.spatial_spans(text), L)
            if self.spatial_fallback and not m.any():
                m = attn[b].detach().cpu().long().clone()
            sp.append(m)
        return dict(object_mask=torch.stack(obj).to(attn.device),
                    spatial_mask=torch.stack(sp).to(attn.device))
