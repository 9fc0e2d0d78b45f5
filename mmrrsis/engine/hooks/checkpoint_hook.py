"""MMEngine's ``CheckpointHook`` that never loses a run: atomic saves,
resuming from the work dir it is given, no deletion outside it."""
import contextlib
import logging
import os
import os.path as osp
from typing import Iterator, List, Optional, Set

from mmengine.dist import is_main_process
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from .checkpoint_files import (TMP_SUFFIX, find_resumable_checkpoint,
                               fsync_path, is_inside, leftover_tmp_files,
                               read_last_checkpoint)


class _AtomicSaveRunner:
    """The runner as :class:`SafeCheckpointHook` hands it to MMEngine's
    saving code: every attribute is the runner's, except that
    ``save_checkpoint`` writes ``NAME.tmp``, flushes it to disk and renames
    it to ``NAME`` (an atomic replace on POSIX and Windows)."""

    def __init__(self, runner, saved: Set[str]) -> None:
        self.__dict__['_runner'] = runner
        self.__dict__['_saved'] = saved

    def __getattr__(self, name):
        return getattr(self.__dict__['_runner'], name)

    def __setattr__(self, name, value):
        setattr(self.__dict__['_runner'], name, value)

    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs):
        runner = self.__dict__['_runner']
        runner.save_checkpoint(out_dir, filename + TMP_SUFFIX, *args,
                               **kwargs)
        if not is_main_process():  # Runner.save_checkpoint is master-only
            return
        tmp = osp.join(out_dir, filename + TMP_SUFFIX)
        final = osp.join(out_dir, filename)
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(out_dir)
        self.__dict__['_saved'].add(osp.realpath(final))


