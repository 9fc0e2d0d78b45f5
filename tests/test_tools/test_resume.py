"""Kill ``tools/train.py`` mid-run and resume it with ``--resume``.

Also proves that runner checkpoints save / load / resume under
torch >= 2.6 (``weights_only``) through mmrrsis' safe loader: the subprocess
environment removes ``MMRRSIS_UNSAFE_LOAD``.
"""
import re
import signal
import subprocess
import sys
import time

import pytest
from tool_test_utils import (CONFIG, REPO_ROOT, cfg_options, run_tool, tail,
                             tool_env)

MAX_ITERS = 12
KILL_AFTER = 4  # SIGKILL once iter_4.pth is saved


def _last_saved_iter(work_dir) -> int:
    """Iteration of the checkpoint named in ``last_checkpoint`` (or -1)."""
    try:
        name = (work_dir / 'last_checkpoint').read_text().strip()
    except OSError:
        return -1
    match = re.search(r'iter_(\d+)\.pth$', name)
    return int(match.group(1)) if match else -1


def _train_cmd(work_dir, data_root):
    opts = cfg_options(
        data_root, **{
            'train_cfg.max_iters': MAX_ITERS,
            # no validation before the end (the loop still validates at
            # max_iters)
            'train_cfg.val_interval': 1000,
            'default_hooks.checkpoint.interval': 2,
        })
    return [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
            str(work_dir), '--cfg-options', *opts]


def test_kill_and_resume(refseg_data, tmp_path):
    work_dir = tmp_path / 'work'
    cmd = _train_cmd(work_dir, refseg_data['root'])
    first_log = tmp_path / 'first.log'
    with open(first_log, 'w') as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=tool_env(),
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 240
            # iter_4.pth is complete once the checkpoint hook has recorded
            # it (or a later one) in last_checkpoint
            while _last_saved_iter(work_dir) < KILL_AFTER and \
                    proc.poll() is None:
                if time.time() > deadline:
                    pytest.fail('no checkpoint after 240 s:\n' +
                                tail(first_log.read_text()))
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    first = first_log.read_text(errors='replace')
    assert proc.returncode == -signal.SIGKILL, (
        f'the run ended by itself (exit {proc.returncode}) before it could '
        f'be killed:\n{tail(first)}')
    assert not (work_dir / f'iter_{MAX_ITERS}.pth').exists()

    last_file = (work_dir / 'last_checkpoint').read_text().strip()
    last_iter = int(re.search(r'iter_(\d+)\.pth$', last_file).group(1))
    assert KILL_AFTER <= last_iter < MAX_ITERS

    rc, out = run_tool(cmd + ['--resume'], tmp_path / 'resume.log')
    assert rc == 0, f'resumed run exited {rc}:\n{tail(out, 80)}'
    # resumed from the last checkpoint, at the iteration it was saved at
    assert f'Auto resumed from the latest checkpoint {last_file}' in out, \
        tail(out)
    assert f'resumed epoch: 0, iter: {last_iter}' in out, tail(out)
    logged = [int(i) for i in re.findall(
        rf'Iter\(train\) \[\s*(\d+)/{MAX_ITERS}\]', out)]
    # went on from the next iteration to the end, nothing run twice
    assert logged == list(range(last_iter + 1, MAX_ITERS + 1)), logged

    import mmrrsis  # noqa: F401
    from mmrrsis.utils import safe_torch_load
    final = safe_torch_load(
        str(work_dir / f'iter_{MAX_ITERS}.pth'), map_location='cpu')
    assert final['meta']['iter'] == MAX_ITERS
    # the optimizer state came back: Adam counted every iteration, not only
    # the MAX_ITERS - last_iter of the second run
    states = final['optimizer']['state']
    assert states, 'the optimizer state is empty'
    steps = {int(s['step']) for s in states.values()}
    assert steps == {MAX_ITERS}, (
        f'AdamW steps {sorted(steps)} (expected {MAX_ITERS}; '
        f'{MAX_ITERS - last_iter} means the optimizer was not restored)')
    # the LR schedulers went on counting too
    sched_steps = {s.get('_global_step') for s in final['param_schedulers']}
    assert sched_steps == {MAX_ITERS}, sched_steps


# ---------------------------------------------- copied work dir, cut-off save
FIRST_ITERS = 4  # the original run: iter_2, iter_4, best_oIoU_iter_{2|4}


