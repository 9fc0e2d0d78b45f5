"""Word tokeniser, part-of-speech tagger and phrase chunker for
:class:`~mmrrsis.models.text_encoders.ExpressionSplitter`.

Two back ends produce the same kind of output (words with character spans,
Penn Treebank tags, and the word spans of the chunk grammar of FIANet):

* :class:`RuleGrammar`: no dependency and no data. A Treebank-like word
  tokeniser, a small built-in lexicon with a few context rules in place of
  NLTK's averaged-perceptron tagger, and a chunker for FIANet's grammar.
* :class:`NLTKGrammar`: NLTK's own ``word_tokenize``, ``pos_tag`` and
  ``RegexpParser``, as FIANet's data loaders call them. It needs the
  ``nltk`` package and NLTK's tagger data (``averaged_perceptron_tagger_eng``
  or the older ``averaged_perceptron_tagger``; checked 2026-12: no package
  on PyPI ships them) in a folder the caller names; it never downloads.
"""
import os
import re
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

Word = Tuple[str, int, int]  # (text, start, end) in the sentence
WordSpan = Tuple[int, int]  # [first word, last word + 1)

#: FIANet's chunk grammar (``data/*_refer_bert.py`` of GitHub
#: Shaosifan/FIANet), in NLTK's notation. A preposition (IN), an optional
#: determiner, an optional adjective of any degree, then a singular noun
#: (NN) or an adjective (JJ); or a preposition, optional determiner, one
#: adjective of any degree and a past-tense verb (VBD: NLTK often tags
#: "left" so). The three rules are applied one after the other, each on the
#: words no earlier rule chunked.
FIANET_GRAMMAR = r"""
PP: {<IN><DT>?<JJ.*>?<NN>}
    {<IN><DT>?<JJ.*>?<JJ>}
    {<IN><DT>?<JJ.*><VBD>}
"""
# The same rules as (tag test, optional) sequences for the rule back end.
_RULES: Tuple[Tuple[Tuple[str, bool], ...], ...] = (
    (('IN', False), ('DT', True), ('JJ*', True), ('NN', False)),
    (('IN', False), ('DT', True), ('JJ*', True), ('JJ', False)),
    (('IN', False), ('DT', True), ('JJ*', False), ('VBD', False)),
)


def _tag_ok(test: str, tag: str) -> bool:
    return tag.startswith(test[:-1]) if test.endswith('*') else tag == test


def _match(rule, tags: Sequence[str], free: Sequence[bool], i: int,
           k: int = 0) -> Optional[int]:
    """End of the leftmost, greedy match of ``rule[k:]`` at word ``i``
    (regular-expression semantics: an optional item is first taken, then
    skipped), or None."""
    if k == len(rule):
        return i
    test, optional = rule[k]
    if i < len(tags) and free[i] and _tag_ok(test, tags[i]):
        end = _match(rule, tags, free, i + 1, k + 1)
        if end is not None:
            return end
    if optional:
        return _match(rule, tags, free, i, k + 1)
    return None


def chunk_fianet(tags: Sequence[str]) -> List[WordSpan]:
    """Word spans of the ``PP`` chunks of :data:`FIANET_GRAMMAR`, in
    sentence order, as ``nltk.RegexpParser(FIANET_GRAMMAR)`` finds them."""
    free = [True] * len(tags)
    spans = []
    for rule in _RULES:
        i = 0
        while i < len(tags):
            end = _match(rule, tags, free, i) if free[i] else None
            if end is None:
                i += 1
                continue
            spans.append((i, end))
            for j in range(i, end):
                free[j] = False
            i = end
    return sorted(spans)


# ------------------------------------------------------------- tokenising
_TOKEN = re.compile(
    r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*"  # words, "bottom-left", "2.5"
    r"|n't|'[A-Za-z]*"  # clitics, split off as the Treebank tokeniser does
    r"|\.\.\.|--|[^\sA-Za-z0-9]")  # punctuation, one mark a token


def tokenize_words(text: str) -> List[Word]:
    """Treebank-like words of ``text`` with their character spans.

    Punctuation marks are words of their own, hyphenated compounds stay one
    word ("top-left"), and clitics are split ("it's" -> "it", "'s"), as
    NLTK's ``word_tokenize`` does on plain referring expressions.
    """
    out: List[Word] = []
    for m in _TOKEN.finditer(text):
        w = (m.group(), m.start(), m.end())
        # "isn't" matches as "isn" + "'t": split as "is" + "n't"
        if (out and w[0].lower() == "'t" and out[-1][0].lower().endswith('n')
                and out[-1][2] == w[1]):
            prev = out.pop()
            out.append((prev[0][:-1], prev[1], prev[2] - 1))
            out.append(("n't", prev[2] - 1, w[2]))
        else:
            out.append(w)
    return out


