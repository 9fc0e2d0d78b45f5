"""Train a referring segmentor with MMSeg's runner.

Same flags as MMSeg's ``tools/train.py``: ``--work-dir``, ``--resume``,
``--amp``, ``--cfg-options``, ``--launcher``; plus ``--data-root DIR`` (the
dataset folder, for every split). ``--resume`` resumes from the newest
checkpoint *in the work dir given* that loads (a copied work dir resumes
from its own files; a cut-off latest checkpoint is skipped with the
reason), see :class:`mmrrsis.engine.hooks.SafeCheckpointHook`. On a
machine without CUDA a distributed launch uses the gloo backend.
``--select-on test`` keeps the checkpoint with the best *test* oIoU
(FIANet's official protocol) instead of the best val one
(``mmrrsis.evaluation.select_on``).
"""
import argparse
import logging
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmrrsis  # noqa: E402,F401  (compat shims + registration first)

# isort: split
from mmengine.config import DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmseg.registry import RUNNERS  # noqa: E402

from mmrrsis.apis.runtime import (finish_launch, load_config,  # noqa: E402
                                  prepare_launch)
from mmrrsis.evaluation import select_on  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train a referring segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--data-root',
        help='dataset folder for every split (train, val and test '
        'dataloaders); --cfg-options data_root=DIR also works')
    parser.add_argument(
        '--resume', action='store_true', default=False,
        help='resume from the newest checkpoint in the work dir that loads')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings, key=value (MMSeg syntax)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument(
        '--select-on', choices=['val', 'test'], default='val',
        help='split the validation loop and save_best score: val (default) '
        'or test (as FIANet\'s official code; optimistic test numbers)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.cfg_options,
                      args.work_dir, data_root=args.data_root)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            # MMEngine's AmpOptimWrapper asserts a GPU/NPU/MLU/MUSA device;
            # say so before the runner is built rather than mid-way.
            sys.exit('--amp needs a CUDA device: MMEngine\'s AmpOptimWrapper '
                     'does not run on the CPU. Drop --amp to train on the '
                     'CPU in float32.')
        if cfg.optim_wrapper.type == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        else:
            assert cfg.optim_wrapper.type == 'OptimWrapper', (
                '--amp needs optim_wrapper.type == "OptimWrapper", got '
                f'{cfg.optim_wrapper.type}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    select_on(cfg, args.select_on)
    cfg.resume = args.resume
    prepare_launch(cfg)
    runner = (Runner.from_cfg(cfg) if 'runner_type' not in cfg else
              RUNNERS.build(cfg))
    runner.train()
    finish_launch()


if __name__ == '__main__':
    main()
