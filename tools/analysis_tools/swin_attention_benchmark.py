"""Swin window attention: MMSeg's matmul + softmax against SDPA, with and
without the cached shift mask, and the memory ``with_cp`` saves.

Times a Swin backbone (default Swin-B as in the paper configs: embed 128,
depths 2-2-18-2, heads 4-8-16-32, window 12) at one input size:
inference (``torch.no_grad``, eval) and a training step (forward +
backward, train mode) for ``attn_impl='mmseg'``, ``'sdpa'`` with a mask
rebuilt in every shifted block (a cache that keeps nothing), and ``'sdpa'``
with the shared cache (the default), run alternately, ``--repeats`` times
each; prints the medians and the ratios to MMSeg's.

``--memory`` instead runs one training step per setting of ``with_cp``
(off / on) in fresh processes and prints their peak resident memory
(``resource.getrusage``; the model and process overhead included).

Examples::

    python tools/analysis_tools/swin_attention_benchmark.py --threads 2
    python tools/analysis_tools/swin_attention_benchmark.py --memory \
        --batch-size 2
    python tools/analysis_tools/swin_attention_benchmark.py --tiny
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

SWIN_B = dict(embed_dims=128, depths=(2, 2, 18, 2),
              num_heads=(4, 8, 16, 32), window_size=12)
TINY = dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8),
            window_size=4)
VARIANTS = ('mmseg', 'sdpa_uncached', 'sdpa')


def build(variant: str, tiny: bool, with_cp: bool = False):
    from mmseg.registry import MODELS

    import mmrrsis.models  # noqa: F401  (registers the backbones)
    from mmrrsis.models.utils import SDPAShiftWindowMSA, ShiftMaskCache
    arch = TINY if tiny else SWIN_B
    model = MODELS.build(dict(
        type='PretrainedSwinTransformer', pretrain_img_size=384,
        attn_impl='mmseg' if variant == 'mmseg' else 'sdpa',
        drop_path_rate=0.3, with_cp=with_cp, **arch))
    if variant == 'sdpa_uncached':  # every shifted block builds its mask
        never = ShiftMaskCache(max_entries=0)
        for m in model.modules():
            if isinstance(m, SDPAShiftWindowMSA):
                m.mask_cache = never
    return model


def infer(model, img):
    model.eval()
    with torch.no_grad():
        t = time.perf_counter()
        model(img)
        return time.perf_counter() - t


def train_step(model, img):
    model.train()
    t = time.perf_counter()
    loss = sum(o.float().square().mean() for o in model(img))
    loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - t


def timing(args) -> dict:
    torch.manual_seed(0)
    models = {v: build(v, args.tiny) for v in VARIANTS}
    state = models['mmseg'].state_dict()
    for m in models.values():
        m.load_state_dict(state, strict=True)
    img = torch.randn(args.batch_size, 3, args.img_size, args.img_size)
    for m in models.values():  # warm-up: allocator, kernels, mask cache
        infer(m, img)
    times = {(v, k): [] for v in VARIANTS for k in ('infer', 'train')}
    for r in range(args.repeats):
        for kind, fn in (('infer', infer), ('train', train_step)):
            order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
            for v in order:
                times[(v, kind)].append(fn(models[v], img))
                print(f'  repeat {r} {kind:5s} {v:13s} '
                      f'{times[(v, kind)][-1]:.3f} s', flush=True)
    result = {}
    for kind in ('infer', 'train'):
        base = statistics.median(times[('mmseg', kind)])
        for v in VARIANTS:
            med = statistics.median(times[(v, kind)])
            result[f'{kind}_{v}_s'] = med
            result[f'{kind}_{v}_ratio'] = med / base
    return result


def memory_child(args) -> None:
    torch.manual_seed(0)
    model = build('sdpa', args.tiny, with_cp=args.child_with_cp)
    img = torch.randn(args.batch_size, 3, args.img_size, args.img_size)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = train_step(model, img)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(dict(with_cp=args.child_with_cp, step_s=t,
                          model_rss_mib=base / 1024,
                          peak_rss_mib=peak / 1024)))


def memory(args) -> dict:
    result = {}
    for with_cp in (False, True):
        cmd = [sys.executable, __file__, '--child-memory',
               '--threads', str(args.threads),
               '--batch-size', str(args.batch_size),
               '--img-size', str(args.img_size)]
        cmd += ['--child-with-cp'] if with_cp else []
        cmd += ['--tiny'] if args.tiny else []
        out = subprocess.run(cmd, check=True, capture_output=True,
                             text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(row, flush=True)
        result['with_cp' if with_cp else 'plain'] = row
    result['peak_ratio'] = (result['with_cp']['peak_rss_mib'] /
                            result['plain']['peak_rss_mib'])
    growth = [result[k]['peak_rss_mib'] - result[k]['model_rss_mib']
              for k in ('plain', 'with_cp')]
    result['step_growth_ratio'] = growth[1] / growth[0]
    return result


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--img-size', type=int, default=480)
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--tiny', action='store_true',
                   help='a tiny Swin (a quick check of the script)')
    p.add_argument('--memory', action='store_true',
                   help='peak memory with / without with_cp instead')
    p.add_argument('--json', help='write the results here')
    p.add_argument('--child-memory', action='store_true',
                   help=argparse.SUPPRESS)
    p.add_argument('--child-with-cp', action='store_true',
                   help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child_memory:
        memory_child(args)
        return
    result = memory(args) if args.memory else timing(args)
    result.update(img_size=args.img_size, batch_size=args.batch_size,
                  threads=args.threads, torch=torch.__version__,
                  arch='tiny' if args.tiny else 'swin-b')
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
