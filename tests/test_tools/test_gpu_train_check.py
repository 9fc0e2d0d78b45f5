"""``tools/misc/gpu_train_check.py``: a paper config's GPU training check,
run here on the tiny config on the CPU, where ``--amp`` (MMEngine's
AmpOptimWrapper) refuses to run: the failure is recorded beside the fp32
figures, which stay."""
import json
import sys

import pytest
from tool_test_utils import CONFIG, load_script, run_tool, tail

TOOL = 'tools/misc/gpu_train_check.py'


def test_tiny_config_fp32_and_amp_on_the_cpu(tmp_path):
    out = tmp_path / 'check'
    rc, log = run_tool(
        [sys.executable, TOOL, '--config', CONFIG, '--iters', '3',
         '--batch-size', '2', '--img-size', '64', '--skip', '1',
         '--out-dir', str(out)], tmp_path / 'check.log', timeout=600)
    assert rc == 1, tail(log)  # the amp run fails on the CPU
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['device'] == 'CPU'
    fp32, amp = summary['runs']
    assert fp32['status'] == 'ok', fp32
    assert fp32['iters_logged'] == 3
    assert fp32['step_s'] > 0
    assert fp32['img_per_s'] == pytest.approx(2 / fp32['step_s'], rel=0.02)
    assert 0 < fp32['loss_last'] < 10 and 0 < fp32['loss_first'] < 10
    assert 'peak_memory_MiB' not in fp32  # no CUDA memory on the CPU
    assert amp['status'].startswith('failed'), amp
    assert 'AmpOptimWrapper' in amp['error']
    table = (out / 'summary.md').read_text()
    assert '| fp32 |' in table and '| amp |' in table
    # the offline config trains on the synthetic set, no validation
    cfg = (out / 'offline_config.py').read_text()
    assert str(out / 'data') in cfg and 'pretrained=False' in cfg


def test_bad_arguments(tmp_path, capsys):
    tool = load_script(TOOL)
    with pytest.raises(SystemExit):
        tool.parse_args(['--config', 'configs/nope.py', '--out-dir',
                         str(tmp_path)])
    assert 'config not found' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args(['--iters', '5', '--skip', '5', '--out-dir',
                         str(tmp_path)])
    assert '--skip (5) must be under --iters (5)' in capsys.readouterr().err
