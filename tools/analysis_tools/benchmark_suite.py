"""Benchmark every paper config in fp32 and bf16, eager and compiled, within
a time budget, and tabulate images/s, peak memory and model FLOPs
utilisation (MFU).

Each run is ``tools/analysis_tools/benchmark.py CONFIG --mfu
--random-text-encoder ...`` in a fresh process (``--amp --amp-dtype
bfloat16`` for bf16, ``--compile`` for compiled). Eager runs go first,
then compiled bf16 runs, then compiled fp32 runs, so a budget that runs
out cuts the slow compilations, not the table's backbone. A run is skipped,
not started, when the time left is under the longest run of its kind so far
(compiled runs: three times the longest eager run until one has finished);
a run that fails or times out is recorded with the end of its output and
the suite goes on. The summary
(``summary.md``, ``summary.json``) is rewritten after every run, so a
killed suite keeps what it measured; each run's log and JSON are under
``OUT_DIR/runs``.

Example, on one GPU (the README's GPU table)::

    python tools/analysis_tools/benchmark_suite.py --device cuda \\
        --batch-size 8 --img-size 480 --out-dir work_dirs/gpu_suite \\
        --budget-s 420

On the CPU with the tiny config, as the tests do::

    python tools/analysis_tools/benchmark_suite.py --device cpu \\
        --configs configs/lavt/lavt_tiny_synthetic.py --img-size 64 \\
        --batch-size 1 --iters 1 --warmup 0 --out-dir /tmp/suite
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)
from mmrrsis.utils.subprocess_log import run_logged  # noqa: E402

BENCHMARK = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py')
#: The published models' configs (the README's paper table).
PAPER_CONFIGS = [
    'configs/lavt_swinb.py', 'configs/fianet_swinb.py',
    'configs/crobim_swinb.py', 'configs/crobim_convnextb.py',
    'configs/btdnet_swinb.py'
]
PRECISIONS = ('fp32', 'bf16')
MODES = ('eager', 'compile')
#: Columns of summary.md: (figure key, header, format).
COLUMNS = [('train_img_per_s', 'train img/s', '{:.2f}'),
           ('infer_img_per_s', 'infer img/s', '{:.2f}'),
           ('train_peak_mem_MiB', 'train peak MiB', '{:.0f}'),
           ('infer_peak_mem_MiB', 'infer peak MiB', '{:.0f}'),
           ('train_TFLOPs_achieved', 'train TFLOP/s', '{:.3g}'),
           ('train_MFU', 'train MFU', '{:.1%}'),
           ('infer_MFU', 'infer MFU', '{:.1%}'),
           ('train_first_step_s', 'compile + 1st step s', '{:.0f}')]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--configs', nargs='+', default=PAPER_CONFIGS)
    p.add_argument('--precisions', nargs='+', choices=PRECISIONS,
                   default=list(PRECISIONS))
    p.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    p.add_argument('--device', default='cuda')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--img-size', type=int, default=480)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--budget-s', type=float, default=420,
                   help='wall-clock budget of the whole suite (seconds)')
    p.add_argument('--run-timeout-s', type=float, default=300,
                   help='limit of one run (seconds)')
    p.add_argument('--peak-tflops', type=float, default=None,
                   help='peak for MFU (default: known GPUs\' data sheets)')
    p.add_argument('--compile-backend', default='inductor')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='K=V',
                   help='passed to every run (benchmark.py --cfg-options), '
                   'e.g. model.channels_last=False')
    p.add_argument('--out-dir', required=True)
    args = p.parse_args(argv)
    if args.budget_s <= 0 or args.run_timeout_s <= 0:
        p.error('--budget-s and --run-timeout-s must be positive')
    for cfg in args.configs:
        if not osp.isfile(osp.join(REPO_ROOT, cfg)) and not osp.isfile(cfg):
            p.error(f'config not found: {cfg}')
    return args


def plan(args) -> List[Dict]:
    """The runs in order: every config eager (fp32, then bf16), then every
    config compiled in bf16 (what GPU training uses), then compiled in
    fp32."""
    def run(cfg, precision, mode):
        name = osp.splitext(osp.basename(cfg))[0]
        return dict(config=cfg, precision=precision, mode=mode,
                    name=f'{name}-{precision}-{mode}')

    precisions = [p for p in PRECISIONS if p in args.precisions]
    runs = []
    if 'eager' in args.modes:
        runs += [run(c, p, 'eager') for c in args.configs for p in precisions]
    if 'compile' in args.modes:
        runs += [
            run(c, p, 'compile') for p in reversed(precisions)
            for c in args.configs
        ]
    return runs


def command(args, run: Dict, json_path: str) -> List[str]:
    cmd = [sys.executable, BENCHMARK, run['config'], '--device', args.device,
           '--batch-size', str(args.batch_size), '--img-size',
           str(args.img_size), '--warmup', str(args.warmup), '--iters',
           str(args.iters), '--random-text-encoder', '--mfu', '--json',
           json_path]
    if run['precision'] == 'bf16':
        cmd += ['--amp', '--amp-dtype', 'bfloat16']
    if run['mode'] == 'compile':
        cmd += ['--compile', '--compile-backend', args.compile_backend]
    if args.peak_tflops:
        cmd += ['--peak-tflops', str(args.peak_tflops)]
    if args.cfg_options:
        cmd += ['--cfg-options', *args.cfg_options]
    return cmd


def estimate(records: List[Dict], mode: str) -> float:
    """Expected seconds of the next run of ``mode``: the longest finished
    run of that mode; compiled runs before any finished: three times the
    longest eager run (0 before anything finished)."""
    done = [r['wall_s'] for r in records
            if r['status'] == 'ok' and r['mode'] == mode]
    if done:
        return max(done)
    eager = [r['wall_s'] for r in records
             if r['status'] == 'ok' and r['mode'] == 'eager']
    return 3 * max(eager) if mode == 'compile' and eager else 0.0


def run_one(args, run: Dict, runs_dir: str, timeout: float) -> Dict:
    json_path = osp.join(runs_dir, run['name'] + '.json')
    result = run_logged(command(args, run, json_path),
                        osp.join(runs_dir, run['name'] + '.log'),
                        cwd=REPO_ROOT, timeout=timeout)
    record = dict(run, wall_s=result.wall_s)
    ok = result.returncode == 0 and osp.isfile(json_path)
    record['status'] = result.status(ok)
    if ok:
        with open(json_path, encoding='utf-8') as f:
            record['figures'] = json.load(f)
    else:
        record['error'] = result.tail()
    return record


def markdown(records: List[Dict], args) -> str:
    device = next((r['figures'].get('device_name') for r in records
                   if r.get('figures')), args.device)
    lines = [
        f'Device: {device}; batch {args.batch_size}, '
        f'{args.img_size}x{args.img_size}, random weights, '
        f'--warmup {args.warmup} --iters {args.iters} (medians)' +
        (f'; --cfg-options {" ".join(args.cfg_options)}'
         if args.cfg_options else '') + '.', '',
        '| config | precision | mode | ' +
        ' | '.join(h for _, h, _ in COLUMNS) + ' | status |',
        '|' + '---|' * (len(COLUMNS) + 4)
    ]
    for r in records:
        fig = r.get('figures', {})
        cells = []
        for key, _, fmt in COLUMNS:
            value = fig.get(key)
            cells.append('-' if value is None else fmt.format(value))
        lines.append(f'| `{osp.basename(r["config"])}` | {r["precision"]} | '
                     f'{r["mode"]} | ' + ' | '.join(cells) +
                     f' | {r["status"]} |')
    peak = next((r['figures'].get('peak_TFLOPs') for r in records
                 if r.get('figures', {}).get('peak_TFLOPs')), None)
    lines += [
        '', 'MFU: FLOPs of a step counted by torch (forward + backward for '
        'training) / median time / peak' +
        (f' ({peak} TFLOP/s for the last run\'s precision).'
         if peak else ' (no peak known for this device: give '
         '--peak-tflops).')
    ]
    return '\n'.join(lines) + '\n'


def write_summary(records: List[Dict], args) -> None:
    tmp = osp.join(args.out_dir, '.summary.tmp')
    for name, text in (('summary.json',
                        json.dumps(records, indent=2, ensure_ascii=False)),
                       ('summary.md', markdown(records, args))):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, osp.join(args.out_dir, name))


def main(argv: Optional[List[str]] = None) -> List[Dict]:
    args = parse_args(argv)
    runs_dir = osp.join(args.out_dir, 'runs')
    os.makedirs(runs_dir, exist_ok=True)
    start = time.perf_counter()
    records: List[Dict] = []
    todo = plan(args)
    for i, run in enumerate(todo, 1):
        left = args.budget_s - (time.perf_counter() - start)
        need = estimate(records, run['mode'])
        if left <= 0 or need > left:
            record = dict(run, status='skipped (budget)', wall_s=0.0)
        else:
            print(f'[{i}/{len(todo)}] {run["name"]} '
                  f'({left:.0f} s of budget left)', flush=True)
            record = run_one(args, run, runs_dir,
                             timeout=min(args.run_timeout_s, left))
        print(f'[{i}/{len(todo)}] {run["name"]}: {record["status"]} '
              f'({record["wall_s"]} s)', flush=True)
        records.append(record)
        write_summary(records, args)
    print()
    print(markdown(records, args))
    print(f'Written: {osp.join(args.out_dir, "summary.md")}, summary.json '
          f'and runs/ ({time.perf_counter() - start:.0f} s)')
    return records


if __name__ == '__main__':
    done = main()
    # skipped runs are not failures; a failed or timed-out one is
    sys.exit(int(any(r['status'].startswith(('failed', 'timeout'))
                     for r in done)))
