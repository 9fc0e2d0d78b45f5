"""Write a synthetic referring segmentation set in the RefSegRS layout.

Example::

    python tools/misc/make_synthetic_refseg.py data/synthetic_refseg \
        --img-size 96 --num-train 1500 --num-val 100 --num-test 100

The folder can then be read with ``RefSegRSDataset(data_root=OUT_DIR)``.
"""
import argparse
import os.path as osp
import sys

# Allow running from a source checkout without installing the package.
_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate a synthetic referring remote sensing '
        'segmentation dataset (RefSegRS layout).')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--img-size', type=int, default=96, help='square image size')
    parser.add_argument(
        '--num-train', type=int, default=1500, help='training scenes')
    parser.add_argument(
        '--num-val', type=int, default=100, help='validation scenes')
    parser.add_argument(
        '--num-test', type=int, default=100, help='test scenes')
    parser.add_argument(
        '--exprs-per-image', type=int, nargs=2, default=(2, 3),
        metavar=('MIN', 'MAX'),
        help='sentences (each naming a different object) per scene')
    parser.add_argument(
        '--objects-per-image', type=int, nargs=2, default=(3, 5),
        metavar=('MIN', 'MAX'), help='objects per scene')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='replace an existing generated set in OUT_DIR')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    # Import the generator module directly: it only needs numpy and OpenCV.
    from mmrrsis.datasets.synthetic import generate_synthetic_refseg
    summary = generate_synthetic_refseg(
        args.out_dir,
        num_images=dict(
            train=args.num_train, val=args.num_val, test=args.num_test),
        img_size=args.img_size,
        seed=args.seed,
        exprs_per_image=tuple(args.exprs_per_image),
        objects_per_image=tuple(args.objects_per_image),
        overwrite=args.overwrite)
    print(f"Wrote {summary['out_dir']} (img_size={summary['img_size']}, "
          f"seed={summary['seed']})")
    print(f"{'split':<6} {'images':>7} {'samples':>8} {'objects/img':>12}  "
          'sentence kinds')
    for split, info in summary['splits'].items():
        kinds = ', '.join(f'{k}={v}' for k, v in info['kinds'].items())
        print(f"{split:<6} {info['num_images']:>7} {info['num_samples']:>8} "
              f"{info['mean_objects']:>12.2f}  {kinds}")
    if summary['samples']:
        ex = summary['samples'][0]
        print(f"example: {ex['id']}: \"{ex['text']}\" "
              f"(images/{ex['id']}.tif, masks/{ex['id']}.tif)")
    return summary


if __name__ == '__main__':
    main()
