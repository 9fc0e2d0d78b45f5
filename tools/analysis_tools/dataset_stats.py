"""Statistics of a referring segmentation dataset, per split.

Counts (expressions, distinct objects and images), sentence length in words
and in word pieces of the config's tokenizer (with [CLS]/[SEP]: the number
``max_length`` counts; the length that keeps 99 % of the sentences whole and
the share the config's ``max_length`` cuts), and mask area as a share of
the image: percentiles, histogram bins and the share of small objects
(small in COCO's sense: < 32x32 pixels at the original resolution; and
below 1 % of the image). Empty and all-foreground
masks are listed by ref id. Printed, and plotted to a png (matplotlib, or
OpenCV when matplotlib is missing).

    python tools/analysis_tools/dataset_stats.py \
        configs/lavt/lavt_swinb_rrsisd.py --out-dir work_dirs/stats_rrsisd

Masks are read once per distinct mask (RRSIS-D: measured on the RLE, no
decoding; RefSegRS / RISBench: the mask files are read, ~0.5 ms each).
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Optional

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
import mmrrsis  # noqa: E402,F401  (registers the datasets)

# isort: split
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import DATASETS  # noqa: E402

from mmrrsis.apis.runtime import load_config  # noqa: E402

SPLITS = ('train', 'val', 'test')
AREA_BINS = (0.0, 0.001, 0.01, 0.05, 0.2, 0.5, 1.0)  # share of the image
SMALL_PIXELS = 32 * 32  # COCO "small"


def build_split(cfg: Config, split: str, pipeline: Optional[list] = None):
    """The dataset of ``{split}_dataloader`` (``pipeline`` replaces the
    config's; ``[]`` gives raw data infos)."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
    if pipeline is not None:
        ds_cfg.pipeline = pipeline
    return DATASETS.build(ds_cfg)


def load_tokenizer(cfg: Config):
    """The config's text-encoder tokenizer, or the offline
    all-MiniLM-L6-v2 one (bert-base-uncased's vocabulary) when the
    configured one is not on this machine. Returns (tokenizer, name)."""
    from transformers import AutoTokenizer

    from mmrrsis.models.text_encoders import resolve_model_path
    from mmrrsis.utils.offline_model import OFFLINE_TOKENIZER
    name = cfg.model.get('text_encoder', {}).get('model_name_or_path',
                                                 OFFLINE_TOKENIZER)
    for candidate in (name, OFFLINE_TOKENIZER):
        try:
            return AutoTokenizer.from_pretrained(
                resolve_model_path(candidate),
                local_files_only=True), candidate
        except Exception:  # not cached here: try the offline one
            continue
    raise RuntimeError('no tokenizer available')


def token_stats(texts, tokenizer, max_length: Optional[int]) -> dict:
    """Word-piece lengths (with [CLS]/[SEP]) of ``texts``."""
    from mmrrsis.datasets.transforms import clean_text
    if not texts:
        return {}
    ids = tokenizer([clean_text(t) for t in texts])['input_ids']
    lengths = np.array([len(i) for i in ids])
    out = OrderedDict(
        tokens_mean=float(lengths.mean()),
        tokens_percentiles={p: float(np.percentile(lengths, p))
                            for p in (50, 95, 99, 100)},
        # smallest max_length that keeps >= 99 % of the sentences whole
        tokens_keep99=int(
            np.percentile(lengths, 99, method='inverted_cdf')),
        _tokens=lengths)
    if max_length:
        out['max_length'] = int(max_length)
        out['truncated_share'] = float((lengths > max_length).mean())
    return out


def split_stats(dataset, max_samples: Optional[int] = None,
                tokenizer=None, max_length: Optional[int] = None) -> dict:
    """Counts, sentence lengths and mask areas of one built dataset."""
    n = len(dataset) if max_samples is None else min(len(dataset),
                                                     max_samples)
    lengths, fractions, pixels, texts = [], [], [], []
    refs, images, empty, full = set(), set(), [], []
    cache: Dict[tuple, tuple] = {}
    for idx in range(n):
        info = dataset.get_data_info(idx)
        refs.add(info['ref_id'])
        images.add(info['img_id'])
        lengths.append(len(info['text'].split()))
        texts.append(info['text'])
        key = (info['ref_id'], info.get('seg_map_path'))
        if key not in cache:
            cache[key] = dataset.mask_area(info)
        area, total = cache[key]
        fractions.append(area / total if total else 0.0)
        pixels.append(area)
        if area == 0:
            empty.append(info['ref_id'])
        elif area == total:
            full.append(info['ref_id'])
    lengths_a, frac_a = np.array(lengths), np.array(fractions)
    pix_a = np.array(pixels)
    hist, _ = np.histogram(frac_a, bins=AREA_BINS)
    nonempty = pix_a > 0
    tokens = (token_stats(texts, tokenizer, max_length)
              if tokenizer is not None else {})
    return OrderedDict(
        **tokens,
        expressions=n,
        objects=len(refs),
        images=len(images),
        words_mean=float(lengths_a.mean()) if n else 0.0,
        words_percentiles={p: float(np.percentile(lengths_a, p))
                           for p in (5, 50, 95, 100)} if n else {},
        area_percentiles={p: float(np.percentile(frac_a, p))
                          for p in (5, 50, 95)} if n else {},
        area_hist=hist.tolist(),
        small_share=float((nonempty & (pix_a < SMALL_PIXELS)).mean())
        if n else 0.0,
        below_1pct_share=float((nonempty & (frac_a < 0.01)).mean())
        if n else 0.0,
        empty=empty,
        full=full,
        _lengths=lengths_a,
        _fractions=frac_a)


def format_report(name: str, stats: Dict[str, dict]) -> str:
    lines = [f'== {name} ==']
    for split, s in stats.items():
        w = s['words_percentiles']
        a = s['area_percentiles']
        lines += [
            f"[{split}] {s['expressions']} expressions, {s['objects']} "
            f"objects, {s['images']} images",
            f"  words: mean {s['words_mean']:.2f}, median {w.get(50, 0):.0f},"
            f" p95 {w.get(95, 0):.0f}, max {w.get(100, 0):.0f}",
        ]
        if 'tokens_mean' in s:
            t = s['tokens_percentiles']
            cut = (f", max_length {s['max_length']} cuts "
                   f"{100 * s['truncated_share']:.2f}%"
                   if 'max_length' in s else '')
            lines.append(
                f"  word pieces (+[CLS]/[SEP]): mean {s['tokens_mean']:.2f},"
                f" median {t[50]:.0f}, p95 {t[95]:.0f}, p99 {t[99]:.0f}, max "
                f"{t[100]:.0f}; {s['tokens_keep99']} keeps 99% whole{cut}")
        lines += [
            f"  mask area / image: p5 {a.get(5, 0):.4f}, median "
            f"{a.get(50, 0):.4f}, p95 {a.get(95, 0):.4f}",
            f"  small objects: {100 * s['small_share']:.1f}% under 32x32 px, "
            f"{100 * s['below_1pct_share']:.1f}% under 1% of the image",
            '  area bins ' + ', '.join(
                f'[{lo:g},{hi:g}): {c}' for lo, hi, c in zip(
                    AREA_BINS[:-1], AREA_BINS[1:], s['area_hist'])),
            f"  empty masks: {len(s['empty'])} {s['empty'][:10]}",
            f"  all-foreground masks: {len(s['full'])} {s['full'][:10]}",
        ]
    return '\n'.join(lines)


def plot(stats: Dict[str, dict], out_file: str, title: str) -> str:
    """Sentence length and log10 mask-area histograms, one row per split.

    Returns:
        str: The backend used ('matplotlib' or 'cv2').
    """
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        _plot_cv2(stats, out_file)
        return 'cv2'
    fig, axes = plt.subplots(len(stats), 2, figsize=(10, 3 * len(stats)),
                             squeeze=False)
    for row, (split, s) in enumerate(stats.items()):
        ax = axes[row][0]
        lengths = s['_lengths']
        if len(lengths):
            ax.hist(lengths, bins=np.arange(lengths.max() + 2) - 0.5)
        ax.set_title(f'{split}: words per expression')
        ax = axes[row][1]
        frac = s['_fractions'][s['_fractions'] > 0]
        if len(frac):
            ax.hist(np.log10(frac), bins=30)
        ax.set_title(f'{split}: log10(mask area / image)')
        ax.axvline(-2, color='r', lw=1)  # 1 % of the image
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=80)
    plt.close(fig)
    return 'matplotlib'