# ---------------------------------------------------------------- tagging
def _words(tag: str, text: str) -> dict:
    return {w: tag for w in text.split()}


#: Closed word classes and the open-class words that matter to the grammar,
#: with the tag NLTK's tagger gives them in referring expressions.
LEXICON = {}
LEXICON.update(_words('IN', """
    on in at of near by with without within along beside besides behind
    between under over above below across around towards toward from into
    onto through inside outside among amongst beyond beneath underneath
    against for like off past via upon alongside throughout about after
    before during except than amid if while because since though whereas
    as per atop"""))
LEXICON.update(_words('DT', """
    the a an this these those each every another some all both any no
    either neither"""))
LEXICON.update(_words('CD', """
    one two three four five six seven eight nine ten eleven twelve"""))
LEXICON.update(_words('PRP$', 'its their his her our my your'))
LEXICON.update(_words('PRP', 'it they them he she we you i'))
LEXICON.update(_words('CC', 'and or but nor'))
LEXICON.update(_words('TO', 'to'))
LEXICON.update(_words('WDT', 'which whichever'))
LEXICON.update(_words('WP', 'who what whom'))
LEXICON.update(_words('WRB', 'where when how'))
LEXICON.update(_words('EX', 'there'))
LEXICON.update(_words('MD', 'can could may might will would should must'))
LEXICON.update(_words('VBZ', 'is has seems looks lies appears'))
LEXICON.update(_words('VBP', 'are have'))
LEXICON.update(_words('VBD', 'was were'))
LEXICON.update(_words('VB', 'be'))
LEXICON.update(_words('VBN', 'been'))
LEXICON.update(_words('RB', """
    far very not also just only slightly directly partly mostly almost
    nearly closely close too quite rather here up down away together
    apart"""))
LEXICON.update(_words('RP', 'out'))
LEXICON.update(_words('JJ', """
    white red black green gray yellow brown orange pink purple light bright
    golden pale large small big little long short tall wide narrow huge
    tiny low high empty flat rectangular circular square oval vertical
    horizontal diagonal impervious solar third first second last other
    many several single double main open dense sparse upper next few same
    new old different whole entire full half central inner outer straight
    curved triangular irregular thin thick bare wet dry paved
    left-hand right-hand visible nearby adjacent opposite entire"""))
LEXICON.update(_words('JJR', 'lower larger smaller bigger higher longer '
                             'shorter wider taller'))
LEXICON.update(_words('JJS', 'largest smallest biggest longest tallest '
                             'highest lowest widest farthest furthest '
                             'closest nearest'))
# Words NLTK's tagger reads as nouns, even where they modify a noun
# ("the grey sidewalk", "with a round crown", "the bottommost building").
LEXICON.update(_words('NN', """
    grey silver dark round middle center centre side corner edge part top
    bottom front back right left area region image picture photo scene
    leftmost rightmost topmost bottommost uppermost lowermost north south
    east west northeast northwest southeast southwest building parking
    ceiling bus gas grass glass lens tennis canvas campus
    overpass class surface"""))
#: Position words before which "top" acts as a modifier (JJ).
_MODIFIED = frozenset(('left', 'right', 'part', 'edge', 'corner', 'half',
                       'side', 'end', 'area', 'region', 'portion'))
#: Words before which "left" / "right" are JJ ("the left side"; but NLTK
#: reads "the right edge", "the right corner" as two nouns).
_SIDES = frozenset(('side', 'sides', 'half'))
_NOT_PLURAL = re.compile(r'.*(ss|us|is|ous|ics)$')


