"""Atomic file writes, and the clean-up of what a killed writer left behind.

Every file of the archive is written to a temporary file in its target directory, flushed to disk
and renamed over the target with `os.replace`: a reader sees the old file or the new one, never
half of one. A process killed mid-write leaves its temporary file; the name of that file says
which host and process wrote it (``.tmp-<target>.<host>.<pid>.<random>``), so the next writer in
the folder removes it once that process is gone (same host) or the file is older than
``max_age_s`` (another host, where liveness cannot be checked).
"""

import contextlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["TMP_PREFIX", "atomic_path", "remove_stale_temporaries"]

logger = logging.getLogger(__name__)

TMP_PREFIX = ".tmp-"
"""Start of every temporary file name (readers and globs skip dot files)."""


def _host() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is moved onto ``path``.

    The temporary file sits in the same directory (so `os.replace` is an atomic rename), is
    fsync'ed before the rename, and is removed if the body raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{TMP_PREFIX}{path.name}.{_host()}.{os.getpid()}."
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _is_stale(tmp: Path, *, now: float, max_age_s: float) -> bool:
    parts = tmp.name.rsplit(".", 3)  # [".tmp-<target>", host, pid, random]
    try:
        age = now - tmp.stat().st_mtime
    except FileNotFoundError:  # its writer renamed or removed it meanwhile
        return False
    if len(parts) == 4 and parts[1] == _host() and parts[2].isdigit():
        return int(parts[2]) != os.getpid() and not _is_alive(int(parts[2]))
    return age > max_age_s


def remove_stale_temporaries(folder: Path | str, *, max_age_s: float = 3600.0) -> list[Path]:
    """Remove temporary files of writers that died in ``folder`` (not recursive).

    Parameters
    ----------
    folder : a folder of the archive
    max_age_s : age after which a temporary file whose writer cannot be checked is stale (s)

    Returns
    -------
    The files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    removed = []
    for tmp in folder.glob(TMP_PREFIX + "*"):
        if tmp.is_file() and _is_stale(tmp, now=now, max_age_s=max_age_s):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
            logger.warning("stale temporary file removed file=%s folder=%s", tmp.name, folder)
    return removed