def _plot_cv2(stats: Dict[str, dict], out_file: str) -> None:
    import cv2
    h, w = 160, 320
    canvas = np.full((h * len(stats), 2 * w, 3), 255, np.uint8)
    for row, (split, s) in enumerate(stats.items()):
        frac = s['_fractions'][s['_fractions'] > 0]
        for col, (vals, label) in enumerate(
                ((s['_lengths'], 'words'), (np.log10(frac), 'log10 area'))):
            y0, x0 = row * h, col * w
            cv2.putText(canvas, f'{split}: {label}', (x0 + 5, y0 + 15),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
            if not len(vals):
                continue
            counts, _ = np.histogram(vals, bins=30)
            bw = (w - 20) / len(counts)
            for i, c in enumerate(counts):
                bh = int((h - 40) * c / max(counts.max(), 1))
                x = int(x0 + 10 + i * bw)
                cv2.rectangle(canvas, (x, y0 + h - 10 - bh),
                              (int(x + bw) - 1, y0 + h - 10), (180, 80, 30),
                              -1)
    cv2.imwrite(out_file, canvas)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Referring dataset stats')
    parser.add_argument('config', help='config whose dataloaders are read')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS),
                        choices=SPLITS)
    parser.add_argument('--out-dir', default=None,
                        help='folder for dataset_stats.png (default: none)')
    parser.add_argument('--max-samples', type=int, default=None,
                        help='only the first N samples of each split')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument(
        '--data-root', default=None,
        help='the dataset folder, for every split (as tools/train.py and '
        'tools/test.py)')
    return parser.parse_args(argv)


def main(argv=None) -> Dict[str, dict]:
    args = parse_args(argv)
    cfg = load_config(args.config, cfg_options=args.cfg_options,
                      data_root=args.data_root)
    stats: Dict[str, dict] = OrderedDict()
    name = cfg[f'{args.splits[0]}_dataloader'].dataset.type
    tokenizer, tok_name = load_tokenizer(cfg)
    max_length = cfg.model.get('text_encoder', {}).get('max_length')
    print(f'tokenizer: {tok_name}')
    for split in args.splits:
        stats[split] = split_stats(build_split(cfg, split, pipeline=[]),
                                   args.max_samples, tokenizer, max_length)
    print(format_report(name, stats))
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        out_file = osp.join(args.out_dir, 'dataset_stats.png')
        backend = plot(stats, out_file, name)
        print(f'plot ({backend}): {out_file}')
    return stats


if __name__ == '__main__':
    main()
