"""Checkpoint files of a run: which one to resume from, and writing them
atomically.

Used by :class:`~mmrrsis.engine.hooks.SafeCheckpointHook`; plain functions
so that tools and tests can ask the same questions.
"""
import os
import os.path as osp
import re
from typing import List, Optional, Tuple

#: Suffix of a checkpoint being written; renamed to its final name once
#: complete, so a kill during a save never leaves a cut-off ``*.pth``.
TMP_SUFFIX = '.tmp'


def is_inside(path: str, root: str) -> bool:
    """Whether ``path`` lies in the folder ``root`` (symlinks resolved)."""
    path, root = osp.realpath(path), osp.realpath(root)
    try:
        return osp.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


def fsync_path(path: str) -> None:
    """Flush a file (or a folder's entries) to disk; best effort."""
    flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) * osp.isdir(path)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or None when it can.

    The file is loaded with mmrrsis' safe loader, its tensors memory-mapped
    (not read), and must hold what ``Runner.resume`` reads (``meta`` with
    ``epoch`` and ``iter``, ``message_hub``).

    Args:
        path (str): A local checkpoint file.

    Returns:
        str | None: One line naming the problem (a cut-off file, not a
        checkpoint, no training state, ...), or None.
    """
    from mmrrsis.utils.compat import safe_torch_load
    if not osp.isfile(path):
        return 'the file does not exist'
    try:
        ckpt = safe_torch_load(path, map_location='cpu', mmap=True)
    except Exception as err:  # any reason it cannot be loaded
        msg = str(err).strip().splitlines()[0] if str(err).strip() else ''
        return f'it does not load ({type(err).__name__}: {msg})'
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or 'iter' not in meta or \
            'epoch' not in meta or 'message_hub' not in ckpt:
        return ('it holds no training state (meta/message_hub): weights '
                'only, e.g. a best_* or published checkpoint')
    return None


def _step_pattern(filename_tmpl: str) -> 're.Pattern':
    return re.compile('^' + re.escape(filename_tmpl).replace(
        re.escape('{}'), r'(\d+)') + '$')


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path written in ``work_dir/last_checkpoint`` (None when the file
    is missing or empty)."""
    save_file = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(save_file):
        return None
    with open(save_file) as f:
        text = f.read().strip()
    return text or None


def resume_candidates(work_dir: str,
                      ckpt_dir: Optional[str] = None,
                      filename_tmpl: str = 'iter_{}.pth') -> List[str]:
    """The checkpoints of a run to try for resuming, best first.

    MMEngine resumes from the path written in ``last_checkpoint``, an
    absolute path, so a copy of a run would resume from (and go on to
    manage) the original's files. Here only the file *name* written there
    is used, looked up in ``ckpt_dir``: it comes first, then the older
    checkpoints named by ``filename_tmpl``, newest first (the fallbacks when
    it does not load). Newer-numbered files than the one
    ``last_checkpoint`` names are left out (leftovers of an earlier run in
    the same folder). Without ``last_checkpoint``, every file named by
    ``filename_tmpl``, newest first.

    Args:
        work_dir (str): The run's work dir (holds ``last_checkpoint``).
        ckpt_dir (str, optional): Where the checkpoints are. Defaults to
            ``work_dir``.
        filename_tmpl (str): The checkpoint hook's file name template.

    Returns:
        list[str]: Paths inside ``ckpt_dir``.
    """
    ckpt_dir = ckpt_dir or work_dir
    pattern = _step_pattern(filename_tmpl)
    steps = {}
    if osp.isdir(ckpt_dir):
        for name in os.listdir(ckpt_dir):
            match = pattern.match(name)
            if match and osp.isfile(osp.join(ckpt_dir, name)):
                steps[name] = int(match.group(1))
    ordered = sorted(steps, key=lambda n: -steps[n])
    last = read_last_checkpoint(work_dir)
    if last is None:
        return [osp.join(ckpt_dir, n) for n in ordered]
    last_name = osp.basename(last)
    first = [last_name] if osp.isfile(osp.join(ckpt_dir, last_name)) else []
    if last_name in steps:
        older = [n for n in ordered if steps[n] < steps[last_name]]
    else:
        older = [n for n in ordered if n != last_name]
    return [osp.join(ckpt_dir, n) for n in first + older]


def find_resumable_checkpoint(
        work_dir: str,
        ckpt_dir: Optional[str] = None,
        filename_tmpl: str = 'iter_{}.pth'
) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The newest checkpoint of a run that can be resumed from.

    Args:
        work_dir (str): The run's work dir (holds ``last_checkpoint``).
        ckpt_dir (str, optional): Where the checkpoints are. Defaults to
            ``work_dir``.
        filename_tmpl (str): The checkpoint hook's file name template.

    Returns:
        tuple: ``(path or None, skipped)``; ``skipped`` lists
        ``(path, reason)`` for the newer candidates that do not load.
    """
    skipped = []
    for path in resume_candidates(work_dir, ckpt_dir, filename_tmpl):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped


def leftover_tmp_files(ckpt_dir: str) -> List[str]:
    """Incomplete checkpoints (``*.pth.tmp``) left by interrupted saves."""
    if not osp.isdir(ckpt_dir):
        return []
    return sorted(
        osp.join(ckpt_dir, n) for n in os.listdir(ckpt_dir)
        if n.endswith('.pth' + TMP_SUFFIX)
        and osp.isfile(osp.join(ckpt_dir, n)))
