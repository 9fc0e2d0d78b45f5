"""Scene renderer of the synthetic referring set.

:func:`make_scene` draws a small aerial-looking scene: textured ground
(grass, soil or crop fields, sometimes a road), then 3-5 objects of a few
categories (building, storage tank, vehicle, airplane, pool), colours and two
sizes, with shadows. It returns the image and the objects, each with its mask
and centroid (:class:`SynthObject`); what to say about them is
:mod:`.sentences`' job. All randomness comes from the ``rng`` passed in.
"""
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

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

SMALL_SCALE = 0.62  # linear size of 'small' objects relative to 'large'


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
    poly = np.array([(-length / 2 + c, -width / 2),
                     (length / 2 - c, -width / 2),
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


def make_scene(rng: np.random.Generator, size: int,
               categories: Sequence[str], colours: Sequence[str],
               objects_per_image: Tuple[int, int],
               shared_category_prob: float
               ) -> Optional[Tuple[np.ndarray, List[SynthObject]]]:
    """Draw one scene.

    Args:
        rng (np.random.Generator): The only source of randomness.
        size (int): Square image size in pixels.
        categories (Sequence[str]): Categories to draw from (keys of
            :data:`CATEGORY_SHAPES`).
        colours (Sequence[str]): Colours to draw from (keys of
            :data:`COLOURS`).
        objects_per_image (tuple[int, int]): (min, max) objects.
        shared_category_prob (float): Probability of two objects of one
            category.

    Returns:
        tuple | None: The RGB image (uint8, (S, S, 3)) and its objects (with
        masks and centroids), or None when the objects could not be placed.
    """
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
