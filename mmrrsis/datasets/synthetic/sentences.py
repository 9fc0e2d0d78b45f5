"""Referring-expression grammar of the synthetic set.

A target object is described by a structured description (category plus
colour, size, absolute position, extreme position among its category or a
relation to an anchor object). :func:`candidate_descs` lists, per kind, the
descriptions that fit the target strictly and no other object even under a
tolerant reading (objects near a region border or nearly tied count as
matching), :func:`resolve` finds the objects a description can refer to, and
:func:`render_sentence` writes a description as an English sentence with a
random template.
"""
import math
from typing import Dict, List

import numpy as np

from .scene import SynthObject

#: Relative frequency of the description kinds (used when available).
#: 'position' = absolute region (e.g. 'at the top left'), 'extreme' = among
#: its category (e.g. 'the leftmost building'), 'relation' = relative to an
#: anchor object. Comparative kinds (size, extreme, relation) are the hardest
#: to learn from scratch, so they are rarer by default.
DEFAULT_KIND_WEIGHTS = dict(colour=0.45, position=0.3, size=0.1,
                            extreme=0.07, relation=0.08)

#: Strict margin of comparative descriptions, relative to region margins.
COMPARATIVE_STRICTNESS = 2.5


# --------------------------------------------------------------- semantics
def _col_of(x: float, size: int, tol: float) -> List[str]:
    """Columns ``x`` belongs to; tol > 0 is strict, tol < 0 tolerant."""
    a, b = size / 3, 2 * size / 3
    out = []
    if x < a - tol:
        out.append('left')
    if a + tol < x < b - tol:
        out.append('center')
    if x > b + tol:
        out.append('right')
    return out


_ROW_OF_COL = {'left': 'top', 'center': 'middle', 'right': 'bottom'}


def _row_of(y: float, size: int, tol: float) -> List[str]:
    return [_ROW_OF_COL[c] for c in _col_of(y, size, tol)]


def _matches(desc: dict, o: SynthObject, objs: List[SynthObject], size: int,
             tol: float) -> bool:
    """Whether ``o`` fits ``desc``; tol > 0 strict, tol < 0 tolerant.

    In the strict reading (used to choose what to say about a target),
    comparisons between objects (extreme, relation) need a margin
    ``COMPARATIVE_STRICTNESS`` times larger, and a directional relation must
    be mostly along its axis, so that comparative sentences are clear-cut.
    """
    strict = tol > 0
    ctol = tol * COMPARATIVE_STRICTNESS if strict else tol
    if o.category != desc['category']:
        return False
    if 'colour' in desc and o.colour != desc['colour']:
        return False
    if 'size' in desc and o.size != desc['size']:
        return False
    if 'row' in desc and desc['row'] not in _row_of(o.cy, size, tol):
        return False
    if 'col' in desc and desc['col'] not in _col_of(o.cx, size, tol):
        return False
    if 'extreme' in desc:
        others = [x for x in objs if x is not o and
                  x.category == o.category]
        if not others:
            return False
        key = {'left': lambda x: x.cx, 'right': lambda x: -x.cx,
               'top': lambda x: x.cy, 'bottom': lambda x: -x.cy}[
                   desc['extreme']]
        if not all(key(o) < key(x) - ctol for x in others):
            return False
    if 'relation' in desc:
        anchors = resolve(desc['anchor'], objs, size, tol=-abs(tol))
        if len(anchors) != 1 or anchors[0] is o:
            return False
        a = anchors[0]
        rel = desc['relation']
        dx, dy = o.cx - a.cx, o.cy - a.cy
        if rel == 'left' and not dx < -ctol:
            return False
        if rel == 'right' and not dx > ctol:
            return False
        if rel == 'above' and not dy < -ctol:
            return False
        if rel == 'below' and not dy > ctol:
            return False
        if strict and rel in ('left', 'right') and abs(dx) < abs(dy):
            return False
        if strict and rel in ('above', 'below') and abs(dy) < abs(dx):
            return False
        if rel == 'near':
            d = math.hypot(o.cx - a.cx, o.cy - a.cy)
            others = [math.hypot(x.cx - a.cx, x.cy - a.cy) for x in objs
                      if x is not o and x is not a and
                      x.category == o.category]
            if not others:
                return False
            ratio = 2.0 if strict else 1 / 1.5
            if not d * ratio < min(others):
                return False
    return True


def resolve(desc: dict, objs: List[SynthObject], size: int,
            tol: float) -> List[SynthObject]:
    """All objects of a scene that a structured description can refer to.

    Args:
        desc (dict): Description: ``category`` plus any of ``colour``,
            ``size``, ``row``/``col`` (3 x 3 grid), ``extreme`` ('left',
            'right', 'top', 'bottom' among its category), ``relation``
            ('left', 'right', 'above', 'below', 'near') with ``anchor`` (a
            description).
        objs (list[SynthObject]): The scene.
        size (int): Image size.
        tol (float): Margin in pixels; negative = tolerant reading (borderline
            objects match), positive = strict.

    Returns:
        list[SynthObject]: The matching objects.
    """
    return [o for o in objs if _matches(desc, o, objs, size, tol)]


