"""Random flip that also mirrors the direction words of the expression."""
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from mmseg.datasets.transforms import RandomFlip
from mmseg.registry import TRANSFORMS

# Word pairs swapped by a horizontal flip (mirror left <-> right).
HORIZONTAL_PAIRS: Tuple[Tuple[str, str], ...] = (
    ('left', 'right'), ('leftmost', 'rightmost'),
    ('leftward', 'rightward'), ('leftwards', 'rightwards'),
    ('east', 'west'), ('eastern', 'western'), ('eastward', 'westward'),
    ('eastwards', 'westwards'), ('easternmost', 'westernmost'),
    ('easterly', 'westerly'))
# Word pairs swapped by a vertical flip (mirror top <-> bottom).
VERTICAL_PAIRS: Tuple[Tuple[str, str], ...] = (
    ('top', 'bottom'), ('topmost', 'bottommost'), ('upper', 'lower'),
    ('uppermost', 'lowermost'), ('above', 'below'), ('north', 'south'),
    ('northern', 'southern'), ('northward', 'southward'),
    ('northwards', 'southwards'), ('northernmost', 'southernmost'),
    ('northerly', 'southerly'))

_WORD = re.compile(r'[A-Za-z]+')
# 'northeast', 'southwestern', 'northwesterly', ...
_COMPASS = re.compile(r'^(north|south)(east|west)(ern|erly|ward|wards|'
                      r'ernmost)?$')
# Idioms whose direction word does not describe image position.
_PROTECTED = re.compile(r'\bon\s+top\s+of\b', re.IGNORECASE)


def _pair_map(pairs: Tuple[Tuple[str, str], ...]) -> Dict[str, str]:
    mapping = {}
    for a, b in pairs:
        mapping[a] = b
        mapping[b] = a
    return mapping


_H_MAP = _pair_map(HORIZONTAL_PAIRS)
_V_MAP = _pair_map(VERTICAL_PAIRS)


def _match_case(new: str, old: str) -> str:
    """Give ``new`` the capitalisation pattern of ``old``."""
    if old.isupper() and len(old) > 1:
        return new.upper()
    if old[0].isupper():
        return new[0].upper() + new[1:]
    return new


def _swap_word(word: str, horizontal: bool, vertical: bool) -> str:
    low = word.lower()
    new = None
    if horizontal and low in _H_MAP:
        new = _H_MAP[low]
    elif vertical and low in _V_MAP:
        new = _V_MAP[low]
    else:
        m = _COMPASS.match(low)
        if m:
            ns, ew, suffix = m.group(1), m.group(2), m.group(3) or ''
            if vertical:
                ns = _V_MAP[ns]
            if horizontal:
                ew = _H_MAP[ew]
            new = ns + ew + suffix
    if new is None or new == low:
        return word
    return _match_case(new, word)


def swap_direction_words(text: str, horizontal: bool = False,
                         vertical: bool = False) -> str:
    """Mirror the direction words of an expression.

    Whole words only (``'rightful'`` is untouched), case preserving
    (``'Left'`` -> ``'Right'``), hyphenated compounds (``'top-left'``) and
    compass compounds (``'northwest'``, ``'south-eastern'``) included. The
    idiom ``'on top of'`` is kept. Horizontal: left/right, leftmost/
    rightmost, east/west (...); vertical: top/bottom, upper/lower,
    above/below, north/south (...). Both flags together mirror both axes
    (a diagonal flip).

    Args:
        text (str): The expression.
        horizontal (bool): Apply the left-right swaps.
        vertical (bool): Apply the top-bottom swaps.

    Returns:
        str: The mirrored expression.
    """
    if not (horizontal or vertical) or not text:
        return text
    protected: List[Tuple[int, int]] = [
        m.span() for m in _PROTECTED.finditer(text)]

    def repl(m: 're.Match') -> str:
        start = m.start()
        if any(a <= start < b for a, b in protected):
            return m.group(0)
        return _swap_word(m.group(0), horizontal, vertical)

    return _WORD.sub(repl, text)


@TRANSFORMS.register_module()
class TextAwareRandomFlip(RandomFlip):
    """MMSeg ``RandomFlip`` that keeps the expression true after flipping.

    Subclass of MMSeg's ``RandomFlip`` (itself a subclass of mmcv's
    ``RandomFlip``; same arguments and sampling, and it flips every entry of
    ``seg_fields``). When the image is flipped horizontally, direction words
    in ``results['text']`` are mirrored (left <-> right, leftmost <->
    rightmost, east <-> west, so 'upper left' becomes 'upper right'); when
    flipped vertically top <-> bottom, upper <-> lower, above <-> below,
    north <-> south; a diagonal flip does both. See
    :func:`swap_direction_words`.

    Note:
        The default mmrrsis configs do not include any flip, following the
        LAVT / RMSIN training protocol (no flipping for referring
        segmentation); add this transform explicitly to use it.

    Required Keys:

    - img
    - text (optional)
    - gt_seg_map and other ``seg_fields`` (optional)

    Modified Keys:

    - img, text, seg_fields entries

    Added Keys:

    - flip, flip_direction, swap_seg_labels (optional)

    Args:
        prob (float | list[float]): Flip probability, as in ``RandomFlip``.
        direction (str | list[str]): 'horizontal', 'vertical', 'diagonal' or
            a list of them. Defaults to 'horizontal'.
        swap_seg_labels (list, optional): As in ``RandomFlip``. Defaults to
            None.
    """

    def __init__(self,
                 prob: Optional[Union[float, Iterable[float]]] = None,
                 direction: Union[str, Sequence[Optional[str]]] = 'horizontal',
                 swap_seg_labels: Optional[Sequence] = None) -> None:
        super().__init__(
            prob=prob, direction=direction, swap_seg_labels=swap_seg_labels)

    def _flip(self, results: dict) -> None:
        """Flip image and maps (parent), then mirror the expression."""
        super()._flip(results)
        direction = results.get('flip_direction')
        text = results.get('text')
        if isinstance(text, str):
            results['text'] = swap_direction_words(
                text,
                horizontal=direction in ('horizontal', 'diagonal'),
                vertical=direction in ('vertical', 'diagonal'))
