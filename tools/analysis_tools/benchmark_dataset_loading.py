"""Time how long a 17k-sample split takes to load, per released format.

Writes a synthetic annotation set in the released on-disk format into a
temporary folder and times building the dataset (``load_data_list`` plus
MMEngine's serialisation), with the checks the configs turn on:

- RRSIS-D: ``refs(unc).p`` with N refs in one split, ``instances.json``
  with N annotations holding compressed RLE masks of 800x800 (drawn from a
  pool of 64 distinct random blobs, so the json has the release's size
  per annotation), N placeholder images; ``check_files=True`` and
  ``check_masks=True`` (mask areas from the RLE);
- RISBench and RefSegRS: a phrase file of N lines and N placeholder image
  and mask files; ``check_files=True`` (masks are not read).

Placeholder files are empty: loading never opens images.

    python tools/analysis_tools/benchmark_dataset_loading.py --num 17402
"""
import argparse
import json
import os
import os.path as osp
import pickle
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
from mmrrsis.datasets import (RefSegRSDataset, RISBenchDataset,  # noqa: E402
                              RRSISDDataset)


def _touch_all(folder: str, names) -> None:
    os.makedirs(folder, exist_ok=True)
    for name in names:
        open(osp.join(folder, name), 'wb').close()


def write_rrsisd(root: str, num: int, size: int = 800) -> None:
    """A RRSIS-D-format set with ``num`` refs, all in split 'train'."""
    import cv2
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(0)
    pool = []
    for _ in range(64):
        mask = np.zeros((size, size), np.uint8)
        cx, cy = rng.integers(50, size - 50, 2)
        ax, ay = rng.integers(5, 200, 2)
        cv2.ellipse(mask, (int(cx), int(cy)), (int(ax), int(ay)),
                    float(rng.uniform(0, 180)), 0, 360, 1, -1)
        rle = mask_utils.encode(np.asfortranarray(mask))
        pool.append(dict(size=[size, size],
                         counts=rle['counts'].decode('ascii')))
    refs, images, anns, names = [], [], [], []
    for i in range(num):
        name = f'{i:05d}.jpg'
        names.append(name)
        text = f'the storage tank number {i} on the left of the image'
        refs.append(dict(image_id=i, split='train', sentences=[dict(
            tokens=text.split(), raw=text, sent_id=i, sent=text)],
            file_name=name, category_id=15, ann_id=i, sent_ids=[i],
            ref_id=i))
        images.append(dict(file_name=name, height=size, width=size, id=i))
        anns.append(dict(bbox=[0, 0, 10, 10], categories_id=15, id=i,
                         image_id=i, segmentation=[pool[i % len(pool)]],
                         area=1))
    os.makedirs(osp.join(root, 'rrsisd'))
    with open(osp.join(root, 'rrsisd', 'refs(unc).p'), 'wb') as f:
        pickle.dump(refs, f)
    with open(osp.join(root, 'rrsisd', 'instances.json'), 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=[]), f)
    _touch_all(osp.join(root, 'images', 'rrsisd', 'JPEGImages'), names)


def write_phrase_set(root: str, num: int, img_dir: str, mask_dir: str,
                     suffix: str, with_ext: bool) -> None:
    names = [f'train_{i}_0{suffix}' for i in range(num)]
    with open(osp.join(root, 'output_phrase_train.txt'), 'w') as f:
        for i, name in enumerate(names):
            token = name if with_ext else osp.splitext(name)[0]
            f.write(f'{token} the large white building number {i} near '
                    'the road\n')
    _touch_all(osp.join(root, img_dir), names)
    _touch_all(osp.join(root, mask_dir), names)


def time_it(build, repeats: int = 3) -> tuple:
    """(best seconds, dataset) over ``repeats`` builds."""
    best, ds = float('inf'), None
    for _ in range(repeats):
        tic = time.perf_counter()
        ds = build()
        best = min(best, time.perf_counter() - tic)
    return best, ds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=17402,
                        help='samples in the split (RRSIS-D total: 17402)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--datasets', nargs='+',
                        default=['rrsisd', 'risbench', 'refsegrs'],
                        choices=['rrsisd', 'risbench', 'refsegrs'])
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            root = osp.join(tmp, name)
            os.makedirs(root)
            tic = time.perf_counter()
            if name == 'rrsisd':
                write_rrsisd(root, args.num)

                def build():
                    return RRSISDDataset(root, split='train',
                                         check_files=True, check_masks=True)
            elif name == 'risbench':
                write_phrase_set(root, args.num, 'img_rgb', 'mask', '.png',
                                 with_ext=True)

                def build():
                    return RISBenchDataset(root, split='train',
                                           check_files=True)
            else:
                write_phrase_set(root, args.num, 'images', 'masks', '.tif',
                                 with_ext=False)

                def build():
                    return RefSegRSDataset(root, split='train',
                                           check_files=True)
            made = time.perf_counter() - tic
            seconds, ds = time_it(build, args.repeats)
            assert len(ds) == args.num, (name, len(ds))
            results[name] = seconds
            print(f'{name}: {len(ds)} samples loaded in {seconds:.2f} s '
                  f'(best of {args.repeats}; synthesis took {made:.1f} s)')
    return results


if __name__ == '__main__':
    main()
