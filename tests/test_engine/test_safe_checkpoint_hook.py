"""SafeCheckpointHook: atomic saves (a kill during a save leaves no
unreadable latest checkpoint), resuming from the work dir given (a copied
run), fallback past a cut-off checkpoint, no deletion outside the run."""
import hashlib
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(HERE))
sys.path.insert(0, HERE)
from toy_runner import build_toy_runner  # noqa: E402

from mmrrsis.engine.hooks import SafeCheckpointHook  # noqa: E402
from mmrrsis.engine.hooks.checkpoint_files import (  # noqa: E402
    checkpoint_problem, find_resumable_checkpoint, resume_candidates)


def _digests(folder):
    """{relative path: sha256} of every file under ``folder``."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = osp.join(root, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, folder)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


def _truncate(path, keep=0.5):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep)])


def _log_text(work_dir):
    """The text of every MMEngine log file of runs in ``work_dir``."""
    texts = []
    for root, _, files in os.walk(work_dir):
        texts += [open(osp.join(root, n)).read() for n in files
                  if n.endswith('.log')]
    return '\n'.join(texts)


def _finish(runner):
    """Detach a finished in-process run's log files (its logger lives on in
    this process and would write into the run's folder)."""
    import logging
    for handler in list(runner.logger.handlers):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            runner.logger.removeHandler(handler)


def test_registered_without_shadowing_mmengine():
    from mmengine.hooks import CheckpointHook
    from mmengine.registry import HOOKS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        hook = HOOKS.build(dict(type='SafeCheckpointHook', interval=1))
        plain = HOOKS.build(dict(type='CheckpointHook', interval=1))
    assert isinstance(hook, SafeCheckpointHook)
    # importing mmrrsis leaves other configs' CheckpointHook alone
    assert type(plain) is CheckpointHook
    for cfg in ('configs/_base_/schedules/schedule_40e.py',
                'configs/lavt/lavt_tiny_synthetic.py'):
        from mmengine.config import Config
        assert Config.fromfile(cfg).default_hooks.checkpoint.type == \
            'SafeCheckpointHook', cfg


