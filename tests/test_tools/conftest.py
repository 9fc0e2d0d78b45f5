"""Shared fixtures of the tool and API tests.

* ``refseg_data``: a tiny synthetic set in the RefSegRS layout
  (12 train / 4 val / 4 test scenes, 64 px; 2-3 expressions per scene).
* ``tiny_checkpoint``: a checkpoint written by ``tools/train.py`` after two
  iterations on that set (a real runner checkpoint: state dict, optimizer,
  message hub, ...).

Both are built once per session. They are cached on disk under pytest's
session temp dir, so ``tests/test_apis`` (whose conftest re-exports these
fixtures) reuses what ``tests/test_tools`` built, and vice versa.
"""
import os
import os.path as osp
import sys
from pathlib import Path

import pytest

# in-process model builds (tests/test_apis) never reach the hub either
os.environ.setdefault('HF_HUB_OFFLINE', '1')
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from tool_test_utils import (CONFIG, DATA_COUNTS, IMG_SIZE,  # noqa: E402
                             cfg_options, count_lines, run_tool, tail)


def _shared_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.getbasetemp() / 'mmrrsis_tool_tests'
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope='session')
def refseg_data(tmp_path_factory) -> dict:
    """The tiny synthetic set: ``root``, per-split expression counts
    (``num_train``, ``num_val``, ``num_test``) and ``test_ids`` (the ids of
    ``output_phrase_test.txt``, one per line)."""
    root = _shared_dir(tmp_path_factory) / 'data'
    done = root / '.complete'
    if not done.exists():
        from mmrrsis.datasets.synthetic import generate_synthetic_refseg
        generate_synthetic_refseg(
            str(root), num_images=DATA_COUNTS, img_size=IMG_SIZE, seed=0,
            overwrite=True)
        done.write_text('ok')
    info = dict(root=str(root))
    for split in ('train', 'val', 'test'):
        info[f'num_{split}'] = count_lines(
            str(root / f'output_phrase_{split}.txt'))
    with open(root / 'output_phrase_test.txt') as f:
        info['test_ids'] = [ln.split()[0] for ln in f if ln.strip()]
    return info


@pytest.fixture(scope='session')
def tiny_checkpoint(refseg_data, tmp_path_factory) -> str:
    """``iter_2.pth`` of a 2-iteration ``tools/train.py`` run."""
    work_dir = _shared_dir(tmp_path_factory) / 'tiny_train'
    ckpt = work_dir / 'iter_2.pth'
    done = work_dir / '.complete'
    if not done.exists():
        opts = cfg_options(
            refseg_data['root'], **{
                'train_cfg.max_iters': 2,
                'train_cfg.val_interval': 2,
            })
        rc, out = run_tool(
            [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
             work_dir, '--cfg-options', *opts],
            work_dir.parent / 'tiny_train.log')
        assert rc == 0, f'tools/train.py failed (exit {rc}):\n{tail(out)}'
        assert ckpt.is_file(), f'{ckpt} was not written:\n{tail(out)}'
        done.write_text('ok')
    return str(ckpt)
