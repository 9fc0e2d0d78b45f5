"""Serve a web page: upload an image or GeoTIFF, type a sentence, see the
mask and download it.

Example::

    pip install -r requirements/web.txt   # gradio (an optional extra)
    python demo/web_demo.py work_dirs/demo/crobim_tiny_synthetic.py \\
        work_dirs/demo/iter_3000.pth --port 7860
    # then open http://127.0.0.1:7860

The page draws the prediction with the demos' overlay (cyan fill and
contour, the sentence above) and offers the mask as a GeoTIFF with the
input's CRS and transform when the input is georeferenced, else as a PNG.
Images larger than ``--max-side`` are segmented by windows
(``inference_scene``). A few synthetic examples (drawn by the synthetic
generator at the model's input size) fill the gallery. Bad input (no image,
empty sentence, unreadable file) is reported on the page.

``--host 0.0.0.0`` serves other machines; there is no login, so do so only
on a trusted network.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Web demo of referring segmentation (Gradio)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=7860,
                        help='port (default 7860)')
    parser.add_argument('--device', default='cpu',
                        help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--work-dir', default=None,
        help='folder for the masks served for download and the examples '
        '(default: a new temporary folder)')
    parser.add_argument('--num-examples', type=int, default=4,
                        help='synthetic examples in the gallery (0: none)')
    parser.add_argument(
        '--max-side', type=int, default=None,
        help='images with a longer side are segmented by windows '
        '(inference_scene); default 2048')
    args = parser.parse_args(argv)
    for what, path in (('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            parser.error(f'{what} file not found: {path}')
    if not 0 < args.port < 65536:
        parser.error(f'--port must lie in 1..65535, got {args.port}')
    return args


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO_ROOT)
    # no usage reports from a demo (and none reachable offline)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit('web_demo: gradio is not installed: pip install -r '
                         'requirements/web.txt') from None
    import mmrrsis  # noqa: F401  (compat shims + registration)
    from mmrrsis.apis import init_model
    from mmrrsis.apis.scene_inference import model_input_size
    from mmrrsis.apis.web_app import (DEFAULT_MAX_SIDE, build_app,
                                      launch_theme, make_examples)

    work_dir = args.work_dir or tempfile.mkdtemp(prefix='mmrrsis_web_')
    model = init_model(args.config, args.checkpoint, device=args.device)
    examples = []
    if args.num_examples > 0:
        examples = make_examples(
            osp.join(work_dir, 'examples'), num=args.num_examples,
            img_size=max(64, model_input_size(model)))
    app = build_app(model, work_dir=work_dir, examples=examples,
                    max_side=args.max_side or DEFAULT_MAX_SIDE)
    print(f'web_demo: outputs in {work_dir}', flush=True)
    app.queue(default_concurrency_limit=1).launch(
        server_name=args.host, server_port=args.port, show_error=True,
        ssr_mode=False, theme=launch_theme(), allowed_paths=[work_dir],
        footer_links=[])


if __name__ == '__main__':
    main()
