"""Synthetic referring remote sensing segmentation data (RefSegRS layout).

:func:`generate_synthetic_refseg` draws small aerial-looking scenes (textured
grass / soil / crop fields, sometimes a road, 3-5 objects of a few categories,
colours and two sizes, with shadows) and writes, for every chosen (image,
object) pair, an image file, a mask file and one referring sentence, in
exactly the RefSegRS layout read by
:class:`~mmrrsis.datasets.RefSegRSDataset`::

    out_dir/
    ├── images/<id>.tif              # RGB, 8 bit
    ├── masks/<id>.tif               # 8 bit, 0 background / 255 object
    ├── output_phrase_train.txt      # '<id> <sentence>' per line
    ├── output_phrase_val.txt
    └── output_phrase_test.txt

Layout choice: in RefSegRS an ``<id>`` names both the image and the mask, so
a scene that is described 2-3 times (each sentence naming a different object)
is written once per described object, with ids ``<scene>_<k>`` (``00012_0``,
``00012_1``, ...) whose image files have identical content and whose mask
files differ. Scenes are numbered across splits (train first, then val, then
test), so ids never collide and no scene is shared between splits.

Every sentence is built from a structured description (category + colour,
size, absolute position, extreme position or relation to an anchor object)
that is checked to match exactly one object of the scene under a tolerant
reading (objects near a region border or nearly tied count as matching), so
sentences stay unambiguous. Most scenes contain two objects of the same
category, and those are described first, so the sentence, not only the
category prior, is needed.

The output is deterministic for a given seed and arguments (byte-identical
files); nothing here runs at import.
"""
import math
import os
import os.path as osp
import shutil
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

SPLITS = ('train', 'val', 'test')
_SPLIT_CODE = {'train': 0, 'val': 1, 'test': 2}

#: Object colours (RGB) that sentences may name.
COLOURS: Dict[str, Tuple[int, int, int]] = {
    'red': (205, 45, 40),
    'white': (238, 238, 232),
    'blue': (40, 85, 215),
    'yellow': (238, 205, 40),
    'orange': (240, 130, 25),
    'black': (32, 32, 38),
    'purple': (130, 50, 170),
}
DEFAULT_COLOURS = ('red', 'white', 'blue', 'yellow')

#: Category names (as written in sentences) with their shape builder key.
CATEGORY_SHAPES: Dict[str, str] = {
    'building': 'building',
    'storage tank': 'tank',
    'vehicle': 'vehicle',
    'airplane': 'airplane',
    'pool': 'pool',
}
DEFAULT_CATEGORIES = ('building', 'storage tank', 'vehicle', 'airplane')

#: Relative frequency of the description kinds (used when available).
#: 'position' = absolute region (e.g. 'at the top left'), 'extreme' = among
#: its category (e.g. 'the leftmost building'), 'relation' = relative to an
#: anchor object. Comparative kinds (size, extreme, relation) are the hardest
#: to learn from scratch, so they are rarer by default.
DEFAULT_KIND_WEIGHTS = dict(colour=0.45, position=0.3, size=0.1,
                            extreme=0.07, relation=0.08)

SMALL_SCALE = 0.62  # linear size of 'small' objects relative to 'large'
#: Strict margin of comparative descriptions, relative to region margins.
COMPARATIVE_STRICTNESS = 2.5


