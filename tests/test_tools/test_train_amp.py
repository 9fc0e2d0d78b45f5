"""``tools/train.py --amp`` on a machine without CUDA stops at once with a
message that says why, instead of MMEngine's assertion after the model,
data and optimizer are built."""
import subprocess
import sys

import pytest
import torch
from tool_test_utils import CONFIG, REPO_ROOT, tool_env


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_amp_on_cpu_is_refused_clearly(tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--amp', '--work-dir',
         str(tmp_path / 'w')],
        cwd=REPO_ROOT, env=tool_env(), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode != 0
    assert '--amp needs a CUDA device' in proc.stderr
    # refused before the runner started: no log or checkpoint was written
    assert not list((tmp_path / 'w').glob('**/*.pth'))
