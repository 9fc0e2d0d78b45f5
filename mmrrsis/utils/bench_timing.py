"""The timing loop, peak memory and report shared by the benchmark tools.

``tools/analysis_tools/benchmark.py`` (ours) and
``benchmark_official_fianet.py`` (the official FIANet) must measure the
same way for their ratios to mean anything, so they share these.
"""
import json
import os
import os.path as osp
import resource
import time
from typing import Callable, List, Optional

import torch


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], warmup: int, iters: int, device: str,
          first: Optional[list] = None) -> List[float]:
    """Seconds of each of ``iters`` calls of ``fn`` after ``warmup`` calls.

    The device is synchronised around each timed call. ``first``: a list
    that gets the duration of the very first warm-up call (where
    ``torch.compile`` compiles).
    """
    for i in range(warmup):
        if i == 0 and first is not None:
            _sync(device)
            t = time.perf_counter()
            fn()
            _sync(device)
            first.append(time.perf_counter() - t)
        else:
            fn()
    times = []
    for _ in range(iters):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return times


def peak_memory_mib(device: str) -> float:
    """Peak memory so far, MiB: CUDA's ``max_memory_allocated`` on a GPU,
    the process's peak resident set (``ru_maxrss``) on the CPU."""
    if device.startswith('cuda'):
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    # ru_maxrss is KiB on Linux
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def report(figures: dict, title: str, json_path: Optional[str]) -> dict:
    """Print ``figures`` as an aligned list under ``title`` and write them
    to ``json_path`` (when given) for ``benchmark.py --compare``."""
    width = max(len(k) for k in figures)
    print(f'\n{title}')
    for k, v in figures.items():
        print(f'  {k:<{width}}  {v}')
    if json_path:
        os.makedirs(osp.dirname(osp.abspath(json_path)), exist_ok=True)
        with open(json_path, 'w', encoding='utf-8') as f:
            json.dump(figures, f, indent=2, ensure_ascii=False)
    return figures