@pytest.fixture(scope='module')
def finished_run(refseg_data, tmp_path_factory):
    """A ``tools/train.py`` run of 4 iterations (checkpoints every 2,
    validation every 2, best oIoU kept)."""
    work_dir = tmp_path_factory.mktemp('finished_run') / 'orig'
    opts = cfg_options(refseg_data['root'], **{
        'train_cfg.max_iters': FIRST_ITERS,
        'train_cfg.val_interval': 2,
    })
    rc, out = run_tool(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir,
         '--cfg-options', *opts], work_dir.parent / 'orig.log')
    assert rc == 0, f'tools/train.py exited {rc}:\n{tail(out)}'
    return work_dir


def _digests(folder):
    import hashlib
    import os
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


def _resume_cmd(work_dir, data_root, max_iters):
    opts = cfg_options(data_root, **{'train_cfg.max_iters': max_iters,
                                     'train_cfg.val_interval': 2})
    return [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
            str(work_dir), '--resume', '--cfg-options', *opts]


def test_resume_in_copied_work_dir(finished_run, refseg_data, tmp_path):
    """``cp -r orig copy; tools/train.py --resume --work-dir copy``:
    resumes from the copy's checkpoint, replaces the copy's best
    checkpoint, and leaves the original byte for byte."""
    import shutil

    import torch

    import mmrrsis  # noqa: F401
    from mmrrsis.utils import safe_torch_load
    orig = finished_run
    copy = tmp_path / 'copy'
    shutil.copytree(orig, copy)
    before = _digests(orig)
    # the original's best checkpoint, as the message hub records it
    # (absolute, in the original)
    ckpt = safe_torch_load(str(copy / f'iter_{FIRST_ITERS}.pth'),
                           map_location='cpu')
    hub = ckpt['message_hub']['runtime_info']
    best = hub['best_ckpt']
    assert best.startswith(str(orig)) and (copy / best.split('/')[-1]).exists()
    # make the resumed run's first validation a new best, whatever it
    # scores: the hook then deletes "the previous best" (MMEngine: the
    # original's file)
    hub['best_score'] = -1.0
    torch.save(ckpt, str(copy / f'iter_{FIRST_ITERS}.pth'))

    rc, out = run_tool(_resume_cmd(copy, refseg_data['root'],
                                   FIRST_ITERS + 2), tmp_path / 'copy.log')
    assert rc == 0, f'resumed run exited {rc}:\n{tail(out, 80)}'
    assert f'Load checkpoint from {copy}/iter_{FIRST_ITERS}.pth' in out, \
        tail(out)
    assert f'resumed epoch: 0, iter: {FIRST_ITERS}' in out
    assert _digests(orig) == before, 'the original run was changed'
    # the copy's own best was replaced by the new one
    assert not (copy / best.split('/')[-1]).exists()
    assert (copy / f'best_oIoU_iter_{FIRST_ITERS + 2}.pth').is_file()


def test_resume_skips_truncated_latest(finished_run, refseg_data,
                                       tmp_path):
    """The latest checkpoint is cut off (a kill during a save): --resume
    says which file it skips and why, and resumes from the previous one."""
    import shutil
    work = tmp_path / 'work'
    work.mkdir()
    for name in ('iter_2.pth', f'iter_{FIRST_ITERS}.pth'):
        shutil.copy(finished_run / name, work / name)
    latest = work / f'iter_{FIRST_ITERS}.pth'
    (work / 'last_checkpoint').write_text(str(latest))
    data = latest.read_bytes()
    latest.write_bytes(data[:len(data) // 2])

    rc, out = run_tool(_resume_cmd(work, refseg_data['root'],
                                   FIRST_ITERS + 2), tmp_path / 'resume.log')
    assert rc == 0, f'resumed run exited {rc}:\n{tail(out, 80)}'
    assert (f'Skipping {latest} for resuming: it does not load '
            f'(CheckpointFileError: {latest} is an incomplete checkpoint'
            in out), tail(out)
    assert f'Auto resumed from the latest checkpoint {work}/iter_2.pth' \
        in out, tail(out)
    assert 'resumed epoch: 0, iter: 2' in out
    logged = [int(i) for i in re.findall(
        rf'Iter\(train\) \[\s*(\d+)/{FIRST_ITERS + 2}\]', out)]
    assert logged == list(range(3, FIRST_ITERS + 3)), logged