class _GuardedBackend:
    """A file backend whose ``remove``/``rmtree`` never touch anything
    outside ``root`` and, inside a :meth:`deferred` block, wait until the
    block has ended without error (so a checkpoint is deleted only once
    its successor is on disk)."""

    def __init__(self, backend, root: str) -> None:
        self._backend = backend
        self._root = root
        self._pending: Optional[List] = None
        self._refused: Set[str] = set()

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def _allowed(self, path) -> bool:
        if is_inside(str(path), self._root):
            return True
        if str(path) not in self._refused:
            self._refused.add(str(path))
            print_log(
                f'Not deleting {path}: it is outside this run\'s checkpoint '
                f'folder {self._root} (a copied work dir?). Only files of '
                'the run itself are ever deleted.',
                logger='current', level=logging.WARNING)
        return False

    # MMEngine checks isfile/isdir before it deletes (and then logs "is
    # removed"): a file outside the folder is not there for it
    def isfile(self, path) -> bool:
        return self._allowed(path) and self._backend.isfile(path)

    def isdir(self, path) -> bool:
        return self._allowed(path) and self._backend.isdir(path)

    def remove(self, path) -> None:
        if not self._allowed(path):
            return
        if self._pending is not None:
            self._pending.append(('remove', path))
        else:
            self._backend.remove(path)

    def rmtree(self, path) -> None:
        if not self._allowed(path):
            return
        if self._pending is not None:
            self._pending.append(('rmtree', path))
        else:
            self._backend.rmtree(path)

    @contextlib.contextmanager
    def deferred(self, written: Set[str]) -> Iterator[None]:
        """Queue deletions until the block ends; on success delete them,
        except files written in the block (same name saved again)."""
        if self._pending is not None:  # nested: the outer block decides
            yield
            return
        self._pending = []
        try:
            yield
            pending = self._pending
        finally:
            self._pending = None
        for op, path in pending:
            if osp.realpath(str(path)) in written:
                continue
            if op == 'remove' and self._backend.isfile(path):
                self._backend.remove(path)
            elif op == 'rmtree' and self._backend.isdir(path):
                self._backend.rmtree(path)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """MMEngine's :class:`~mmengine.hooks.CheckpointHook` (same arguments,
    same files) made safe for the checkpoints of a run.

    Registered in MMSeg's ``HOOKS`` as ``SafeCheckpointHook`` (our
    schedules and tiny configs name it; importing mmrrsis changes nothing
    for configs that name ``CheckpointHook``). Differences, for a local
    checkpoint folder (other backends behave as MMEngine's):

    * **Atomic saves.** A checkpoint is written to ``NAME.tmp``, flushed to
      disk, then renamed to ``NAME``. A kill during a save (power loss, a
      preempted job) leaves the previous checkpoints whole and at most a
      ``*.pth.tmp``, which the next run deletes. MMEngine writes in place,
      and re-saves the latest checkpoint after a better validation score,
      so a kill there left the file that ``last_checkpoint`` names cut off.
    * **Old checkpoints are deleted after the new one is saved**
      (``max_keep_ckpts``, the previous best), not before as in MMEngine,
      so even ``max_keep_ckpts=1`` never leaves a run without one.
    * **Resume reads the work dir it is given** (``--resume`` without
      ``load_from``). MMEngine loads the absolute path written in
      ``last_checkpoint``: in a copied work dir, the original's file. Here
      only the file name written there is looked up in this run's
      checkpoint folder; if that file does not load (cut off, not a
      checkpoint), the newest older one that does is used, and each one
      skipped is logged with the reason
      (:func:`~mmrrsis.engine.hooks.checkpoint_files.\
find_resumable_checkpoint`). Nothing in the folder: training starts from
      scratch, as in MMEngine; checkpoints but none that loads: an error
      listing them.
    * **Nothing outside the run's checkpoint folder is ever deleted.** The
      message hub of a resumed checkpoint records the best checkpoint's
      absolute path, which MMEngine deletes when the run scores better: in
      a copied work dir, the original's best model. Recorded paths outside
      the folder are mapped to the same name inside it, and every deletion
      outside it is refused with a warning.

    How the hook steers the resume: MMEngine 0.10.7's ``Runner.train``
    calls ``before_run`` on the hooks, then ``load_or_resume``, which
    resumes from ``runner._load_from`` when it is set (else from
    ``last_checkpoint``). ``before_run`` sets it (a private attribute of
    the runner; the runner and its loops are used unchanged otherwise).

    Args: see :class:`mmengine.hooks.CheckpointHook`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._written: Set[str] = set()
        self._out_dir_resolved = False

    # ----------------------------------------------------------- resume
    def _checkpoint_dir(self, runner) -> str:
        """The folder this hook saves to, as ``before_train`` resolves
        ``out_dir`` (``before_run`` comes first)."""
        if self._out_dir_resolved:
            return str(self.out_dir)
        if self.out_dir is None:
            return runner.work_dir
        return osp.join(str(self.out_dir),
                        osp.basename(runner.work_dir.rstrip(osp.sep)))

    def _is_local(self, path: str) -> bool:
        if self.file_client_args is not None:
            return False
        try:
            backend = get_file_backend(path, backend_args=self.backend_args)
        except Exception:  # unknown prefix: let MMEngine report it
            return False
        return isinstance(backend, LocalBackend)

    def before_run(self, runner) -> None:
        """Pick the checkpoint to resume from in this run's own folder and
        delete the ``*.pth.tmp`` of interrupted saves."""
        super().before_run(runner)
        ckpt_dir = self._checkpoint_dir(runner)
        if not self._is_local(ckpt_dir):
            return
        if is_main_process():
            for tmp in leftover_tmp_files(ckpt_dir):
                os.remove(tmp)
                runner.logger.info(
                    f'Deleted {tmp}: an incomplete checkpoint left by an '
                    'interrupted save.')
        if getattr(runner, '_resume', False) and getattr(
                runner, '_load_from', None) is None:
            self._choose_resume_checkpoint(runner, ckpt_dir)

    def _choose_resume_checkpoint(self, runner, ckpt_dir: str) -> None:
        last = read_last_checkpoint(runner.work_dir)
        if last is not None and not is_inside(last, ckpt_dir):
            runner.logger.info(
                f'last_checkpoint names {last}, outside this run\'s folder '
                f'{ckpt_dir} (a copied work dir?): looking for '
                f'{osp.basename(last)} in {ckpt_dir} instead.')
        path, skipped = find_resumable_checkpoint(runner.work_dir, ckpt_dir,
                                                  self.filename_tmpl)
        for bad, why in skipped:
            runner.logger.warning(
                f'Skipping {bad} for resuming: {why}.')
        if path is not None:
            runner.logger.info(
                f'Auto resumed from the latest checkpoint {path}' +
                (f' ({len(skipped)} newer checkpoint(s) skipped, see '
                 'above).' if skipped else '.'))
            runner._load_from = path
            return
        if skipped:
            listing = '; '.join(f'{p}: {w}' for p, w in skipped)
            raise RuntimeError(
                f'Cannot resume: no checkpoint in {ckpt_dir} can be loaded '
                f'({listing}). Move them away to train from scratch, or '
                'set load_from to a checkpoint to resume from.')
        runner.logger.warning(
            f'Nothing to resume in {ckpt_dir} (no checkpoint named '
            f'{self.filename_tmpl.format("N")}): training from scratch.')
        # MMEngine would otherwise load whatever last_checkpoint names
        runner._resume = False

    # ---------------------------------------------------------- bookkeeping
    def before_train(self, runner) -> None:
        """MMEngine's bookkeeping, then keep every recorded checkpoint path
        inside this run's folder and guard deletions."""
        super().before_train(runner)
        self._out_dir_resolved = True
        if not isinstance(self.file_backend, LocalBackend):
            return
        self.file_backend = _GuardedBackend(self.file_backend,
                                            str(self.out_dir))
        hub = runner.message_hub
        if self.save_best is not None:
            if len(self.key_indicators) == 1:
                self.best_ckpt_path = self._own_path(
                    runner, self.best_ckpt_path, 'best_ckpt')
            else:
                for key in self.key_indicators:
                    self.best_ckpt_path_dict[key] = self._own_path(
                        runner, self.best_ckpt_path_dict[key],
                        f'best_ckpt_{key}')
        if 'last_ckpt' in hub.runtime_info:
            self._own_path(runner, hub.get_info('last_ckpt'), 'last_ckpt',
                           log=False)

    def _own_path(self,
                  runner,
                  path: Optional[str],
                  hub_key: str,
                  log: bool = True) -> Optional[str]:
        """``path`` if it is in this run's folder, else the same file name
        there (also written back to the message hub under ``hub_key``)."""
        if not path or is_inside(str(path), str(self.out_dir)):
            return path
        own = osp.join(str(self.out_dir), osp.basename(str(path)))
        if log:
            runner.logger.info(
                f'The resumed checkpoint records {path} as {hub_key}, '
                f'outside this run\'s folder {self.out_dir} (a copied work '
                f'dir?): tracking {own} instead. Files outside the folder '
                'are never deleted.')
        runner.message_hub.update_info(hub_key, own)
        return own

    # -------------------------------------------------------------- saving
    def _atomic(self, runner):
        if isinstance(runner, _AtomicSaveRunner) or not isinstance(
                self.file_backend, (LocalBackend, _GuardedBackend)):
            return runner, contextlib.nullcontext()
        self._written = set()
        ctx = self.file_backend.deferred(self._written) if isinstance(
            self.file_backend, _GuardedBackend) else contextlib.nullcontext()
        return _AtomicSaveRunner(runner, self._written), ctx

    def _save_checkpoint_with_step(self, runner, step, meta):
        runner, ctx = self._atomic(runner)
        with ctx:
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        runner, ctx = self._atomic(runner)
        with ctx:
            super()._save_best_checkpoint(runner, metrics)