class RuleGrammar:
    """Tokeniser, tagger and chunker with no dependency and no data.

    The tagger looks a word up in :data:`LEXICON` (plus ``extra_lexicon``),
    then applies a few context rules taken from how NLTK's tagger reads
    positions in referring expressions, then suffix rules (``-s``: NNS,
    ``-ed``: VBN, ``-ing``: VBG after a noun, else NN, ``-ly``: RB), and
    tags every other word NN, as NLTK's tagger mostly does with unknown
    nouns. Context rules:

    * "top" before a position word ("top right", "top part") and
      "left"/"right" before "side"/"half": JJ.
    * "bottom" is JJ before "part" and before "right" + another word
      ("the bottom right corner"), else NN ("at the bottom left").
    * "left" after "lower" or a noun is VBD ("in the lower left"), as NLTK
      often tags it (the grammar's third rule exists for that).
    * "blue" after "the" is NN ("above the blue airplane"), else JJ.
    * "that" after a noun is WDT, else DT.
    * "-ing" words after a determiner, adjective or preposition are nouns
      ("the parking lot").

    Args:
        extra_lexicon (dict, optional): ``{word: tag}`` entries added to or
            replacing :data:`LEXICON` (lower-case words).
    """

    def __init__(self, extra_lexicon: Optional[dict] = None) -> None:
        self.lexicon = dict(LEXICON)
        self.lexicon.update(
            {k.lower(): v for k, v in (extra_lexicon or {}).items()})
        self._fixed = frozenset(k.lower() for k in (extra_lexicon or {}))

    tokenize = staticmethod(tokenize_words)

    def _base(self, w: str) -> str:
        lw = w.lower()
        if lw in self.lexicon:
            return self.lexicon[lw]
        if re.fullmatch(r'[0-9]+(?:[.,][0-9]+)*', lw):
            return 'CD'
        if not re.search(r'[a-z0-9]', lw):
            return {'``': '``', "''": "''", '(': '(', ')': ')', '-': ':',
                    '--': ':', ';': ':', '...': ':', '"': "''"}.get(lw, lw)
        if lw in ("'s", "'"):
            return 'POS'
        if lw == "n't":
            return 'RB'
        if lw.endswith('ly') and len(lw) > 4:
            return 'RB'
        if lw.endswith('ed') and len(lw) > 4:
            return 'VBN'
        if lw.endswith('ing') and len(lw) > 4:
            return 'VBG'
        if lw.endswith('s') and len(lw) > 3 and not _NOT_PLURAL.match(lw):
            return 'NNS'
        return 'NN'

    def tag(self, words: Sequence[str]) -> List[str]:
        """Penn Treebank tags of ``words``."""
        low = [w.lower() for w in words]
        tags = [self._base(w) for w in words]
        n = len(words)
        for i, w in enumerate(low):
            if w in self._fixed:
                continue
            prev = low[i - 1] if i else ''
            prev_tag = tags[i - 1] if i else ''
            nxt = low[i + 1] if i + 1 < n else ''
            if (w == 'top' and nxt in _MODIFIED) or (
                    w in ('left', 'right') and nxt in _SIDES):
                tags[i] = 'JJ'
            elif w == 'bottom':
                tags[i] = 'JJ' if nxt == 'part' or (
                    nxt == 'right' and i + 2 < n
                    and re.search(r'[a-z]', low[i + 2])) else 'NN'
            elif w == 'left' and (prev_tag in ('JJR', 'NN')
                                  and prev not in ('the', 'a')):
                tags[i] = 'VBD'
            elif w == 'blue':
                tags[i] = 'NN' if prev == 'the' else 'JJ'
            elif w == 'that':
                tags[i] = 'WDT' if prev_tag.startswith('NN') else 'DT'
            elif tags[i] == 'VBG' and prev_tag in ('DT', 'JJ', 'IN', 'PRP$',
                                                   'JJR', 'JJS'):
                tags[i] = 'NN'
        return tags

    def __call__(self, text: str) -> Tuple[List[Word], List[str]]:
        words = self.tokenize(text)
        return words, self.tag([w for w, _, _ in words])

    chunk = staticmethod(chunk_fianet)


# --------------------------------------------------------------------- NLTK
_TAGGERS = ('taggers/averaged_perceptron_tagger_eng/',
            'taggers/averaged_perceptron_tagger/')
_SENT_END = re.compile(r'[.!?]["\')\]]*\s+\S')


