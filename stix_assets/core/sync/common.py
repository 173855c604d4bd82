"""What every sync step shares: its error types, the per-job lock and the writable-target probe."""

import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stix_assets.core.errors import StixError

__all__ = [
    "SyncError",
    "SyncLockedError",
    "check_writable",
    "sync_lock",
]

logger = logging.getLogger(__name__)


class SyncError(StixError):
    """A sync step failed: unreachable source, tool error, bad repository, unwritable target."""

    def __init__(
        self, message: str, *, step: str, location: str | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.step = step
        self.location = location
        self.code = code

    def _fields(self) -> dict[str, object]:
        return {"step": self.step, "location": self.location, "code": self.code}


class SyncLockedError(SyncError):
    """Another run of the same sync job holds its lock."""


@contextmanager
def sync_lock(lock_dir: Path, job: str, *, wait_s: float = 0.0) -> Iterator[Path]:
    """Hold the exclusive ``flock`` of ``<lock_dir>/<job>.lock`` for the block.

    The lock is released by the kernel when the process dies, so a crashed run never leaves a
    stale lock behind.

    Raises
    ------
    SyncLockedError
        If another process holds the lock for longer than ``wait_s`` seconds.
    """
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{job}.lock"
    deadline = time.monotonic() + wait_s
    with path.open("a+") as fh:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncLockedError(
                        f"another {job} sync is running", step=job, location=str(path)
                    ) from None
                time.sleep(0.05)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            yield path
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def check_writable(folder: Path, *, step: str) -> None:
    """Create and remove a probe file in ``folder``.

    Raises
    ------
    SyncError
        If the folder is missing or not writable (read-only mount, permissions, immutable).
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".stix-write-probe-", dir=folder)
    except OSError as err:
        raise SyncError(
            f"target folder is not writable: {err.strerror}", step=step, location=str(folder)
        ) from err
    os.close(fd)
    os.unlink(probe)
