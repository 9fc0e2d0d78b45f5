"""File writer of the synthetic set: the RefSegRS layout on disk."""
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .scene import (CATEGORY_SHAPES, COLOURS, DEFAULT_CATEGORIES,
                    DEFAULT_COLOURS, make_scene)
from .sentences import (DEFAULT_KIND_WEIGHTS, candidate_descs, render_sentence,
                        resolve)

SPLITS = ('train', 'val', 'test')
_SPLIT_CODE = {'train': 0, 'val': 1, 'test': 2}


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
                scene = make_scene(rng, img_size, categories, colours,
                                   (o_lo, o_hi), shared_category_prob)
                if scene is None:
                    continue
                img, objs = scene
                descs = [candidate_descs(o, objs, img_size, margin)
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
                text = render_sentence(kind, d, objs[j], rng)
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
