"""Train a paper config for a few iterations on synthetic data, with and
without ``--amp``, through ``tools/train.py``, and report the step time and
memory: the GPU check of a paper recipe (issue 10) on a machine with no
dataset and no model hub.

The config is made offline (:func:`mmrrsis.utils.offline_model_cfg`:
random text-encoder weights of the configured BERT size, no pretrained
backbone download) and trained on a synthetic set in the RefSegRS layout at
``--img-size`` (the config's pipeline then resizes to its own crop, 480
for the paper configs), one sentence per scene, sized so that one epoch is
``--iters`` iterations: the config's own loop, optimiser, schedule, loss and
hooks run unchanged, minus validation and checkpoints. Each precision runs
``tools/train.py`` in a fresh process; the figures come from MMEngine's
per-iteration log (``vis_data/scalars.json``): the median ``time`` after the
first ``--skip`` iterations, images/s, the peak ``memory`` (MiB, CUDA's
``max_memory_allocated``; absent on the CPU) and the first and last loss.
``summary.md`` / ``summary.json`` are rewritten after each run.

Example (on a GPU; the README's command carries the packages there)::

    python tools/misc/gpu_train_check.py --config configs/fianet_swinb.py \\
        --iters 50 --batch-size 8 --img-size 480 \\
        --out-dir work_dirs/train_check
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import sys
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)
from mmrrsis.utils.subprocess_log import run_logged  # noqa: E402

PRECISIONS = ('fp32', 'amp')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/fianet_swinb.py')
    p.add_argument('--iters', type=int, default=50)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--img-size', type=int, default=480)
    p.add_argument('--skip', type=int, default=10,
                   help='first iterations left out of the median (warm-up)')
    p.add_argument('--precisions', nargs='+', choices=PRECISIONS,
                   default=list(PRECISIONS))
    p.add_argument('--timeout-s', type=float, default=600,
                   help='limit of one training run (seconds)')
    p.add_argument('--out-dir', required=True)
    args = p.parse_args(argv)
    if not osp.isfile(osp.join(REPO_ROOT, args.config)):
        p.error(f'config not found: {args.config}')
    if args.iters < 1 or args.batch_size < 1:
        p.error('--iters and --batch-size must be at least 1')
    if args.skip >= args.iters:
        p.error(f'--skip ({args.skip}) must be under --iters ({args.iters})')
    return args


def make_data(root: str, scenes: int, img_size: int) -> None:
    """A synthetic RefSegRS-layout set: ``scenes`` training scenes of one
    sentence each (val and test: 2 scenes, never read)."""
    if osp.isfile(osp.join(root, '.complete')):
        return
    from mmrrsis.datasets.synthetic import generate_synthetic_refseg
    generate_synthetic_refseg(
        root, num_images=dict(train=scenes, val=2, test=2),
        img_size=img_size, exprs_per_image=1, seed=0, overwrite=True)
    with open(osp.join(root, '.complete'), 'w') as f:
        f.write('ok')


def offline_config(args, data_root: str, path: str) -> None:
    """The config, offline, on the synthetic set, one epoch of
    ``args.iters`` iterations, no validation and no checkpoint."""
    from mmengine.config import Config

    from mmrrsis.apis.runtime import set_data_root
    from mmrrsis.utils.offline_model import offline_model_cfg
    cfg = Config.fromfile(osp.join(REPO_ROOT, args.config))
    cfg.model = offline_model_cfg(cfg.model)
    set_data_root(cfg, data_root)
    cfg.train_dataloader.batch_size = args.batch_size
    cfg.train_dataloader.num_workers = min(8, os.cpu_count() or 1)
    cfg.train_dataloader.persistent_workers = False
    if 'Iter' in cfg.train_cfg.get('type', ''):
        cfg.train_cfg.max_iters = args.iters
    else:  # one epoch of the synthetic set is args.iters iterations
        cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 10**6  # never validate
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 10**6
    cfg.default_hooks.checkpoint.save_last = False
    cfg.default_hooks.checkpoint.save_best = None
    cfg.log_processor = dict(by_epoch=False)
    cfg.dump(path)


def read_log(work_dir: str) -> List[Dict]:
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        return []
    with open(files[-1], encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def figures(rows: List[Dict], args) -> Dict:
    train = [r for r in rows if 'loss' in r and 'time' in r]
    if not train:
        return {}
    steady = [r['time'] for r in train[args.skip:]] or [train[-1]['time']]
    step = statistics.median(steady)
    out = dict(iters_logged=len(train), step_s=round(step, 4),
               img_per_s=round(args.batch_size / max(step, 1e-9), 2),
               loss_first=round(train[0]['loss'], 4),
               loss_last=round(train[-1]['loss'], 4))
    memory = [r['memory'] for r in train if 'memory' in r]
    if memory:
        out['peak_memory_MiB'] = max(memory)
    return out


def run(args, precision: str, cfg_path: str) -> Dict:
    work_dir = osp.join(args.out_dir, precision)
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'),
           cfg_path, '--work-dir', work_dir]
    if precision == 'amp':
        cmd.append('--amp')
    os.makedirs(work_dir, exist_ok=True)
    result = run_logged(cmd, osp.join(args.out_dir, f'{precision}.log'),
                        cwd=REPO_ROOT, timeout=args.timeout_s)
    record = dict(precision=precision, wall_s=result.wall_s)
    record.update(figures(read_log(work_dir), args))
    if result.returncode == 0 and record.get('iters_logged') != args.iters:
        record['status'] = (f'only {record.get("iters_logged", 0)} '
                            f'iterations logged')
    else:
        record['status'] = result.status(result.returncode == 0)
    if record['status'] != 'ok':
        record['error'] = result.tail()
    return record


def markdown(records: List[Dict], args, device: str) -> str:
    lines = [
        f'`{args.config}`, {device}, batch {args.batch_size}, '
        f'{args.img_size}x{args.img_size}, {args.iters} iterations of '
        f'tools/train.py on synthetic data (median step after the first '
        f'{args.skip}).', '',
        '| precision | step s | images/s | peak memory MiB | loss first '
        '-> last | status |', '|---|---|---|---|---|---|'
    ]
    for r in records:
        mem = r.get('peak_memory_MiB', '-')
        loss = (f'{r["loss_first"]} -> {r["loss_last"]}'
                if 'loss_first' in r else '-')
        lines.append(f'| {r["precision"]} | {r.get("step_s", "-")} | '
                     f'{r.get("img_per_s", "-")} | {mem} | {loss} | '
                     f'{r["status"]} |')
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> List[Dict]:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    import torch
    device = (torch.cuda.get_device_name(0)
              if torch.cuda.is_available() else 'CPU')
    data_root = osp.join(args.out_dir, 'data')
    print(f'[train_check] synthetic data: {args.iters * args.batch_size} '
          f'scenes at {args.img_size} px in {data_root}', flush=True)
    make_data(data_root, args.iters * args.batch_size, args.img_size)
    cfg_path = osp.join(args.out_dir, 'offline_config.py')
    offline_config(args, data_root, cfg_path)
    records = []
    for precision in args.precisions:
        print(f'[train_check] {precision}: tools/train.py, {args.iters} '
              'iterations', flush=True)
        records.append(run(args, precision, cfg_path))
        print(f'[train_check] {precision}: {records[-1]["status"]} '
              f'({records[-1]["wall_s"]} s)', flush=True)
        with open(osp.join(args.out_dir, 'summary.json'), 'w') as f:
            json.dump(dict(device=device, config=args.config,
                           runs=records), f, indent=2)
        with open(osp.join(args.out_dir, 'summary.md'), 'w') as f:
            f.write(markdown(records, args, device))
    print()
    print(markdown(records, args, device))
    return records


if __name__ == '__main__':
    done = main()
    sys.exit(int(any(r['status'] != 'ok' for r in done)))