# --------------------------------------------------------------- objects
@dataclass
class SynthObject:
    """One object of a synthetic scene.

    Attributes:
        category (str): Category name, e.g. 'storage tank'.
        colour (str): Colour name.
        size (str): 'large' or 'small'.
        cx (float): Mask centroid, x (pixels, to the right).
        cy (float): Mask centroid, y (pixels, downwards).
        area (int): Mask area in pixels.
        mask (np.ndarray): bool (H, W) mask.
    """
    category: str
    colour: str
    size: str
    cx: float = 0.0
    cy: float = 0.0
    area: int = 0
    mask: np.ndarray = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-friendly description (without the mask)."""
        return dict(category=self.category, colour=self.colour,
                    size=self.size, cx=round(self.cx, 2),
                    cy=round(self.cy, 2), area=self.area)


def _rotate(points: np.ndarray, angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return points @ rot.T


def _ellipse(rx: float, ry: float, n: int = 40) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.stack([rx * np.cos(t), ry * np.sin(t)], axis=1)


def _rounded_rect(w: float, h: float, r: float, n: int = 6) -> np.ndarray:
    pts = []
    corners = [(w / 2 - r, h / 2 - r, 0), (-w / 2 + r, h / 2 - r, 90),
               (-w / 2 + r, -h / 2 + r, 180), (w / 2 - r, -h / 2 + r, 270)]
    for cx, cy, start in corners:
        for t in np.linspace(start, start + 90, n):
            pts.append((cx + r * math.cos(math.radians(t)),
                        cy + r * math.sin(math.radians(t))))
    return np.array(pts)


ShapeSpec = Tuple[List[np.ndarray], Callable[[np.ndarray, np.ndarray],
                                             np.ndarray], float]


def _shape_building(rng: np.random.Generator, s: float) -> ShapeSpec:
    w = rng.uniform(0.25, 0.33) * s
    h = rng.uniform(0.19, 0.25) * s
    if rng.random() < 0.35:  # L-shaped footprint
        cw, ch = w * rng.uniform(0.4, 0.5), h * rng.uniform(0.4, 0.5)
        poly = np.array([(-w / 2, -h / 2), (w / 2 - cw, -h / 2),
                         (w / 2 - cw, -h / 2 + ch), (w / 2, -h / 2 + ch),
                         (w / 2, h / 2), (-w / 2, h / 2)])
    else:
        poly = np.array([(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2),
                         (-w / 2, h / 2)])

    def shade(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
        return np.where(ly > 0, 1.0, 0.8)  # gable roof: lit / shaded side

    return [poly], shade, float(rng.choice([0.0, 90.0]) +
                                rng.uniform(-20, 20))


def _shape_tank(rng: np.random.Generator, s: float) -> ShapeSpec:
    r = rng.uniform(0.12, 0.14) * s

    def shade(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
        d = np.sqrt(lx ** 2 + ly ** 2) / r
        out = 1.02 - 0.18 * d
        return np.where(np.abs(d - 0.68) < 0.09, out * 0.72, out)

    return [_ellipse(r, r)], shade, 0.0


def _shape_vehicle(rng: np.random.Generator, s: float) -> ShapeSpec:
    length = rng.uniform(0.26, 0.3) * s
    width = length * rng.uniform(0.48, 0.54)
    c = width * 0.22
    poly = np.array([(-length / 2 + c, -width / 2), (length / 2 - c,
                                                      -width / 2),
                     (length / 2, -width / 2 + c), (length / 2, width / 2 - c),
                     (length / 2 - c, width / 2), (-length / 2 + c, width / 2),
                     (-length / 2, width / 2 - c),
                     (-length / 2, -width / 2 + c)])

    def shade(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
        u = lx / length
        glass = ((u > 0.16) & (u < 0.3)) | ((u < -0.28) & (u > -0.38))
        return np.where(glass, 0.35, 1.0)

    return [poly], shade, float(rng.uniform(0, 180))


def _shape_airplane(rng: np.random.Generator, s: float) -> ShapeSpec:
    length = rng.uniform(0.37, 0.42) * s
    fw = 0.2 * length
    fuselage = _ellipse(length / 2, fw / 2, 24)
    span, chord, sweep = 0.95 * length, 0.24 * length, 0.1 * length
    x0 = 0.08 * length  # wing root, leading edge
    wings = np.array([(x0, -fw / 2), (x0 - sweep, -span / 2),
                      (x0 - sweep - chord * 0.6, -span / 2),
                      (x0 - chord, -fw / 2), (x0 - chord, fw / 2),
                      (x0 - sweep - chord * 0.6, span / 2),
                      (x0 - sweep, span / 2), (x0, fw / 2)])
    tspan, tchord = 0.4 * length, 0.14 * length
    xt = -0.32 * length
    tail = np.array([(xt, -fw / 3), (xt - tchord * 0.6, -tspan / 2),
                     (xt - tchord * 1.1, -tspan / 2), (xt - tchord, 0),
                     (xt - tchord * 1.1, tspan / 2),
                     (xt - tchord * 0.6, tspan / 2), (xt, fw / 3)])

    def shade(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
        return 1.0 - 0.15 * np.abs(ly) / (span / 2)

    return [fuselage, wings, tail], shade, float(rng.uniform(0, 360))


def _shape_pool(rng: np.random.Generator, s: float) -> ShapeSpec:
    w = rng.uniform(0.23, 0.29) * s
    h = rng.uniform(0.15, 0.19) * s
    rim = max(1.0, 0.12 * h)

    def shade(lx: np.ndarray, ly: np.ndarray) -> np.ndarray:
        inner = (np.abs(lx) < w / 2 - rim) & (np.abs(ly) < h / 2 - rim)
        return np.where(inner, 0.9, 1.25)

    return [_rounded_rect(w, h, 0.25 * h)], shade, float(
        rng.uniform(-30, 30))


_SHAPE_BUILDERS = {
    'building': _shape_building,
    'tank': _shape_tank,
    'vehicle': _shape_vehicle,
    'airplane': _shape_airplane,
    'pool': _shape_pool,
}


# --------------------------------------------------------------- ground
def _smooth_noise(rng: np.random.Generator, size: int, cells: int,
                  amp: float) -> np.ndarray:
    base = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    up = cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC)
    return up * amp


def _render_ground(rng: np.random.Generator, size: int) -> np.ndarray:
    """Textured ground (float RGB, (S, S, 3))."""
    kind = rng.choice(['grass', 'soil', 'fields'])
    img = np.zeros((size, size, 3), np.float32)
    if kind == 'fields':
        palette = np.array([(110, 130, 70), (150, 135, 95), (95, 115, 65),
                            (165, 150, 110), (125, 105, 80)], np.float32)
        # Patchwork of parcels: a random grid of strips, optionally rotated.
        nx, ny = rng.integers(2, 4), rng.integers(2, 4)
        xs = np.sort(rng.uniform(0, 1, nx - 1)) * size * 1.6
        ys = np.sort(rng.uniform(0, 1, ny - 1)) * size * 1.6
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        ang = math.radians(rng.uniform(-25, 25))
        u = (xx - size / 2) * math.cos(ang) + (yy - size / 2) * math.sin(
            ang) + size * 0.8
        v = -(xx - size / 2) * math.sin(ang) + (yy - size / 2) * math.cos(
            ang) + size * 0.8
        ix, iy = np.searchsorted(xs, u), np.searchsorted(ys, v)
        cols = rng.integers(0, len(palette), (nx, ny))
        img[:] = palette[cols[ix, iy]]
        period = rng.uniform(2.5, 4.0)  # crop rows
        img += (np.sin(u / period * 2 * math.pi) * 5)[..., None]
    else:
        base = (85, 115, 60) if kind == 'grass' else (138, 112, 86)
        img[:] = np.array(base, np.float32)
    img += _smooth_noise(rng, size, 5, 9.0)[..., None]
    img += rng.normal(0, 5, (size, size, 3)).astype(np.float32)
    if rng.random() < 0.5:  # a road band with a dashed centre line
        width = rng.uniform(0.08, 0.11) * size
        off = rng.uniform(0.2, 0.8) * size
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        coord, along = (yy, xx) if rng.random() < 0.5 else (xx, yy)
        road = np.abs(coord - off) < width / 2
        img[road] = np.array((108, 108, 112), np.float32) + rng.normal(
            0, 3, (int(road.sum()), 3)).astype(np.float32)
        dash = (np.abs(coord - off) < 0.6) & ((along // 4) % 2 == 0)
        img[dash] = (190, 190, 185)
    return img


# --------------------------------------------------------------- scenes
def _draw_object(rng: np.random.Generator, img: np.ndarray,
                 shadow: np.ndarray, obj: SynthObject, polys: list,
                 shade: Callable, angle: float, centre: Tuple[float, float],
                 sun: Tuple[float, float]) -> None:
    """Rasterise ``obj`` into ``img`` and its mask; accumulate its shadow."""
    size = img.shape[0]
    mask = np.zeros((size, size), np.uint8)
    shad = np.zeros((size, size), np.uint8)
    cx, cy = centre
    for poly in polys:
        pts = _rotate(poly, angle) + np.array([cx, cy])
        fixed = np.round(pts * 16).astype(np.int32)
        cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=4)
        shadow_pts = np.round((pts + np.array(sun)) * 16).astype(np.int32)
        cv2.fillPoly(shad, [shadow_pts], 1, lineType=cv2.LINE_8, shift=4)
    m = mask.astype(bool)
    yy, xx = np.nonzero(m)
    local = _rotate(np.stack([xx - cx, yy - cy], axis=1).astype(np.float64),
                    -angle)
    factor = shade(local[:, 0], local[:, 1]).astype(np.float32)
    base = np.array(COLOURS[obj.colour], np.float32) + rng.normal(0, 6, 3)
    pix = base[None] * factor[:, None] + rng.normal(
        0, 3, (len(yy), 3)).astype(np.float32)
    img[yy, xx] = pix
    shadow |= shad.astype(bool)
    obj.mask = m
    obj.area = int(m.sum())
    obj.cx, obj.cy = float(xx.mean()), float(yy.mean())


def _make_scene(rng: np.random.Generator, size: int,
                categories: Sequence[str], colours: Sequence[str],
                objects_per_image: Tuple[int, int],
                shared_category_prob: float
                ) -> Optional[Tuple[np.ndarray, List[SynthObject]]]:
    """Draw one scene; None when the objects could not be placed."""
    n = int(rng.integers(objects_per_image[0], objects_per_image[1] + 1))
    cats: List[str] = []
    if rng.random() < shared_category_prob and n >= 2:
        shared = str(rng.choice(list(categories)))
        cats += [shared, shared]
    while len(cats) < n:
        cats.append(str(rng.choice(list(categories))))
    objs: List[SynthObject] = []
    for cat in cats:
        colour = str(rng.choice(list(colours)))
        sz = 'large' if rng.random() < 0.5 else 'small'
        same = [o for o in objs if o.category == cat]
        # Usually make same-category objects differ in colour or size.
        for _ in range(4):
            if not any(o.colour == colour and o.size == sz for o in same) \
                    or rng.random() < 0.2:
                break
            colour = str(rng.choice(list(colours)))
            sz = 'large' if rng.random() < 0.5 else 'small'
        objs.append(SynthObject(cat, colour, sz))

    img = _render_ground(rng, size)
    shadow = np.zeros((size, size), bool)
    sun_len = 0.018 * size
    sun = (sun_len * float(rng.choice([-1, 1])),
           sun_len * float(rng.choice([-1, 1])))
    gap = 0.03 * size
    placed: List[Tuple[float, float, float]] = []  # cx, cy, radius
    specs = []
    # Larger objects first, so they find room.
    order = sorted(range(len(objs)), key=lambda i: objs[i].size != 'large')
    for i in order:
        obj = objs[i]
        scale = size * (1.0 if obj.size == 'large' else SMALL_SCALE)
        polys, shade, angle = _SHAPE_BUILDERS[CATEGORY_SHAPES[obj.category]](
            rng, scale)
        radius = max(float(np.linalg.norm(p, axis=1).max()) for p in polys)
        lo, hi = radius + 1.0, size - 1.0 - radius
        for _ in range(60):
            cx, cy = rng.uniform(lo, hi), rng.uniform(lo, hi)
            if all(math.hypot(cx - px, cy - py) > radius + pr + gap
                   for px, py, pr in placed):
                break
        else:
            return None
        placed.append((cx, cy, radius))
        specs.append((i, polys, shade, angle, (cx, cy)))
    for i, polys, shade, angle, centre in specs:
        _draw_object(rng, img, shadow, objs[i], polys, shade, angle, centre,
                     sun)
    union = np.zeros((size, size), bool)
    for o in objs:
        union |= o.mask
    img[shadow & ~union] *= 0.55
    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    img += rng.normal(0, 2.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), objs


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


def _candidate_descs(t: SynthObject, objs: List[SynthObject], size: int,
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


def _sentence(kind: str, d: dict, t: SynthObject,
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


# --------------------------------------------------------------- writing
def _imwrite(path: str, img: np.ndarray) -> None:
    if not cv2.imwrite(path, img):
        raise OSError(f'cannot write {path}')


def _norm_range(value: Union[int, Sequence[int]], name: str
                ) -> Tuple[int, int]:
    if isinstance(value, int):
        lo = hi = value
    else:
        lo, hi = (int(v) for v in value)
    if lo < 1 or hi < lo:
        raise ValueError(f'{name} must be a positive int or (min, max), '
                         f'got {value!r}')
    return lo, hi


def generate_synthetic_refseg(
        out_dir: str,
        num_images: Optional[Dict[str, int]] = None,
        img_size: int = 96,
        seed: int = 0,
        exprs_per_image: Union[int, Tuple[int, int]] = (2, 3),
        objects_per_image: Tuple[int, int] = (3, 5),
        categories: Sequence[str] = DEFAULT_CATEGORIES,
        colours: Sequence[str] = DEFAULT_COLOURS,
        kind_weights: Optional[Dict[str, float]] = None,
        shared_category_prob: float = 0.9,
        overwrite: bool = False) -> dict:
    """Write a synthetic referring segmentation set in the RefSegRS layout.

    Args:
        out_dir (str): Output folder (created).
        num_images (dict, optional): Scenes per split, e.g.
            ``dict(train=1500, val=100, test=100)`` (the default, about
            3700 / 250 / 250 samples, 110 MB at 96 px). Each scene gives
            ``exprs_per_image`` samples.
        img_size (int): Square image size in pixels (>= 64). Defaults to 96.
        seed (int): Random seed; same seed and arguments give identical
            files. Defaults to 0.
        exprs_per_image (int | tuple[int, int]): Sentences (each naming a
            different object) per scene, or a (min, max) range. Defaults to
            (2, 3).
        objects_per_image (tuple[int, int]): (min, max) objects per scene.
            Defaults to (3, 5).
        categories (Sequence[str]): Category names, keys of
            :data:`CATEGORY_SHAPES`. Defaults to building, storage tank,
            vehicle, airplane.
        colours (Sequence[str]): Colour names, keys of :data:`COLOURS`.
            Defaults to red, white, blue, yellow.
        kind_weights (dict, optional): Relative frequency of the sentence
            kinds 'colour', 'position', 'size', 'extreme', 'relation' (drawn
            among the kinds that can single out the object; a kind with
            weight 0 is used only when nothing else can). Missing keys keep
            :data:`DEFAULT_KIND_WEIGHTS`.
        shared_category_prob (float): Probability that a scene holds two
            objects of one category (described first). Defaults to 0.9.
        overwrite (bool): Replace the generated entries (images/, masks/,
            output_phrase_*.txt) of an existing output. Defaults to False.

    Returns:
        dict: Summary: ``out_dir``, ``img_size``, ``seed``, ``splits``
        (per split ``num_images``, ``num_samples``, ``mean_objects``,
        ``kinds`` counts) and ``samples`` (per sample ``id``, ``split``,
        ``scene``, ``text``, ``kind``, ``desc``, ``target`` index and
        ``objects`` of the scene).

    Raises:
        FileExistsError: ``out_dir`` already holds a generated set and
            ``overwrite`` is False.
        ValueError: Bad arguments.
    """
    if num_images is None:
        num_images = dict(train=1500, val=100, test=100)
    unknown = set(num_images) - set(SPLITS)
    if unknown:
        raise ValueError(f'num_images keys must be among {SPLITS}, got '
                         f'{sorted(unknown)}')
    if img_size < 64:
        raise ValueError(f'img_size must be >= 64, got {img_size}')
    for c in categories:
        if c not in CATEGORY_SHAPES:
            raise ValueError(f'unknown category {c!r}; choose from '
                             f'{sorted(CATEGORY_SHAPES)}')
    for c in colours:
        if c not in COLOURS:
            raise ValueError(f'unknown colour {c!r}; choose from '
                             f'{sorted(COLOURS)}')
    e_lo, e_hi = _norm_range(exprs_per_image, 'exprs_per_image')
    o_lo, o_hi = _norm_range(objects_per_image, 'objects_per_image')
    if o_hi > 6:
        raise ValueError('at most 6 objects per image fit the scenes')
    if e_lo > o_lo:
        raise ValueError('exprs_per_image min cannot exceed the minimum '
                         'number of objects')
    weights = dict(DEFAULT_KIND_WEIGHTS)
    bad = set(kind_weights or {}) - set(DEFAULT_KIND_WEIGHTS)
    if bad:
        raise ValueError(f'unknown sentence kinds {sorted(bad)}; choose '
                         f'from {list(DEFAULT_KIND_WEIGHTS)}')
    weights.update(kind_weights or {})

    img_dir, mask_dir = osp.join(out_dir, 'images'), osp.join(
        out_dir, 'masks')
    phrase_files = [
        osp.join(out_dir, f'output_phrase_{s}.txt') for s in SPLITS
    ]
    existing = [p for p in [img_dir, mask_dir] + phrase_files
                if osp.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f'{out_dir} already holds a generated set ({existing[0]}); pass '
            'overwrite=True (--overwrite) to replace it')
    for p in existing:
        if osp.isdir(p):
            shutil.rmtree(p)
        else:
            os.remove(p)
    os.makedirs(img_dir)
    os.makedirs(mask_dir)

    margin = 0.06 * img_size
    samples: List[dict] = []
    splits_summary: Dict[str, dict] = {}
    scene_idx = 0
    for split in SPLITS:
        n_split = int(num_images.get(split, 0))
        lines: List[str] = []
        n_objs = 0
        kinds: Dict[str, int] = {k: 0 for k in DEFAULT_KIND_WEIGHTS}
        for i in range(n_split):
            rng = np.random.default_rng([seed, _SPLIT_CODE[split], i])
            for _attempt in range(500):
                scene = _make_scene(rng, img_size, categories, colours,
                                    (o_lo, o_hi), shared_category_prob)
                if scene is None:
                    continue
                img, objs = scene
                descs = [_candidate_descs(o, objs, img_size, margin)
                         for o in objs]
                usable = [j for j, d in enumerate(descs)
                          if any(d.values())]
                n_expr = int(rng.integers(e_lo, e_hi + 1))
                if len(usable) >= e_lo:
                    break
            else:
                raise RuntimeError(
                    f'could not draw a describable scene for {split} image '
                    f'{i}; loosen objects_per_image / exprs_per_image')
            counts: Dict[str, int] = {}
            for o in objs:
                counts[o.category] = counts.get(o.category, 0) + 1
            shared = [j for j in usable if counts[objs[j].category] >= 2]
            rest = [j for j in usable if counts[objs[j].category] < 2]
            targets = list(rng.permutation(shared)) + list(
                rng.permutation(rest))
            targets = [int(j) for j in targets[:n_expr]]
            sid = f'{scene_idx:05d}'
            img_bgr = np.ascontiguousarray(img[..., ::-1])
            for k, j in enumerate(targets):
                avail = [kind for kind in DEFAULT_KIND_WEIGHTS
                         if descs[j][kind] and weights.get(kind, 0) > 0]
                if not avail:
                    avail = [kind for kind in DEFAULT_KIND_WEIGHTS
                             if descs[j][kind]]
                p = np.array([max(weights.get(kind, 0), 1e-6)
                              for kind in avail])
                kind = avail[int(rng.choice(len(avail), p=p / p.sum()))]
                d = descs[j][kind][int(rng.integers(len(descs[j][kind])))]
                found = resolve(d, objs, img_size, -margin)
                if found != [objs[j]]:  # pragma: no cover - internal check
                    raise RuntimeError(
                        f'synthetic sentence for scene {sid} does not name '
                        f'exactly one object: {d}')
                text = _sentence(kind, d, objs[j], rng)
                ident = f'{sid}_{k}'
                _imwrite(osp.join(img_dir, ident + '.tif'), img_bgr)
                _imwrite(osp.join(mask_dir, ident + '.tif'),
                         objs[j].mask.astype(np.uint8) * 255)
                lines.append(f'{ident} {text}')
                kinds[kind] += 1
                samples.append(dict(
                    id=ident, split=split, scene=sid, text=text, kind=kind,
                    desc=d, target=j,
                    objects=[o.to_dict() for o in objs]))
            n_objs += len(objs)
            scene_idx += 1
        with open(osp.join(out_dir, f'output_phrase_{split}.txt'), 'w',
                  encoding='utf-8', newline='\n') as f:
            f.write(''.join(line + '\n' for line in lines))
        splits_summary[split] = dict(
            num_images=n_split, num_samples=len(lines),
            mean_objects=(n_objs / n_split) if n_split else 0.0,
            kinds=kinds)
    return dict(out_dir=out_dir, img_size=img_size, seed=seed,
                splits=splits_summary, samples=samples)
