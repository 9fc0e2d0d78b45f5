import json
import time

import numpy as np

from mmrrsis.utils.bench_timing import peak_memory_mib, report, timed


def test_timed_runs_warmup_then_times_each_call():
    calls = []

    def fn():
        calls.append(len(calls))
        # the first (warm-up, "compiling") call is the slow one
        time.sleep(0.2 if len(calls) == 1 else 0.01)

    first = []
    times = timed(fn, warmup=2, iters=3, device='cpu', first=first)
    assert len(calls) == 5
    assert len(times) == 3 and len(first) == 1
    assert first[0] >= 0.2
    assert all(0.01 <= t < 0.2 for t in times)


def test_timed_without_first_or_warmup():
    calls = []
    times = timed(lambda: calls.append(1), warmup=0, iters=2, device='cpu',
                  first=[])
    assert len(calls) == 2 and len(times) == 2


def test_peak_memory_grows_with_a_large_allocation():
    before = peak_memory_mib('cpu')
    block = np.ones(300 * 2**20 // 8)  # 300 MiB, touched
    after = peak_memory_mib('cpu')
    assert block.sum() > 0
    assert after >= before
    assert after >= 300


def test_report_prints_and_writes_json(tmp_path, capsys):
    path = tmp_path / 'sub' / 'figures.json'
    figures = {'train_step_s': 1.5, 'config': 'x.py'}
    assert report(figures, 'Benchmark', str(path)) is figures
    out = capsys.readouterr().out
    assert 'Benchmark' in out and 'train_step_s  1.5' in out
    assert json.loads(path.read_text()) == figures
