"""Segment what a sentence refers to in one image and save an overlay.

Example::

    python demo/image_demo.py scene.tif "the red building on the left" \\
        configs/lavt/lavt_tiny_synthetic.py \\
        work_dirs/lavt_tiny_synthetic/iter_2000.pth \\
        --out-file result.png --device cpu

The output PNG holds the sentence (as the model read it: cut at the token
limit when longer) in a banner above the image with the predicted mask
(red). The fraction of the image covered by the mask is printed. The image
is decoded before the model is built, so a corrupt file fails in seconds.
"""
import argparse
import os
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Referring segmentation of one image and one sentence')
    parser.add_argument('img', help='image file (PNG, JPG, TIFF, ...)')
    parser.add_argument('text', help='the referring expression')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-file', default=None,
        help='where to write the overlay (PNG); defaults to '
        '<image stem>_referring.png in the current directory')
    parser.add_argument('--device', default='cpu',
                        help='device, e.g. cpu or cuda:0')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='mask opacity in (0, 1]')
    args = parser.parse_args(argv)
    # fail fast, before the (slow) imports, naming what is missing
    for what, path in (('image', args.img), ('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{what} file not found: {path}')
    if not args.text.strip():
        parser.error('the sentence is empty')
    if not 0 < args.opacity <= 1:
        parser.error(f'--opacity must lie in (0, 1], got {args.opacity}')
    return args


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO_ROOT)
    import cv2
    import numpy as np

    import mmrrsis  # noqa: F401  (compat shims + registration)
    from mmrrsis.datasets.transforms import read_rs_image

    # decode the image before the (slow) model build: a corrupt file is
    # reported in seconds, not after the model has loaded
    try:
        bgr = read_rs_image(args.img, caller='image_demo')
    except (OSError, ValueError) as err:
        raise SystemExit(f'image_demo: {err}') from None

    from mmrrsis.apis import inference_model, init_model
    from mmrrsis.visualization import draw_referring_overlay

    model = init_model(args.config, args.checkpoint, device=args.device)
    result = inference_model(model, bgr, args.text)
    mask = result.pred_sem_seg.data[0].cpu().numpy()
    text_read = result.metainfo.get('text_read', args.text)

    drawn = draw_referring_overlay(
        np.ascontiguousarray(bgr[..., ::-1]), args.text, pred_mask=mask,
        alpha=args.opacity, text_read=text_read)

    out_file = args.out_file or (
        osp.splitext(osp.basename(args.img))[0] + '_referring.png')
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    if not cv2.imwrite(out_file, np.ascontiguousarray(drawn[..., ::-1])):
        raise OSError(f'could not write {out_file}')

    if result.metainfo.get('text_truncated'):
        print(f'sentence cut at the token limit '
              f'({result.metainfo["text_num_tokens"]} tokens); the model '
              f'read: {text_read!r}')
    unknown = result.metainfo.get('text_num_unknown', 0)
    words = result.metainfo.get('text_num_words', 0)
    if words and unknown * 2 >= words:
        print(f'warning: {unknown} of {words} tokens of the sentence are '
              'unknown to the text encoder; the mask cannot follow them')
    area = int(np.count_nonzero(mask == 1))
    print(f'mask area: {area / mask.size:.4f} of the image '
          f'({area}/{mask.size} pixels)')
    print(f'overlay written to {out_file}')


if __name__ == '__main__':
    main()