def _anchor_descs(a: SynthObject, objs: List[SynthObject], size: int,
                  margin: float) -> List[dict]:
    cands = [dict(category=a.category),
             dict(category=a.category, colour=a.colour)]
    return [d for d in cands
            if resolve(d, objs, size, -margin) == [a]]


def candidate_descs(t: SynthObject, objs: List[SynthObject], size: int,
                    margin: float) -> Dict[str, List[dict]]:
    """Descriptions, per kind, that single out ``t`` robustly."""
    same = [o for o in objs if o.category == t.category]
    cat = t.category
    cands: Dict[str, List[dict]] = dict(colour=[], size=[], position=[],
                                        extreme=[], relation=[])
    cands['colour'].append(dict(category=cat, colour=t.colour))
    if len(same) >= 2:
        cands['size'].append(dict(category=cat, size=t.size))
        for ext in ('left', 'right', 'top', 'bottom'):
            cands['extreme'].append(dict(category=cat, extreme=ext))
    rows, cols = _row_of(t.cy, size, margin), _col_of(t.cx, size, margin)
    for r in rows:
        for c in cols:
            if r != 'middle' and c != 'center':
                cands['position'].append(dict(category=cat, row=r, col=c))
            if r == 'middle' and c == 'center':
                cands['position'].append(dict(category=cat, row=r, col=c))
        if r != 'middle':
            cands['position'].append(dict(category=cat, row=r))
    for c in cols:
        if c != 'center':
            cands['position'].append(dict(category=cat, col=c))
    for a in objs:
        if a is t:
            continue
        for ad in _anchor_descs(a, objs, size, margin):
            for rel in ('left', 'right', 'above', 'below', 'near'):
                cands['relation'].append(
                    dict(category=cat, relation=rel, anchor=ad))
    # Keep those that fit t strictly and nothing else even tolerantly.
    return {
        kind: [d for d in ds if _matches(d, t, objs, size, margin)
               and resolve(d, objs, size, -margin) == [t]]
        for kind, ds in cands.items()
    }


# --------------------------------------------------------------- sentences
def _np(d: dict) -> str:
    """Noun phrase of an anchor description."""
    if 'colour' in d:
        return f"the {d['colour']} {d['category']}"
    return f"the {d['category']}"


def render_sentence(kind: str, d: dict, t: SynthObject,
                    rng: np.random.Generator) -> str:
    """Render a structured description with a random template."""
    cat = d['category']
    pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
    if kind == 'colour':
        c = d['colour']
        return pick([f'the {c} {cat}', f'{c} {cat}',
                     f'the {cat} that is {c}', f'a {c} {cat}',
                     f'the {cat} painted {c}'])
    if kind == 'size':
        s = pick({'large': ['large', 'big'],
                  'small': ['small', 'little']}[d['size']])
        return pick([f'the {s} {cat}', f'{s} {cat}',
                     f'the {s} {t.colour} {cat}', f'the {cat} that is {s}'])
    if kind == 'extreme':
        e = d['extreme']
        most = {'left': 'leftmost', 'right': 'rightmost', 'top': 'topmost',
                'bottom': 'bottommost'}[e]
        far = {'left': 'farthest to the left',
               'right': 'farthest to the right',
               'top': 'closest to the top',
               'bottom': 'closest to the bottom'}[e]
        return pick([f'the {most} {cat}', f'{most} {cat}',
                     f'the {cat} {far}'])
    if kind == 'position':
        r, c = d.get('row'), d.get('col')
        if r == 'middle' and c == 'center':
            return pick([f'the {cat} in the center', f'{cat} in the middle',
                         f'the {cat} in the middle of the image'])
        if r and c:
            rw = pick({'top': ['top', 'upper'],
                       'bottom': ['bottom', 'lower']}[r])
            return pick([f'the {cat} at the {rw} {c}',
                         f'the {cat} in the {rw} {c} corner',
                         f'{cat} at the {r}-{c}', f'the {rw} {c} {cat}'])
        if c:
            return pick([f'the {cat} on the {c}', f'{cat} on the {c} side',
                         f'the {cat} at the {c} of the image'])
        rw = pick({'top': ['top', 'upper'], 'bottom': ['bottom',
                                                       'lower']}[r])
        return pick([f'the {cat} at the {r}', f'the {cat} in the {rw} part',
                     f'{cat} near the {r} edge'])
    a = _np(d['anchor'])
    rel = d['relation']
    forms = {
        'left': [f'the {cat} to the left of {a}', f'{cat} left of {a}',
                 f'the {cat} west of {a}'],
        'right': [f'the {cat} to the right of {a}', f'{cat} right of {a}',
                  f'the {cat} east of {a}'],
        'above': [f'the {cat} above {a}', f'{cat} above {a}',
                  f'the {cat} north of {a}'],
        'below': [f'the {cat} below {a}', f'{cat} below {a}',
                  f'the {cat} south of {a}'],
        'near': [f'the {cat} next to {a}', f'the {cat} closest to {a}',
                 f'{cat} near {a}'],
    }
    return pick(forms[rel])