def test_saves_are_renamed_into_place(tmp_path, monkeypatch):
    """Every checkpoint is written as NAME.tmp and renamed to NAME."""
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((osp.basename(src), osp.basename(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', spy)
    runner = build_toy_runner(tmp_path / 'run', max_iters=2, val_interval=1,
                              save_best='acc', rule='greater')
    runner.train()
    names = sorted(os.listdir(tmp_path / 'run'))
    assert 'iter_2.pth' in names and 'best_acc_iter_2.pth' in names
    assert not [n for n in names if n.endswith('.tmp')], names
    assert ('iter_2.pth.tmp', 'iter_2.pth') in replaced
    assert ('best_acc_iter_2.pth.tmp', 'best_acc_iter_2.pth') in replaced
    for name in names:
        if name.endswith('.pth'):
            problem = checkpoint_problem(str(tmp_path / 'run' / name))
            assert problem is None or 'no training state' in problem


def test_copied_run_resumes_from_its_own_files(tmp_path):
    """A copy of a run resumes from the copy's checkpoint and manages the
    copy's best checkpoint; the original stays byte for byte."""
    orig, copy = tmp_path / 'orig', tmp_path / 'copy'
    first = build_toy_runner(orig, max_iters=2, val_interval=1,
                             save_best='acc', rule='greater')
    first.train()
    _finish(first)
    assert (orig / 'best_acc_iter_2.pth').is_file()
    assert (orig / 'last_checkpoint').read_text().strip() == str(
        orig / 'iter_2.pth')
    shutil.copytree(orig, copy)
    before = _digests(orig)
    # every evaluation of the resumed run beats the original's best, so
    # the hook replaces "the previous best" (MMEngine: the original's file)
    runner = build_toy_runner(copy, max_iters=3, resume=True,
                              val_interval=1, acc_start=100,
                              save_best='acc', rule='greater')
    runner.train()
    assert _digests(orig) == before, 'the original run was changed'
    log = _log_text(copy)
    assert f'Load checkpoint from {copy / "iter_2.pth"}' in log, log[-3000:]
    # the copy's own best was replaced
    assert (copy / 'best_acc_iter_3.pth').is_file()
    assert not (copy / 'best_acc_iter_2.pth').exists()
    assert runner.message_hub.get_info('best_ckpt') == str(
        copy / 'best_acc_iter_3.pth')


def test_never_deletes_outside_its_folder(tmp_path):
    """A best-checkpoint path outside the run (message hub) is not
    deleted, whatever the run does."""
    outside = tmp_path / 'elsewhere' / 'best_acc_iter_1.pth'
    outside.parent.mkdir()
    outside.write_bytes(b'precious')
    run = tmp_path / 'run'
    hook = SafeCheckpointHook(interval=1, by_epoch=False, save_best='acc',
                              rule='greater')
    runner = build_toy_runner(run, max_iters=1, val_interval=1,
                              save_best='acc', rule='greater')
    runner.train()
    hook.before_train(runner)
    hook.best_ckpt_path = str(outside)  # as a copied message hub holds
    hook._save_best_checkpoint(runner, dict(acc=1e9))
    assert outside.read_bytes() == b'precious'
    assert (run / 'best_acc_iter_1.pth').is_file()


def test_resume_skips_truncated_latest(tmp_path):
    run = tmp_path / 'run'
    build_toy_runner(run, max_iters=2).train()
    _truncate(run / 'iter_2.pth')
    path, skipped = find_resumable_checkpoint(str(run))
    assert path == str(run / 'iter_1.pth')
    assert [p for p, _ in skipped] == [str(run / 'iter_2.pth')]
    assert 'incomplete checkpoint' in skipped[0][1]
    runner = build_toy_runner(run, max_iters=3, resume=True)
    runner.train()
    log = _log_text(run)
    assert f'Skipping {run / "iter_2.pth"} for resuming' in log
    assert 'central directory' in log
    assert f'Load checkpoint from {run / "iter_1.pth"}' in log
    assert 'resumed epoch: 0, iter: 1' in log
    assert runner.iter == 3
    assert checkpoint_problem(str(run / 'iter_2.pth')) is None  # re-saved


def test_resume_candidates(tmp_path):
    run = tmp_path / 'run'
    run.mkdir()
    for step in (2, 4, 6, 8):
        (run / f'iter_{step}.pth').write_bytes(b'x')
    (run / 'best_acc_iter_6.pth').write_bytes(b'x')
    # no last_checkpoint: all, newest first
    assert [osp.basename(p) for p in resume_candidates(str(run))] == [
        'iter_8.pth', 'iter_6.pth', 'iter_4.pth', 'iter_2.pth']
    # last_checkpoint of another folder (a copy): its name, here; newer
    # leftovers of an earlier run are not candidates
    (run / 'last_checkpoint').write_text('/somewhere/else/iter_6.pth')
    assert resume_candidates(str(run)) == [
        str(run / 'iter_6.pth'), str(run / 'iter_4.pth'),
        str(run / 'iter_2.pth')]


def test_nothing_loads_is_an_error(tmp_path):
    run = tmp_path / 'run'
    build_toy_runner(run, max_iters=1).train()
    _truncate(run / 'iter_1.pth')
    with pytest.raises(RuntimeError, match='no checkpoint in .* can be '
                       'loaded'):
        build_toy_runner(run, max_iters=2, resume=True).train()


_KILL_SCRIPT = r'''
import os, sys, time
sys.path.insert(0, {here!r})
from toy_runner import build_toy_runner
work_dir, mode = sys.argv[1], sys.argv[2]
runner = build_toy_runner(work_dir, max_iters=1, big=8_000_000)
runner.train()  # iter_1.pth, complete, named in last_checkpoint
from mmengine.fileio.backends import LocalBackend


def put(self, obj, filepath):
    """Write half of the checkpoint, then wait to be killed."""
    with open(filepath, 'wb') as f:
        f.write(obj[:len(obj) // 2])
        f.flush()
        os.fsync(f.fileno())
    print('HALF-WRITTEN', filepath, flush=True)
    time.sleep(300)


LocalBackend.put = put
hook = [h for h in runner.hooks if type(h).__name__.endswith(
    'CheckpointHook')][0]
step = 1 if mode == 'resave' else 2
# 'resave': what MMEngine does after a better validation score (the latest
# checkpoint written again); 'next': the next periodic checkpoint
hook._save_checkpoint_with_step(runner, step, dict(epoch=0, iter=step))
'''


@pytest.mark.parametrize('mode', ['resave', 'next'])
def test_kill_during_save_leaves_no_unreadable_checkpoint(tmp_path, mode):
    """SIGKILL while a 32 MB checkpoint is being written: every *.pth and
    the file last_checkpoint names still load, and the run resumes."""
    script = tmp_path / 'save_and_die.py'
    script.write_text(_KILL_SCRIPT.format(here=HERE))
    run = tmp_path / 'run'
    log_file = tmp_path / 'save_and_die.log'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore',
               PYTHONPATH=REPO_ROOT)
    with open(log_file, 'w') as log:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(run), mode], stdout=log,
            stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.time() + 240
            while 'HALF-WRITTEN' not in log_file.read_text():
                assert proc.poll() is None, log_file.read_text()[-3000:]
                assert time.time() < deadline, log_file.read_text()[-3000:]
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)
    out = log_file.read_text()
    assert proc.returncode == -signal.SIGKILL, out[-3000:]
    half = out.split('HALF-WRITTEN', 1)[1].split()[0]
    step = 1 if mode == 'resave' else 2
    assert osp.basename(half).startswith(f'iter_{step}.pth')

    latest = (run / 'last_checkpoint').read_text().strip()
    assert osp.basename(latest) == 'iter_1.pth'
    assert checkpoint_problem(latest) is None
    for name in os.listdir(run):
        if name.endswith('.pth'):
            assert checkpoint_problem(str(run / name)) is None, name
    assert not (run / 'iter_2.pth').exists()
    # the next run resumes from iter_1 and removes the leftover
    runner = build_toy_runner(run, max_iters=2, resume=True, big=8_000_000)
    runner.train()
    assert runner.iter == 2
    assert not [n for n in os.listdir(run) if n.endswith('.tmp')]
    assert f'Load checkpoint from {run / "iter_1.pth"}' in _log_text(run)
