"""Write the tiny dataset fixtures under ``tests/data/`` in the released
on-disk formats of RRSIS-D, RefSegRS and RISBench.

    python tests/data/make_fixtures.py          # rewrite all three

Images are 32x32 (the releases are 800x800 / 512x512) so that every file
is a few KB; nothing in the loaders depends on the size. Everything is
deterministic. The shapes of the referred objects are listed in
:data:`RRSISD_REFS`, :data:`REFSEGRS_LINES` and :data:`RISBENCH_LINES`, so
the tests can rebuild the expected masks independently of the files.

Formats (see docs/datasets.md for the sources):

- RRSIS-D: ``rrsisd/refs(unc).p`` (a pickled list of ref dicts),
  ``rrsisd/instances.json`` (COCO: ``images``, ``annotations`` with
  ``categories_id`` (sic), ``bbox`` as x1,y1,x2,y2, ``segmentation`` as a
  list holding one compressed RLE, like the release; two annotations use
  polygons and one a bare uncompressed RLE dict to cover the other COCO
  forms), ``images/rrsisd/JPEGImages/NNNNN.jpg``.
- RefSegRS: ``images/<id>.tif`` (RGB), ``masks/<id>.tif`` (8-bit grey with
  soft edges: values 30 outside the core, so ``> 50`` matters),
  ``output_phrase_{split}.txt`` with ``<id> <expression>``.
- RISBench: ``img_rgb/<file>.png``, ``mask/<file>.png`` (0/255),
  ``output_phrase_{split}.txt`` with ``<file> <expression>``; val lines
  name ``train_*`` files as in the release; one test mask is empty.
"""
import json
import os
import os.path as osp
import pickle
import shutil
import sys

import cv2
import numpy as np

HERE = osp.dirname(osp.abspath(__file__))
SIZE = 32

# shape: ('rect', x0, y0, x1, y1) -> pixels x0 <= x < x1, y0 <= y < y1
# RRSIS-D refs: (ref_id, split, [sentences], shape, encoding)
RRSISD_REFS = [
    (101, 'train', ['the storage tank on the left'], ('rect', 2, 4, 12, 14),
     'rle_list'),
    (102, 'train', ['the vehicle at the bottom right',
                    'a small car near the corner'], ('rect', 20, 22, 30, 30),
     'rle_list'),
    (103, 'train', ['the large airport'], ('rect', 4, 2, 28, 20), 'polygon'),
    (104, 'train', ['a bridge in the middle'], ('rect', 0, 12, 32, 18),
     'rle_uncompressed'),
    (201, 'val', ['the ship at the top'], ('rect', 10, 1, 20, 8),
     'rle_list'),
    (202, 'val', ['the windmill on the right'], ('rect', 24, 8, 30, 26),
     'polygon'),
    (301, 'test', ['the tennis court in the center'],
     ('rect', 8, 8, 24, 24), 'rle_list'),
    (302, 'test', ['the chimney at the lower left'], ('rect', 2, 20, 8, 30),
     'rle_list'),
]
RRSISD_CATEGORIES = [
    'Expressway-Service-area', 'Expressway-toll-station', 'airplane',
    'airport', 'baseballfield', 'basketballcourt', 'bridge', 'chimney',
    'dam', 'golffield', 'groundtrackfield', 'harbor', 'overpass', 'ship',
    'stadium', 'storagetank', 'tenniscourt', 'trainstation', 'vehicle',
    'windmill'
]
# RefSegRS lines: (split, id, expression, shape); an id names one image /
# mask pair, so lines repeating an id describe the same object
REFSEGRS_LINES = [
    ('train', '4213', 'van driving on the road', ('rect', 4, 4, 14, 10)),
    ('train', '4213', 'the vehicle on the road', ('rect', 4, 4, 14, 10)),
    ('train', '577', 'low vegetation', ('rect', 0, 0, 32, 12)),
    ('train', '90', 'car parked on the left', ('rect', 2, 12, 10, 20)),
    ('val', '12', 'the road marking', ('rect', 12, 0, 16, 32)),
    ('val', '13', 'trees along the sidewalk', ('rect', 20, 4, 30, 28)),
    ('test', '2001', 'a truck on the road', ('rect', 6, 6, 16, 12)),
    ('test', '2002', 'the bikeway', ('rect', 0, 24, 32, 28)),
]
# RISBench lines: (split, file, expression, shape or None for empty)
RISBENCH_LINES = [
    ('train', 'train_0_0.png', 'the airplane parked at the top left of the '
     'image', ('rect', 2, 2, 12, 10)),
    ('train', 'train_0_1.png', 'the storage tank located in the middle',
     ('rect', 12, 12, 20, 20)),
    ('train', 'train_1_0.png', 'a white ship docked at the harbor on the '
     'right side', ('rect', 22, 4, 30, 28)),
    ('train', 'train_2_0.png', 'the large soccer ball field',
     ('rect', 4, 8, 28, 24)),
    ('val', 'train_3_0.png', 'the helipad at the bottom',
     ('rect', 10, 22, 18, 30)),
    ('val', 'train_3_1.png', 'the vehicle on the road at the left',
     ('rect', 1, 14, 6, 18)),
    ('test', 'test_0_0.png', 'the round storage tank at the upper right',
     ('rect', 20, 2, 30, 12)),
    ('test', 'test_1_0.png', 'the chimney next to the factory', None),
]


def shape_mask(shape, size=SIZE) -> np.ndarray:
    """uint8 {0, 1} mask of a shape (all zeros for None)."""
    mask = np.zeros((size, size), np.uint8)
    if shape is not None:
        _, x0, y0, x1, y1 = shape
        mask[y0:y1, x0:x1] = 1
    return mask


