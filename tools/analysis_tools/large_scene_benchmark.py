"""Large-scene benchmark of the inference modes of ``inference_scene``.

Scenes several times the training size are composited from the synthetic
generator's tiles: a K x K mosaic of training-size tiles (96 px by default)
in which a few tiles hold objects (at the size the model was trained on,
so targets are small in the scene) and the others are bare ground. Each
scene gets sentences about the *whole* scene, checked by the generator's
grammar to name exactly one object among all the mosaic's objects:
absolute positions ("the vehicle at the bottom left", thirds of the whole
scene), size comparisons ("the large building") and, as a control, colour
("the red tank"). Scenes are written as GeoTIFFs with a CRS; each mode runs
through :func:`mmrrsis.apis.inference_scene` and its GeoTIFF mask is
scored.

    python tools/analysis_tools/large_scene_benchmark.py CONFIG CKPT \\
        --scales 4 8 --scenes 12 --out-dir work_dirs/large_scene_bench

Reported per mode: oIoU over all sentences and per kind, mean IoU, time per
scene (model already loaded), and peak resident memory above the loaded
model while the scene runs (sampled every 5 ms from /proc). ``--big N``
also runs one N x N pixel, 4-band uint16 scene (e.g. 10000) in the modes
that scale (whole, global_refine) to show time and memory there.
"""
import argparse
import json
import os
import os.path as osp
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KINDS = ('position', 'size', 'colour')


# ----------------------------------------------------------------- scenes
def _ground(rng, size: int) -> np.ndarray:
    """Bare synthetic ground (uint8 RGB)."""
    try:
        from mmrrsis.datasets.synthetic.scene import _render_ground
        img = _render_ground(rng, size)
    except ImportError:  # generator reorganised: plain textured grass
        img = np.full((size, size, 3), (85, 115, 60), np.float32)
        img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_large_scene(rng, scale: int, tile: int = 96,
                     object_tiles: Optional[int] = None):
    """A ``scale x scale`` mosaic of ``tile``-px synthetic tiles.

    Returns:
        tuple: RGB image (uint8), objects (``SynthObject`` in whole-scene
        coordinates, with full-size masks).
    """
    from mmrrsis.datasets.synthetic import (DEFAULT_CATEGORIES,
                                            DEFAULT_COLOURS, make_scene)
    size = scale * tile
    n_obj = object_tiles or max(3, scale)
    chosen = set(rng.choice(scale * scale, size=min(n_obj, scale * scale),
                            replace=False).tolist())
    img = np.zeros((size, size, 3), np.uint8)
    objs = []
    for t in range(scale * scale):
        ty, tx = divmod(t, scale)
        y0, x0 = ty * tile, tx * tile
        if t in chosen:
            drawn = None
            while drawn is None:
                drawn = make_scene(rng, tile, DEFAULT_CATEGORIES,
                                   DEFAULT_COLOURS, (1, 2), 0.0)
            part, tile_objs = drawn
            for o in tile_objs:
                full = np.zeros((size, size), bool)
                full[y0:y0 + tile, x0:x0 + tile] = o.mask
                o.mask = full
                o.cx += x0
                o.cy += y0
                objs.append(o)
        else:
            part = _ground(rng, tile)
        img[y0:y0 + tile, x0:x0 + tile] = part
    return img, objs


def scene_sentences(rng, objs, size: int, per_scene: int = 2
                    ) -> List[Tuple[str, str, int]]:
    """(kind, sentence, object index): whole-scene sentences, preferring
    positions and size comparisons, one object per sentence."""
    from mmrrsis.datasets.synthetic import candidate_descs, render_sentence
    margin = 0.06 * size
    options = []
    for i, o in enumerate(objs):
        descs = candidate_descs(o, objs, size, margin)
        for kind in KINDS:
            if descs.get(kind):
                options.append((kind, i, descs[kind]))
    out, used = [], set()
    for want in KINDS:
        for kind, i, descs in options:
            if len(out) >= per_scene:
                break
            if kind != want or i in used:
                continue
            d = descs[int(rng.integers(len(descs)))]
            out.append((kind, render_sentence(kind, d, objs[i], rng), i))
            used.add(i)
            break
    return out


def write_geotiff(path: str, rgb: np.ndarray, uint16: bool = False) -> None:
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    h, w = rgb.shape[:2]
    data = np.moveaxis(rgb, -1, 0)
    if uint16:
        data = data.astype(np.uint16) * 40 + 300
    with rasterio.open(path, 'w', driver='GTiff', height=h, width=w,
                       count=data.shape[0], dtype=data.dtype,
                       crs=CRS.from_epsg(32633),
                       transform=from_origin(600000, 5000000, 0.3, 0.3),
                       tiled=True, blockxsize=256, blockysize=256,
                       compress='deflate') as dst:
        dst.write(data)