class NLTKGrammar:
    """NLTK's ``word_tokenize`` + ``pos_tag`` + ``RegexpParser``, as in
    FIANet's loaders (FIANet used the perceptron tagger of NLTK 3.x; its
    2015 pickle and the 2024 JSON release hold the same weights: checked
    here on 393 expressions, same tags).

    Args:
        nltk_data (str | list[str], optional): Folder(s) holding NLTK data
            (``taggers/averaged_perceptron_tagger_eng/...``), put first on
            ``nltk.data.path``. ``NLTK_DATA`` and NLTK's default folders are
            searched too. Nothing is downloaded.
        pos_tagger (callable, optional): Replaces ``nltk.pos_tag`` (a list
            of words to a list of ``(word, tag)``); no tagger data is then
            needed.

    Sentence splitting (``punkt_tab``) is used when its data is found; else
    a text with no sentence break (no ``.``/``!``/``?`` followed by more
    text) is tokenised as one sentence, which is what ``word_tokenize`` does
    with such a text, and any other text raises ``LookupError``.
    """

    def __init__(self,
                 nltk_data: Optional[Iterable[str]] = None,
                 pos_tagger: Optional[Callable] = None) -> None:
        try:
            import nltk
        except ImportError as e:  # pragma: no cover - depends on the env
            raise ImportError(
                "mode='official' needs the nltk package (pip install nltk) "
                'and its tagger data') from e
        self.nltk = nltk
        if isinstance(nltk_data, str):
            nltk_data = [nltk_data]
        for p in reversed(list(nltk_data or [])):
            p = os.path.abspath(os.path.expanduser(p))
            if p not in nltk.data.path:
                nltk.data.path.insert(0, p)
        self.pos_tagger = pos_tagger
        if pos_tagger is None:
            self.pos_tagger = self._load_tagger()
        self.parser = nltk.RegexpParser(FIANET_GRAMMAR)
        try:
            nltk.data.find('tokenizers/punkt_tab/english/')
            self.has_punkt = True
        except LookupError:
            self.has_punkt = False

    def _load_tagger(self) -> Callable:
        from nltk.tag.perceptron import PerceptronTagger
        for res in _TAGGERS:
            try:
                loc = self.nltk.data.find(res)
            except LookupError:
                continue
            if res.endswith('_eng/'):
                tagger = PerceptronTagger()
            else:  # the pickle that NLTK < 3.9 read
                import pickle
                tagger = PerceptronTagger(load=False)
                with open(os.path.join(str(loc), res.split('/')[1] +
                                       '.pickle'), 'rb') as f:
                    w, td, c = pickle.load(f)
                tagger.model.weights, tagger.tagdict = w, td
                tagger.classes = tagger.model.classes = set(c)
            return tagger.tag
        raise LookupError(
            "mode='official' needs NLTK's tagger data "
            '(taggers/averaged_perceptron_tagger_eng): no PyPI package ships '
            "it. Fetch it once on a machine with internet (python -c "
            "\"import nltk; nltk.download('averaged_perceptron_tagger_eng', "
            "download_dir='DIR')\") and pass nltk_data='DIR'. Searched: "
            f'{self.nltk.data.path}')

    def tokenize_raw(self, text: str) -> List[str]:
        if self.has_punkt:
            return self.nltk.word_tokenize(text)
        if _SENT_END.search(text.strip()):
            raise LookupError(
                f'{text!r} may hold several sentences: NLTK needs its '
                'punkt_tab data to split it as FIANet did')
        return self.nltk.word_tokenize(text, preserve_line=True)

    def tokenize(self, text: str) -> List[Word]:
        return align_words(text, self.tokenize_raw(text))

    def tag_words(self, words: Sequence[str]) -> List[str]:
        return [t for _, t in self.pos_tagger(list(words))]

    def chunk_words(self, words: Sequence[str],
                    tags: Sequence[str]) -> List[WordSpan]:
        """Word spans of the PP chunks found by ``nltk.RegexpParser``."""
        tree = self.parser.parse(list(zip(words, tags)))
        spans, i = [], 0
        for node in tree:
            if hasattr(node, 'label'):
                n = len(node.leaves())
                if node.label() == 'PP':
                    spans.append((i, i + n))
                i += n
            else:
                i += 1
        return spans


def align_words(text: str, tokens: Sequence[str]) -> List[Word]:
    """Character spans of ``tokens`` (NLTK's words) in ``text``; a token that
    cannot be found (e.g. quotes NLTK rewrote) gets an empty span."""
    out, pos = [], 0
    for tok in tokens:
        cands = [tok] + (['"'] if tok in ('``', "''") else [])
        best = None
        for c in cands:
            j = text.find(c, pos)
            if j >= 0 and (best is None or j < best[0]):
                best = (j, j + len(c))
        if best is None:
            out.append((tok, pos, pos))
        else:
            out.append((tok, best[0], best[1]))
            pos = best[1]
    return out
