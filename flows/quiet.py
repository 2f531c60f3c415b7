"""Keep the libraries' own output off the user's terminal during ``bayesopt run``.

MLflow, Prefect, JAX (through absl and XLA, from C++), PyTorch and Dask's workers
write warnings, progress bars and log lines to the standard error stream. During a
run, without ``--verbose``, that stream (file descriptor 2, so output from C code and
from child processes started meanwhile is caught as well) goes to a log file beside
the trial store instead; the terminal shows the progress bar and what the command
itself says. Nothing is thrown away: the log keeps every line, under a header per run.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path


class LibraryLog:
    """Where the standard error of a run went, and how much it received."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = 0
        self.end = 0

    @property
    def lines(self) -> int:
        """Lines the libraries wrote during the run."""
        if self.end <= self.start:
            return 0
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read(self.end - self.start).count(b"\n")


@contextlib.contextmanager
def stderr_to_log(path: Path, title: str) -> Iterator[LibraryLog]:
    """Send this process's standard error (file descriptor 2) to ``path`` meanwhile.

    The file is appended to, after a header line with ``title`` and the time. On the
    way out, whatever the way, the terminal gets its standard error back.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    log = LibraryLog(path)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as out:
        out.write(f"== {title} at {time.strftime('%Y-%m-%d %H:%M:%S')} ==\n".encode())
        out.flush()
        log.start = out.tell()
        os.dup2(out.fileno(), 2)
    try:
        yield log
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        log.end = path.stat().st_size
