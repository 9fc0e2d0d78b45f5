"""Referring segmentation of a large scene: georeferenced mask, polygons and
an overlay picture.

Example::

    python demo/scene_demo.py scene.tif "the red vehicle at the bottom left" \\
        work_dirs/demo/crobim_tiny_synthetic.py work_dirs/demo/iter_3000.pth \\
        --out-dir out/

writes ``out/scene_mask.tif`` (single band, 1 = target, the scene's CRS and
transform), ``out/scene_polygons.geojson`` (the mask's polygons in the
scene's CRS, with the sentence and score) and ``out/scene_overlay.png``
(the downscaled scene, the mask and the sentence), and prints a summary.
The scene may be of any size (read by windows), 1 or more bands, uint8 or
uint16; a PNG or JPEG works too (pixel coordinates, no CRS).

Modes (``--mode``): ``global_refine`` (default: the downscaled scene
locates the target with the whole sentence, native-resolution windows
refine its outline), ``whole`` (the scene resized to the network input)
and ``sliding`` (native windows over the whole scene). See
``mmrrsis/apis/scene_inference.py``.
"""
import argparse
import os
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODES = ('global_refine', 'whole', 'sliding')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Referring segmentation of a large raster scene')
    parser.add_argument('scene', help='GeoTIFF, PNG, JPEG, ... (any size)')
    parser.add_argument('text', help='the referring expression')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--mode', default='global_refine', choices=MODES)
    parser.add_argument('--name', default=None,
                        help='stem of the output files (default: the '
                        "scene's file stem)")
    parser.add_argument('--window', type=int, default=None,
                        help="native window side (default: the model's "
                        'input size)')
    parser.add_argument('--overlap', type=int, default=None,
                        help='window overlap in pixels (default: window/3)')
    parser.add_argument('--global-size', type=int, default=None,
                        help="network input side of the global pass "
                        "(default: the config's)")
    parser.add_argument('--overview-size', type=int, default=1024,
                        help='longest side of the overview read for the '
                        'global pass and the picture')
    parser.add_argument('--all-components', action='store_true',
                        help='global_refine: refine every place the global '
                        'pass found, not only the most confident one (for '
                        'sentences naming several objects)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--overwrite', action='store_true',
                        help='write into an output folder that is not '
                        'empty, replacing files of the same names')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    # fail fast, before the (slow) imports, naming what is wrong
    for what, path in (('scene', args.scene), ('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{what} file not found: {path}')
    if not args.text.strip():
        parser.error('the sentence is empty')
    if osp.isfile(args.out_dir):
        parser.error(f'--out-dir is a file: {args.out_dir}')
    if osp.isdir(args.out_dir) and os.listdir(args.out_dir) and \
            not args.overwrite:
        parser.error(f'output folder exists and is not empty: '
                     f'{args.out_dir} (pass --overwrite to write into it, '
                     'or choose a new folder)')
    return args


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO_ROOT)
    import mmrrsis  # noqa: F401  (compat shims + registration)
    from mmrrsis.apis import SceneReader, inference_scene, init_model

    # open the raster before the (slow) model build: a corrupt file is
    # reported in seconds
    try:
        with SceneReader(args.scene, overview_size=args.overview_size) as r:
            print(f'scene: {args.scene}: {r.width} x {r.height} pixels, '
                  f'{r.count} band(s), {r.dtype}, CRS '
                  f'{r.crs.to_string() if r.crs else "none"}')
    except (OSError, ValueError) as err:
        raise SystemExit(f'scene_demo: {err}') from None

    model = init_model(args.config, args.checkpoint, device=args.device)
    try:
        res = inference_scene(
            model, args.scene, args.text, args.out_dir, mode=args.mode,
            name=args.name, window=args.window, overlap=args.overlap,
            global_size=args.global_size, overview_size=args.overview_size,
            batch_size=args.batch_size, overwrite=args.overwrite,
            select_ratio=None if args.all_components else 1.0,
            progress=not args.no_progress)
    except (OSError, ValueError) as err:
        raise SystemExit(f'scene_demo: {err}') from None
    for note in res.notes:
        print(f'note: {note}')
    if res.text_truncated:
        print(f'note: the sentence passes the token limit; the model read: '
              f'{res.text_read!r}')
    print(f'mode: {res.mode}; windows run: {res.windows}; windows told: '
          f'{res.window_text!r}')
    print(f'mask area: {res.area_px} pixels ({res.area_fraction:.5f} of the '
          f'scene), {res.num_polygons} polygon(s), score {res.score:.3f}, '
          f'{res.seconds:.1f} s')
    print(f'mask:     {res.mask_path}')
    print(f'polygons: {res.polygons_path}')
    print(f'overlay:  {res.overlay_path}')


if __name__ == '__main__':
    main()
