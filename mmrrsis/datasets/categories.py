"""Object categories of referring samples, for per-category evaluation.

RRSIS-D annotates a category per ref (``category_id``, named by the
``categories`` of its ``instances.json``). RefSegRS and RISBench, as
released, do not: a line of their phrase files holds a file name and an
expression, nothing else (RISBench file names such as ``test_0_0.png`` carry
no class either). For those two the category is *derived* from the
expression by :class:`CategoryMatcher`: the class named first in the
sentence. It is an approximation, documented as such wherever it is
reported (docs/datasets.md, ``RefSegMetric``'s tables); it is exact only
when the sentence names its target's class before any other class
("the ship docked at the harbor" -> ship).
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

#: RISBench's 26 classes (CroBIM's ``dataset.svg``, see
#: ``/work/shared/papers/crobim.md``) and the words its expressions may use
#: for them (the VRSBench referring sentences RISBench takes its text from
#: come from DOTA-v2 / DIOR objects, whose class names differ: "plane",
#: "small vehicle", "baseball diamond" / "baseballfield", ...). Canonical
#: name -> phrases; a phrase's last word may carry a plural ``s`` / ``es``.
RISBENCH_CATEGORIES: Dict[str, Tuple[str, ...]] = {
    'ship': ('ship', 'boat', 'vessel'),
    'helipad': ('helipad', ),
    'vehicle': ('vehicle', 'car', 'truck', 'van', 'bus'),
    'chimney': ('chimney', ),
    'airplane': ('airplane', 'plane', 'aircraft', 'airliner'),
    'helicopter': ('helicopter', ),
    'tennis court': ('tennis court', 'tenniscourt'),
    'storage tank': ('storage tank', 'storagetank', 'tank', 'oil tank'),
    'swimming pool': ('swimming pool', 'pool'),
    'expressway service area': ('expressway service area', 'service area'),
    'expressway toll station': ('expressway toll station', 'toll station',
                                'toll gate'),
    'ground track field': ('ground track field', 'groundtrackfield',
                           'track field', 'running track'),
    'basketball court': ('basketball court', 'basketballcourt'),
    'container crane': ('container crane', 'crane'),
    'roundabout': ('roundabout', ),
    'windmill': ('windmill', 'wind turbine'),
    'overpass': ('overpass', ),
    'stadium': ('stadium', ),
    'bridge': ('bridge', ),
    'soccer ball field': ('soccer ball field', 'soccer field',
                          'football field'),
    'baseball diamond': ('baseball diamond', 'baseball field',
                         'baseballfield'),
    'train station': ('train station', 'trainstation', 'railway station'),
    'golf field': ('golf field', 'golffield', 'golf course'),
    'airport': ('airport', ),
    'harbor': ('harbor', 'harbour', 'port'),
    'dam': ('dam', ),
}

_WORD = re.compile(r'[A-Za-z0-9]+')
_PLURAL = ('', 's', 'es')

CategoryWords = Union[str, Sequence[str], Dict[str, Sequence[str]]]


def named_category_words(name: str) -> Dict[str, Tuple[str, ...]]:
    """The category phrases known under ``name``.

    ``'risbench'``: :data:`RISBENCH_CATEGORIES`. ``'refsegrs'``,
    ``'rrsisd'``, ``'synthetic'``: the class lists of FIANet's expression
    splitter (``CLASS_WORDS`` in
    :mod:`mmrrsis.models.text_encoders.expression_splitter`), one phrase per
    class (imported on use, so that loading a dataset module does not import
    the models).

    Args:
        name (str): The list's name.

    Returns:
        dict[str, tuple[str]]: Canonical name -> phrases.
    """
    if name == 'risbench':
        return dict(RISBENCH_CATEGORIES)
    from ..models.text_encoders.expression_splitter import CLASS_WORDS
    if name not in CLASS_WORDS:
        raise KeyError(f'Unknown category word list {name!r}; known: '
                       f"{sorted(set(CLASS_WORDS) | {'risbench'})} (or pass "
                       'the phrases as a list / dict)')
    return {w: (w, ) for w in CLASS_WORDS[name]}


class CategoryMatcher:
    """The category a referring expression names first.

    Words are runs of letters and digits, lower-cased (so "storage-tank"
    reads as "storage tank"). The sentence is scanned from its first word;
    at the first word where any phrase of any category matches (word by
    word, the phrase's last word optionally followed by ``s`` / ``es``),
    the category of the longest matching phrase there is returned ("the road
    marking" -> road marking, not road). A sentence without any class
    phrase has no category (None).

    Why the first class named: in the released sentences the target is the
    head of the noun phrase that opens the sentence ("the white ship docked
    at the harbor", "trees along the sidewalk"); classes named later are
    landmarks. Sentences that open with a landmark ("next to the bridge,
    the car ...") get the landmark's class: the figures are approximate.

    Args:
        words (str | Sequence[str] | dict): A name of
            :func:`named_category_words`, a list of class phrases (each its
            own category), or a dict ``category -> phrases``.
    """

    def __init__(self, words: CategoryWords) -> None:
        if isinstance(words, str):
            words = named_category_words(words)
        elif not isinstance(words, dict):
            words = {w: (w, ) for w in words}
        self.categories: List[str] = list(words)
        table: Dict[str, List[Tuple[Tuple[str, ...], str]]] = {}
        for cat, phrases in words.items():
            if isinstance(phrases, str):
                phrases = (phrases, )
            for phrase in phrases:
                toks = tuple(_WORD.findall(str(phrase).lower()))
                if toks:
                    table.setdefault(toks[0], []).append((toks, cat))
                    # a one-word phrase may itself be plural
                    if len(toks) == 1:
                        for s in _PLURAL[1:]:
                            table.setdefault(toks[0] + s, []).append(
                                ((toks[0] + s, ), cat))
        for entries in table.values():
            entries.sort(key=lambda e: len(e[0]), reverse=True)
        self._table = table

    def __call__(self, text: Optional[str]) -> Optional[str]:
        """The category named first in ``text``, or None."""
        if not text:
            return None
        words = [w.lower() for w in _WORD.findall(text)]
        for i, word in enumerate(words):
            for phrase, cat in self._table.get(word, ()):
                n = len(phrase)
                cand = words[i:i + n]
                if len(cand) < n or cand[:-1] != list(phrase[:-1]):
                    continue
                if any(cand[-1] == phrase[-1] + s for s in _PLURAL):
                    return cat
        return None
