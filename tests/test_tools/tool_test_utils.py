"""Helpers of the tool and API tests (imported by both conftests and the
tests): run the tools as a user would (subprocess, repository root as cwd)
with settings that keep every run to a few seconds on a 2-core CPU: one BLAS
thread per process (oversubscribed OpenMP threads make a shared CPU ~10x
slower), ``num_workers=0``, small batches, a few iterations.
"""

import importlib.util
import math
import os
import os.path as osp
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'lavt', 'lavt_tiny_synthetic.py')
DATA_COUNTS = dict(train=12, val=4, test=4)
IMG_SIZE = 64
METRIC_KEYS = ('oIoU', 'mIoU', 'Prec@0.5', 'Prec@0.6', 'Prec@0.7',
               'Prec@0.8', 'Prec@0.9')
TOOL_TIMEOUT = 300  # s, per tool run


# ------------------------------------------------------------------ helpers
def load_script(path: str, name: Optional[str] = None):
    """Import a script (``tools/...py``, ``demo/...py``; relative to the
    repository root or absolute) as a module, to test its functions
    in-process."""
    path = osp.join(REPO_ROOT, path)
    name = name or osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool_env(**extra: str) -> Dict[str, str]:
    """Environment for a tool subprocess.

    Offline, one BLAS thread, the repository and this interpreter's
    ``bin`` first (``tools/dist_*.sh`` call ``python``). The safe
    checkpoint loader is kept on (``MMRRSIS_UNSAFE_LOAD`` removed).
    """
    env = dict(os.environ)
    env.pop('MMRRSIS_UNSAFE_LOAD', None)
    env.update(
        HF_HUB_OFFLINE='1',
        TRANSFORMERS_OFFLINE='1',
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        PYTHONUNBUFFERED='1',
        PYTHONWARNINGS='ignore',
    )
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get(
        'PATH', '')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def free_port() -> int:
    """A TCP port that is free right now (for torchrun's rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def cfg_options(data_root: str, **overrides) -> List[str]:
    """``--cfg-options`` for a fast run on ``data_root``.

    Keyword arguments override or add options; use dotted keys through a
    dict: ``cfg_options(root, **{'train_cfg.max_iters': 2})``.
    """
    opts = {
        'train_cfg.max_iters': 4,
        'train_cfg.val_interval': 4,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 2,
        'val_dataloader.batch_size': 2,
        'test_dataloader.batch_size': 2,
    }
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = str(data_root)
        opts[f'{split}_dataloader.num_workers'] = 0
        opts[f'{split}_dataloader.persistent_workers'] = False
    opts.update(overrides)
    return [f'{k}={v}' for k, v in opts.items()]


def run_tool(cmd: Sequence, log_file: Path, env: Optional[dict] = None,
             timeout: int = TOOL_TIMEOUT) -> Tuple[int, str]:
    """Run ``cmd`` from the repository root; return (exit code, output).

    stdout and stderr go (merged) to ``log_file``; a run past ``timeout``
    fails the test with the end of its output.
    """
    cmd = [str(c) for c in cmd]
    log_file = Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, 'w') as f:
        try:
            proc = subprocess.run(
                cmd, cwd=REPO_ROOT, env=env or tool_env(), stdout=f,
                stderr=subprocess.STDOUT, timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
    out = log_file.read_text(errors='replace')
    if rc is None:
        pytest.fail(f'{" ".join(cmd)} ran past {timeout}s:\n{tail(out)}')
    return rc, out


def tail(text: str, n: int = 60) -> str:
    """The last ``n`` lines of ``text`` (for assertion messages)."""
    return '\n'.join(text.splitlines()[-n:])


def parse_metrics(output: str, mode: str = 'test') -> Dict[str, float]:
    """Metrics of the last ``Iter(<mode>) [k/k]  oIoU: ...`` log line."""
    lines = [ln for ln in output.splitlines()
             if f'Iter({mode})' in ln and 'oIoU:' in ln]
    assert lines, f'no Iter({mode}) metric line in the output:\n' + tail(
        output)
    pairs = dict(re.findall(r'(\S+): (-?[\d.]+(?:e[-+]?\d+)?|nan)',
                            lines[-1]))
    return {k: float(pairs[k]) for k in METRIC_KEYS if k in pairs}


def count_lines(path: str) -> int:
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def val_iters_per_rank(num_samples: int, world_size: int,
                       batch_size: int) -> int:
    """Val/test iterations of each rank with MMEngine's DefaultSampler."""
    return math.ceil(math.ceil(num_samples / world_size) / batch_size)