def _image(seed: int, mask: np.ndarray) -> np.ndarray:
    """A BGR image: smooth noise with the object brighter."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 120, (SIZE // 4, SIZE // 4, 3)).astype(np.uint8)
    img = cv2.resize(base, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    img[mask > 0] = np.clip(img[mask > 0].astype(int) + 100, 0, 255)
    return img


def _reset(root: str) -> None:
    if osp.isdir(root):
        shutil.rmtree(root)
    os.makedirs(root)


def make_rrsisd(root: str) -> None:
    from pycocotools import mask as mask_utils
    _reset(root)
    img_dir = osp.join(root, 'images', 'rrsisd', 'JPEGImages')
    os.makedirs(img_dir)
    os.makedirs(osp.join(root, 'rrsisd'))
    refs, images, anns = [], [], []
    sent_id = 1000
    for i, (ref_id, split, sents, shape, enc) in enumerate(RRSISD_REFS):
        image_id = ann_id = ref_id  # as in the release (ids coincide)
        file_name = f'{image_id:05d}.jpg'
        mask = shape_mask(shape)
        cv2.imwrite(osp.join(img_dir, file_name), _image(i, mask),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        _, x0, y0, x1, y1 = shape
        if enc == 'polygon':
            segm = [[float(x0), float(y0), float(x1), float(y0), float(x1),
                     float(y1), float(x0), float(y1)]]
        else:
            rle = mask_utils.encode(np.asfortranarray(mask))
            rle = dict(size=[int(s) for s in rle['size']],
                       counts=rle['counts'].decode('ascii'))
            if enc == 'rle_list':
                segm = [rle]
            else:  # uncompressed: run lengths in column-major order
                flat = mask.flatten(order='F')
                counts, cur, run = [], 0, 0
                for v in flat:
                    if v != cur:
                        counts.append(run)
                        cur, run = v, 0
                    run += 1
                counts.append(run)
                segm = dict(size=[SIZE, SIZE], counts=counts)
        category = i % len(RRSISD_CATEGORIES)
        anns.append(dict(bbox=[x0, y0, x1, y1], categories_id=category,
                         id=ann_id, image_id=image_id, segmentation=segm,
                         area=int(mask.sum())))
        images.append(dict(file_name=file_name, height=SIZE, width=SIZE,
                           id=image_id))
        sentences = []
        for s in sents:
            sentences.append(dict(tokens=s.split(), raw=s, sent_id=sent_id,
                                  sent=s.lower()))
            sent_id += 1
        refs.append(dict(image_id=image_id, split=split, sentences=sentences,
                         file_name=file_name, category_id=category,
                         ann_id=ann_id,
                         sent_ids=[x['sent_id'] for x in sentences],
                         ref_id=ref_id))
    with open(osp.join(root, 'rrsisd', 'refs(unc).p'), 'wb') as f:
        pickle.dump(refs, f, protocol=2)
    categories = [dict(name=n, id=i) for i, n in enumerate(RRSISD_CATEGORIES)]
    with open(osp.join(root, 'rrsisd', 'instances.json'), 'w') as f:
        json.dump(dict(images=images, annotations=anns,
                       categories=categories), f)


def make_refsegrs(root: str) -> None:
    _reset(root)
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'masks'))
    lines = {'train': [], 'val': [], 'test': []}
    masks = {}
    for split, sid, text, shape in REFSEGRS_LINES:
        lines[split].append(f'{sid} {text}')
        masks.setdefault(sid, []).append(shape)
    for i, (sid, shapes) in enumerate(sorted(masks.items())):
        mask = shape_mask(shapes[0])
        grey = np.where(mask > 0, 255, 0).astype(np.uint8)
        halo = cv2.dilate(mask, np.ones((3, 3), np.uint8)) - mask
        grey[halo > 0] = 30  # soft edge, below the > 50 threshold
        cv2.imwrite(osp.join(root, 'masks', f'{sid}.tif'), grey)
        cv2.imwrite(osp.join(root, 'images', f'{sid}.tif'),
                    _image(100 + i, mask))
    for split, rows in lines.items():
        with open(osp.join(root, f'output_phrase_{split}.txt'), 'w') as f:
            f.write('\n'.join(rows) + '\n')


def make_risbench(root: str) -> None:
    _reset(root)
    os.makedirs(osp.join(root, 'img_rgb'))
    os.makedirs(osp.join(root, 'mask'))
    lines = {'train': [], 'val': [], 'test': []}
    for i, (split, name, text, shape) in enumerate(RISBENCH_LINES):
        lines[split].append(f'{name} {text}')
        mask = shape_mask(shape)
        cv2.imwrite(osp.join(root, 'mask', name), mask * 255)
        cv2.imwrite(osp.join(root, 'img_rgb', name), _image(200 + i, mask))
    for split, rows in lines.items():
        with open(osp.join(root, f'output_phrase_{split}.txt'), 'w') as f:
            f.write('\n'.join(rows) + '\n')


def refsegrs_expected_mask(sid: str) -> np.ndarray:
    """The {0, 1} mask stored for a RefSegRS id."""
    for _, line_id, _, shape in REFSEGRS_LINES:
        if line_id == sid:
            return shape_mask(shape)
    raise KeyError(sid)


def main(argv=None) -> None:
    out = (argv or sys.argv[1:] or [HERE])[0]
    make_rrsisd(osp.join(out, 'rrsisd'))
    make_refsegrs(osp.join(out, 'refsegrs'))
    make_risbench(osp.join(out, 'risbench'))
    print(f'fixtures written under {out}')


if __name__ == '__main__':
    main()
