import os.path as osp
import sys

from mmrrsis.utils.subprocess_log import run_logged


def _py(code):
    return [sys.executable, '-c', code]


def test_output_and_errors_go_to_the_log(tmp_path):
    log = str(tmp_path / 'run.log')
    result = run_logged(
        _py('import sys; print("to stdout"); '
            'print("to stderr", file=sys.stderr); sys.exit(3)'), log)
    assert result.returncode == 3
    text = open(log).read()
    assert 'to stdout' in text and 'to stderr' in text
    assert result.status(result.returncode == 0) == 'failed (exit 3)'
    assert result.tail(10) == text[-10:]


def test_success_is_the_callers_test(tmp_path):
    result = run_logged(_py('pass'), str(tmp_path / 'a.log'))
    assert result.returncode == 0
    assert result.status(True) == 'ok'
    # exit 0 without the expected output is still a failure
    assert result.status(False) == 'failed (exit 0)'


def test_timeout_ends_the_child_and_keeps_its_log(tmp_path):
    log = str(tmp_path / 'slow.log')
    result = run_logged(
        _py('import time; print("started", flush=True); time.sleep(60)'),
        log, timeout=3)
    assert result.returncode is None
    assert result.status(False) == 'timeout'
    assert result.wall_s < 30
    assert 'started' in result.tail()


def test_cwd_and_env(tmp_path):
    out = tmp_path / 'cwd.txt'
    result = run_logged(
        _py('import os; open("cwd.txt", "w").write('
            'os.getcwd() + "|" + os.environ["MMRRSIS_X"] + "|" + '
            'os.environ["PYTHONUNBUFFERED"])'),
        str(tmp_path / 'b.log'), cwd=str(tmp_path),
        env=dict(PATH='/usr/bin:/bin', MMRRSIS_X='seen'))
    assert result.returncode == 0, result.tail()
    cwd, x, unbuffered = out.read_text().split('|')
    assert osp.samefile(cwd, tmp_path)
    assert (x, unbuffered) == ('seen', '1')
