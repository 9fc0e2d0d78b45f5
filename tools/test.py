"""Test (evaluate) a referring segmentor with MMSeg's runner.

Same flags as MMSeg's ``tools/test.py``: ``--work-dir``, ``--out``,
``--show``, ``--show-dir`` (one overlay per expression, with the sentence),
``--wait-time``, ``--cfg-options``, ``--launcher``, ``--tta``; plus
``--data-root DIR`` (the dataset folder, for every split). Only the test
split needs to be present, ``--show-dir`` included. A checkpoint argument
that is no checkpoint (an image, a config, a cut-off file) stops at once
with a message saying what the file is.

``RefSegMetric`` prints oIoU / mIoU / Prec@X overall, by object size and by
category (RRSIS-D: annotated; RefSegRS, RISBench: derived from the
expression). ``--out DIR`` writes ``DIR/per_sample_iou.json``: the protocol,
a ``summary`` (``overall``, ``by_size``, ``by_category``) and the
per-expression records (IoU, counts, ``category``, ``size``, text, image),
worst first.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import mmrrsis  # noqa: E402,F401

# isort: split
from mmengine.config import DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmrrsis.apis.runtime import (finish_launch, load_config,  # noqa: E402
                                  prepare_launch)
from mmrrsis.datasets.transforms.flip_tta_pipeline import \
    flip_tta_pipeline  # noqa: E402
from mmrrsis.utils.compat import CheckpointFileError  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a referring segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--data-root',
        help='dataset folder for every split (train, val and test '
        'dataloaders); --cfg-options data_root=DIR also works')
    parser.add_argument('--out', type=str,
                        help='write DIR/per_sample_iou.json: per-expression '
                        'scores with category and size, and the per-size / '
                        'per-category summary')
    parser.add_argument('--show', action='store_true',
                        help='show prediction results in a window')
    parser.add_argument('--show-dir',
                        help='directory for the overlays (one per expression)')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='the interval of show (s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value (MMSeg syntax)')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation (cfg.tta_pipeline, '
                        'cfg.tta_model): the image and its left-right '
                        'mirror with the mirrored sentence, averaged')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args):
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError(
            '--show/--show-dir need a visualization hook in default_hooks, '
            "e.g. visualization=dict(type='ReferringVisualizationHook')")
    hooks['visualization']['draw'] = True
    if args.show:
        hooks['visualization']['show'] = True
        hooks['visualization']['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
        # one file per expression, straight into show_dir:
        # {image stem}_s{sample_idx}.png
        hooks['visualization']['test_out_dir'] = osp.abspath(args.show_dir)
    return cfg


def use_tta(cfg):
    """``--tta``: the test set through ``cfg.tta_pipeline``, the model
    wrapped in ``cfg.tta_model``. A config without them (one dumped before
    they existed) gets the default: the test pipeline with a text-aware
    horizontal flip (the sentence mirrored with the image) and
    ``ReferringTTAModel``."""
    pipeline, tta_model = cfg.get('tta_pipeline'), cfg.get('tta_model')
    if not pipeline or not tta_model:
        print('tools/test.py: the config has no tta_pipeline/tta_model; '
              '--tta uses a text-aware horizontal flip of its test '
              'pipeline and ReferringTTAModel')
        pipeline = pipeline or flip_tta_pipeline(
            cfg.test_dataloader.dataset.pipeline)
        tta_model = tta_model or dict(type='ReferringTTAModel')
    cfg.test_dataloader.dataset.pipeline = pipeline
    cfg.tta_model = tta_model
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def main():
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.cfg_options,
                      args.work_dir, data_root=args.data_root)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.tta:
        use_tta(cfg)
    if args.out is not None:
        # summary (overall, by size, by category) + per-expression records
        # (IoU, category, size, text, image), worst first (json)
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['save_per_sample'] = True
    try:
        prepare_launch(cfg)
    except (FileNotFoundError, CheckpointFileError) as err:
        sys.exit(f'tools/test.py: {err}')
    runner = Runner.from_cfg(cfg)
    runner.test()
    finish_launch()


if __name__ == '__main__':
    main()
