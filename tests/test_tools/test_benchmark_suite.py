"""``tools/analysis_tools/benchmark_suite.py``: the GPU table's runner.

One real run of the suite on the tiny LAVT (fp32 and bf16, eager, CPU,
64 px) checks the plumbing end to end: ``benchmark.py --mfu``, bf16 training
on the CPU, the summary files. The budget and failure handling run
in-process with a stand-in for the run itself (durations chosen by the
test), since real durations on a shared CPU are not reproducible.
"""
import json
import os.path as osp
import sys

import pytest
from tool_test_utils import CONFIG, REPO_ROOT, load_script, run_tool, tail

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark_suite.py')


def test_suite_on_the_tiny_config(tmp_path):
    out = tmp_path / 'suite'
    rc, log = run_tool(
        [sys.executable, TOOL, '--device', 'cpu', '--configs', CONFIG,
         '--modes', 'eager', '--img-size', '64', '--batch-size', '2',
         '--iters', '1', '--warmup', '0', '--peak-tflops', '2',
         '--out-dir', str(out)], tmp_path / 'suite.log', timeout=600)
    assert rc == 0, tail(log)
    records = json.loads((out / 'summary.json').read_text())
    assert [(r['precision'], r['mode'], r['status']) for r in records] == [
        ('fp32', 'eager', 'ok'), ('bf16', 'eager', 'ok')]
    for r in records:
        fig = r['figures']
        assert fig['precision'] == r['precision']
        assert fig['train_img_per_s'] > 0 and fig['infer_img_per_s'] > 0
        # MFU = counted FLOPs / median time / the given peak
        achieved = fig['train_TFLOP'] / fig['train_step_s']
        assert fig['train_TFLOPs_achieved'] == pytest.approx(
            achieved, rel=0.02, abs=2e-3)
        assert fig['train_MFU'] == pytest.approx(
            fig['train_TFLOPs_achieved'] / 2, rel=0.02, abs=1e-3)
        # a training step computes more than an inference batch
        assert fig['train_TFLOP'] > fig['infer_TFLOP'] > 0
        assert (out / 'runs' / (r['name'] + '.log')).is_file()
    # the same model, precision only changes the arithmetic, not the count
    assert records[0]['figures']['train_TFLOP'] == pytest.approx(
        records[1]['figures']['train_TFLOP'], rel=0.01)
    table = (out / 'summary.md').read_text()
    assert table.count('| `lavt_tiny_synthetic.py` |') == 2
    assert 'train MFU' in table and 'cpu x' in table


def test_budget_cuts_compiled_runs_and_failures_go_on(tmp_path, monkeypatch):
    suite = load_script(TOOL)
    wall = {'eager': 10.0, 'compile': 40.0}
    clock = [0.0]
    calls = []

    def fake_run(args, run, runs_dir, timeout):
        calls.append((run['name'], timeout))
        clock[0] += wall[run['mode']]
        if run['name'].startswith('b-bf16'):
            return dict(run, status='failed (exit 1)', wall_s=10.0,
                        error='Traceback ...')
        return dict(run, status='ok', wall_s=wall[run['mode']],
                    figures=dict(device_name='stub', train_img_per_s=1.0))

    monkeypatch.setattr(suite, 'run_one', fake_run)
    monkeypatch.setattr(suite.time, 'perf_counter', lambda: clock[0])
    a, b = tmp_path / 'a.py', tmp_path / 'b.py'
    a.write_text(''), b.write_text('')
    records = suite.main([
        '--configs', str(a), str(b), '--budget-s', '70', '--out-dir',
        str(tmp_path / 'out'), '--run-timeout-s', '300'
    ])
    got = [(r['name'], r['status']) for r in records]
    # four eager runs (40 s) fit; the failed one is recorded and the rest
    # go on; compiled runs start with bf16; the first is expected to take
    # 3 x 10 s and fits in the 30 s left; after it took 40 s, none is left
    assert got == [('a-fp32-eager', 'ok'), ('a-bf16-eager', 'ok'),
                   ('b-fp32-eager', 'ok'),
                   ('b-bf16-eager', 'failed (exit 1)'),
                   ('a-bf16-compile', 'ok'),
                   ('b-bf16-compile', 'skipped (budget)'),
                   ('a-fp32-compile', 'skipped (budget)'),
                   ('b-fp32-compile', 'skipped (budget)')]
    # a run never gets more time than the budget has left
    assert calls[-1] == ('a-bf16-compile', 30.0)
    summary = json.loads((tmp_path / 'out' / 'summary.json').read_text())
    assert [r['status'] for r in summary] == [s for _, s in got]
    table = (tmp_path / 'out' / 'summary.md').read_text()
    assert 'skipped (budget)' in table and 'failed (exit 1)' in table


def test_bad_arguments(tmp_path, capsys):
    suite = load_script(TOOL)
    with pytest.raises(SystemExit):
        suite.parse_args(['--configs', 'configs/nope.py', '--out-dir',
                          str(tmp_path)])
    assert 'config not found: configs/nope.py' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        suite.parse_args(['--budget-s', '0', '--out-dir', str(tmp_path)])


def test_cfg_options_reach_every_run_and_the_table(tmp_path):
    suite = load_script(TOOL)
    args = suite.parse_args([
        '--configs', CONFIG, '--modes', 'eager', 'compile', '--out-dir',
        str(tmp_path), '--cfg-options', 'model.channels_last=False',
        'model.decode_head.channels=8'
    ])
    runs = suite.plan(args)
    assert len(runs) == 4
    for run in runs:
        cmd = suite.command(args, run, str(tmp_path / 'x.json'))
        i = cmd.index('--cfg-options')
        assert cmd[i + 1:i + 3] == ['model.channels_last=False',
                                    'model.decode_head.channels=8']
    head = suite.markdown([], args).splitlines()[0]
    assert head.endswith('; --cfg-options model.channels_last=False '
                         'model.decode_head.channels=8.')
    plain = suite.parse_args(['--configs', CONFIG, '--out-dir',
                              str(tmp_path)])
    assert '--cfg-options' not in suite.command(plain, runs[0], 'x.json')
    assert suite.markdown([], plain).splitlines()[0].endswith('(medians).')
