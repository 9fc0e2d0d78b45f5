"""Run a tool in a child process with its output in a log file.

The benchmark suite and the GPU training check run one child per
configuration and must keep going when one of them fails or hangs: the
child's stdout and stderr go to a log file, a timeout ends it, and a failed
run keeps the tail of its log beside the figures.
"""
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Dict, Optional, Sequence


@dataclass
class LoggedRun:
    """Outcome of :func:`run_logged`.

    Attributes:
        returncode: the child's exit status, ``None`` when it timed out.
        wall_s: seconds from start to end, rounded to 0.1 s.
        log_path: where stdout and stderr were written.
    """
    returncode: Optional[int]
    wall_s: float
    log_path: str

    def status(self, ok: bool) -> str:
        """``'ok'`` when ``ok`` holds, else why the run did not succeed.

        ``ok`` is the caller's own success test (say, its JSON was written);
        a zero exit that fails it reads ``'failed (exit 0)'``.
        """
        if ok:
            return 'ok'
        if self.returncode is None:
            return 'timeout'
        return f'failed (exit {self.returncode})'

    def tail(self, chars: int = 2000) -> str:
        """The last ``chars`` characters of the log."""
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()[-chars:]


def run_logged(cmd: Sequence[str], log_path: str, cwd: Optional[str] = None,
               timeout: Optional[float] = None,
               env: Optional[Dict[str, str]] = None) -> LoggedRun:
    """Run ``cmd`` with stdout and stderr in ``log_path``, within ``timeout``.

    Python children run unbuffered, so a killed run's log ends where it was.
    A timeout is not an exception here: it comes back as
    ``returncode=None``.
    """
    env = dict(os.environ if env is None else env, PYTHONUNBUFFERED='1')
    start = time.perf_counter()
    with open(log_path, 'w', encoding='utf-8') as log:
        try:
            rc = subprocess.run(list(cmd), cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT, timeout=timeout,
                                env=env).returncode
        except subprocess.TimeoutExpired:
            rc = None
    return LoggedRun(rc, round(time.perf_counter() - start, 1), log_path)