# ----------------------------------------------------------------- memory
class PeakRSS:
    """Peak resident memory of this process while in the ``with`` block,
    minus the resident memory at its start (sampled from /proc)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = self.start = 0

    @staticmethod
    def rss() -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __enter__(self) -> 'PeakRSS':
        self.start = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def above_start_mb(self) -> float:
        return (self.peak - self.start) / 2**20


# ------------------------------------------------------------------ main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--scales', type=int, nargs='+', default=[4, 8],
                   help='mosaic sides in tiles (scene = scale x tile px)')
    p.add_argument('--tile', type=int, default=96,
                   help='tile size: the size the model was trained at')
    p.add_argument('--scenes', type=int, default=12,
                   help='scenes per scale (2 sentences each)')
    p.add_argument('--modes', nargs='+',
                   default=['whole', 'sliding', 'global_refine'])
    p.add_argument('--global-sizes', type=int, nargs='+', default=[None],
                   help='network input sides of the global pass to try '
                   "(default: the config's)")
    p.add_argument('--overlap', type=int, default=None)
    p.add_argument('--big', type=int, default=0,
                   help='also one N x N 4-band uint16 scene (time/memory)')
    p.add_argument('--trace-memory', action='store_true',
                   help='instead of scoring: the Python/numpy peak '
                   '(tracemalloc) of each mode on the first scene of each '
                   'scale, and the scene size in memory for comparison')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out-dir', default='work_dirs/large_scene_bench')
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def _iou_parts(pred: np.ndarray, gt: np.ndarray) -> Tuple[int, int]:
    p, g = pred.astype(bool), gt.astype(bool)
    return int((p & g).sum()), int((p | g).sum())


def main(argv=None) -> dict:
    args = parse_args(argv)
    sys.path.insert(0, REPO_ROOT)
    import rasterio

    import mmrrsis  # noqa: F401
    from mmrrsis.apis import inference_scene, init_model
    from mmrrsis.apis.scene_inference import model_input_size
    os.makedirs(args.out_dir, exist_ok=True)
    model = init_model(args.config, args.checkpoint, device=args.device)
    window = model_input_size(model)
    runs = [(m, g) for m in args.modes
            for g in (args.global_sizes if m != 'sliding' else [None])]
    if args.trace_memory:
        return trace_memory(model, args, runs, window)
    stats: Dict[str, dict] = {}
    samples = []
    for scale in args.scales:
        rng = np.random.default_rng([args.seed, scale])
        size = scale * args.tile
        for s in range(args.scenes):
            img, objs = make_large_scene(rng, scale, args.tile)
            sents = scene_sentences(rng, objs, size)
            if not sents:
                continue
            path = osp.join(args.out_dir, f'scene_x{scale}_{s:02d}.tif')
            write_geotiff(path, img)
            for kind, text, idx in sents:
                gt = objs[idx].mask
                rec = dict(scale=scale, scene=path, kind=kind, text=text,
                           target_px=int(gt.sum()), size=size)
                for mode, gsize in runs:
                    key = f'{mode}@{gsize or window}' if mode != \
                        'sliding' else f'sliding@{window}'
                    out = osp.join(args.out_dir, 'out', key)
                    name = f'x{scale}_{s:02d}_{kind}'
                    with PeakRSS() as mem:
                        t0 = time.perf_counter()
                        res = inference_scene(
                            model, path, text, out, mode=mode, name=name,
                            global_size=gsize, overlap=args.overlap,
                            overwrite=True, progress=False)
                        secs = time.perf_counter() - t0
                    with rasterio.open(res.mask_path) as src:
                        pred = src.read(1)
                    inter, union = _iou_parts(pred, gt)
                    st = stats.setdefault(f'x{scale} {key}', dict(
                        I=0, U=0, ious=[], secs=[], mem=[], windows=[],
                        kinds={k: [0, 0] for k in KINDS}))
                    st['I'] += inter
                    st['U'] += union
                    st['kinds'][kind][0] += inter
                    st['kinds'][kind][1] += union
                    st['ious'].append(inter / union if union else 1.0)
                    st['secs'].append(secs)
                    st['mem'].append(mem.above_start_mb)
                    st['windows'].append(res.windows)
                    rec[key] = dict(iou=inter / union if union else 1.0,
                                    seconds=round(secs, 2),
                                    windows=res.windows)
                samples.append(rec)
                print(json.dumps({k: v for k, v in rec.items()
                                  if k != 'scene'}), flush=True)
    table = []
    for key, st in stats.items():
        row = dict(setting=key, n=len(st['ious']),
                   oIoU=100 * st['I'] / max(1, st['U']),
                   mIoU=100 * float(np.mean(st['ious'])),
                   seconds=float(np.mean(st['secs'])),
                   windows=float(np.mean(st['windows'])),
                   peak_mb=float(np.max(st['mem'])))
        for kind, (i, u) in st['kinds'].items():
            row[f'oIoU_{kind}'] = 100 * i / u if u else None
        table.append(row)
    big = []
    if args.big:
        big = run_big(model, args, window)
    report = dict(config=args.config, checkpoint=args.checkpoint,
                  window=window, table=table, big=big, samples=samples)
    with open(osp.join(args.out_dir, 'report.json'), 'w') as f:
        json.dump(report, f, indent=1)
    print_table(table, big)
    return report


def trace_memory(model, args, runs, window) -> List[dict]:
    """Peak of Python/numpy allocations (tracemalloc) per mode, first
    scene of each scale (the model's tensors are not counted)."""
    import tracemalloc

    from mmrrsis.apis import inference_scene
    from mmrrsis.visualization import draw_referring_overlay
    draw_referring_overlay(np.zeros((8, 8, 3), np.uint8), 'warm up fonts')
    out = []
    for scale in args.scales:
        rng = np.random.default_rng([args.seed, scale])
        img, objs = make_large_scene(rng, scale, args.tile)
        sents = scene_sentences(rng, objs, scale * args.tile)
        path = osp.join(args.out_dir, f'mem_x{scale}.tif')
        write_geotiff(path, img)
        for mode, gsize in runs:
            tracemalloc.start()
            inference_scene(model, path, sents[0][1],
                            osp.join(args.out_dir, 'out', 'mem'), mode=mode,
                            name=f'x{scale}_{mode}_{gsize}',
                            global_size=gsize, overwrite=True,
                            progress=False)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            row = dict(scale=scale, mode=mode, net=gsize or window,
                       traced_peak_mb=round(peak / 2**20, 2),
                       scene_mb=round(img.nbytes / 2**20, 2))
            out.append(row)
            print(json.dumps(row), flush=True)
    return out


def run_big(model, args, window) -> List[dict]:
    """One large 4-band uint16 scene: time and memory of whole and
    global_refine (sliding would run every window of the scene)."""
    from mmrrsis.apis import inference_scene
    rng = np.random.default_rng([args.seed, 99])
    n = args.big
    scale = max(1, n // args.tile)
    path = osp.join(args.out_dir, f'big_{n}.tif')
    import rasterio
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    # written tile row by tile row: the benchmark never holds the scene
    with rasterio.open(path, 'w', driver='GTiff', height=scale * args.tile,
                       width=scale * args.tile, count=4, dtype='uint16',
                       crs=CRS.from_epsg(32633),
                       transform=from_origin(600000, 5000000, 0.3, 0.3),
                       tiled=True, blockxsize=256, blockysize=256,
                       compress='deflate') as dst:
        for ty in range(scale):
            strip = np.zeros((4, args.tile, scale * args.tile), np.uint16)
            for tx in range(scale):
                part = _ground(rng, args.tile)
                strip[:3, :, tx * args.tile:(tx + 1) * args.tile] = \
                    np.moveaxis(part, -1, 0).astype(np.uint16) * 40 + 300
            strip[3] = 1000
            dst.write(strip, window=Window(0, ty * args.tile,
                                           scale * args.tile, args.tile))
        # a few objects of training size somewhere
        for k in range(6):
            drawn = None
            while drawn is None:
                drawn = make_large_scene(rng, 1, args.tile, 1)
            part = drawn[0]
            ty, tx = rng.integers(0, scale, 2)
            dst.write(np.moveaxis(part, -1, 0).astype(np.uint16) * 40 + 300,
                      indexes=[1, 2, 3],
                      window=Window(int(tx) * args.tile, int(ty) * args.tile,
                                    args.tile, args.tile))
    import tracemalloc
    out = []
    for mode in ('whole', 'global_refine'):
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            res = inference_scene(model, path, 'the red vehicle',
                                  osp.join(args.out_dir, 'out', 'big'),
                                  mode=mode, name=mode, overwrite=True,
                                  progress=False)
            secs = time.perf_counter() - t0
        # again under tracemalloc: the Python/numpy peak (slower)
        tracemalloc.start()
        inference_scene(model, path, 'the red vehicle',
                        osp.join(args.out_dir, 'out', 'big'), mode=mode,
                        name=mode, overwrite=True, progress=False)
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out.append(dict(mode=mode, size=scale * args.tile,
                        seconds=round(secs, 1),
                        peak_mb=round(mem.above_start_mb, 1),
                        traced_peak_mb=round(traced / 2**20, 1),
                        windows=res.windows,
                        max_read_pixels=res.max_read_pixels))
    return out


def print_table(table: List[dict], big: List[dict]) -> None:
    def fmt(v):
        return '-' if v is None else f'{v:.1f}'
    print('\n| scene | mode @ net input | n | oIoU | position | size | '
          'colour | mIoU | s/scene | windows | peak MB |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for r in table:
        scale, key = r['setting'].split(' ', 1)
        print(f"| {scale} | {key} | {r['n']} | {fmt(r['oIoU'])} | "
              f"{fmt(r['oIoU_position'])} | {fmt(r['oIoU_size'])} | "
              f"{fmt(r['oIoU_colour'])} | {fmt(r['mIoU'])} | "
              f"{r['seconds']:.2f} | {r['windows']:.0f} | "
              f"{r['peak_mb']:.0f} |")
    for b in big:
        print(f"big {b['size']}x{b['size']} 4-band uint16, {b['mode']}: "
              f"{b['seconds']} s, peak RSS +{b['peak_mb']} MB, numpy/Python "
              f"peak {b['traced_peak_mb']} MB, "
              f"{b['windows']} windows, largest read "
              f"{b['max_read_pixels']} px")


if __name__ == '__main__':
    main()
