"""Draw dataset samples with their sentence and mask, as the model sees them.

Each sample goes through the split's pipeline from the config (so the
train split shows the training transforms) and is drawn with
``draw_referring_overlay``: the expression in a banner above the image with
the ground-truth mask in green. One png per sample,
``{image stem}_s{sample index}.png``.

    python tools/analysis_tools/browse_dataset.py \
        configs/lavt/lavt_swinb_rrsisd.py --split val --num 20 \
        --output-dir work_dirs/browse_rrsisd
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from dataset_stats import build_split  # noqa: E402  (also registers)
from mmengine.config import DictAction  # noqa: E402

from mmrrsis.apis.runtime import load_config  # noqa: E402
from mmrrsis.visualization import draw_referring_overlay  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw referring samples (sentence + mask)')
    parser.add_argument('config', help='config whose dataloader is read')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val', 'test'])
    parser.add_argument('--output-dir', required=True,
                        help='folder for the drawn pngs')
    parser.add_argument('--num', type=int, default=10,
                        help='number of samples (from --start)')
    parser.add_argument('--start', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument(
        '--data-root', default=None,
        help='the dataset folder, for every split (as tools/train.py and '
        'tools/test.py)')
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    cfg = load_config(args.config, cfg_options=args.cfg_options,
                      data_root=args.data_root)
    dataset = build_split(cfg, args.split)
    os.makedirs(args.output_dir, exist_ok=True)
    written = []
    stop = min(len(dataset), args.start + args.num)
    for idx in range(args.start, stop):
        item = dataset[idx]
        sample = item['data_samples']
        bgr = item['inputs'].permute(1, 2, 0).numpy().astype(np.uint8)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        gt = sample.gt_sem_seg.data[0].numpy() if 'gt_sem_seg' in sample \
            else None
        text = sample.metainfo.get('text', '')
        drawn = draw_referring_overlay(rgb, text, gt_mask=gt)
        stem = osp.splitext(osp.basename(sample.metainfo['img_path']))[0]
        out = osp.join(args.output_dir, f'{stem}_s{idx}.png')
        cv2.imwrite(out, drawn[..., ::-1])
        written.append(out)
        area = int((gt == 1).sum()) if gt is not None else -1
        print(f'[{idx}] ref {sample.metainfo.get("ref_id")!r} '
              f'mask px {area}: {text}')
    print(f'{len(written)} samples drawn in {args.output_dir}')
    return written


if __name__ == '__main__':
    main()
