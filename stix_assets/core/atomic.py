"""Atomic file writes, all-or-none groups of them, and what a failed or killed writer leaves.

Every file of the archive is written to a temporary file in its target directory, flushed to disk
and renamed over the target with `os.replace`: a reader sees the old file or the new one, never
half of one. A process killed mid-write leaves its temporary file; the name of that file says
which host and process wrote it (``.tmp-<target>.<host>.<pid>.<random>``), so the next writer in
the folder removes it once that process is gone (same host) or the file is older than
``max_age_s`` (another host, where liveness cannot be checked).

`StagedWrites` makes a group of such writes (the files of one level-day) all or none: inside its
block `atomic_path` keeps each finished temporary file instead of renaming it, so a full disk or
any other failure strikes before any file of the group is in place; `StagedWrites.commit` then
renames them all, and keeps the files they replace (as hard links) until the block ends, so that
a failure after the renames (the catalog cannot record them) puts the previous files back. The
active group is a context variable, declared here and reset when its block ends (STYLE 1.8).

A write that fails because of the file system raises an `ArchiveWriteError` naming the file
(`stix_assets.core.filesystem.write_error`): `DiskFullError`, `ArchiveReadOnlyError`, or the plain
class for a missing folder or a denied permission.
"""

import contextlib
import contextvars
import ctypes
import errno
import fcntl
import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from types import TracebackType

from stix_assets.core.filesystem import write_error

__all__ = [
    "TMP_PREFIX",
    "StagedWrites",
    "atomic_path",
    "locked_folder",
    "remove_stale_temporaries",
]

logger = logging.getLogger(__name__)

TMP_PREFIX = ".tmp-"
"""Start of every temporary file name (readers and globs skip dot files)."""

# errors no read can give: when the body of `atomic_path` raises one, it was writing
_WRITE_ONLY_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})

_ACTIVE: contextvars.ContextVar["StagedWrites | None"] = contextvars.ContextVar(
    "stix_assets_staged_writes", default=None
)
"""The `StagedWrites` whose block is running in this context, if any."""


def _host() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


def _temporary_name(target: Path) -> str:
    return f"{TMP_PREFIX}{target.name}.{_host()}.{os.getpid()}."


# -- one file ----------------------------------------------------------------------------------
def _fsync(path: Path) -> None:
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def _syncfs_call() -> "Callable[[int], int] | None":
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # not Linux: one fsync per file
        return None


_SYNCFS = _syncfs_call()


def _flush_all(paths: Collection[Path]) -> None:
    """Make the content of ``paths`` durable before they are renamed into place.

    One ``syncfs`` per file system instead of one ``fsync`` per file: a level-day writes up to a
    few dozen small files, and their fsyncs were a tenth of a run's write time.
    """
    if _SYNCFS is None or len(paths) < 2:
        for path in paths:
            _fsync(path)
        return
    devices: dict[int, Path] = {}
    for path in paths:
        devices.setdefault(os.stat(path).st_dev, path)
    for path in devices.values():
        fd = os.open(path, os.O_RDONLY)
        try:
            if _SYNCFS(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), str(path))
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is moved onto ``path``.

    The temporary file sits in the same directory (so `os.replace` is an atomic rename), is
    flushed to disk before the rename (fsync; a staged group at its commit), and is removed if
    the body raises. Inside a `StagedWrites`
    block the rename waits for `StagedWrites.commit`.

    Raises
    ------
    ArchiveWriteError
        If the folder or the temporary file cannot be made, or the write, flush or rename fails
        for a reason of the file system (`DiskFullError`, `ArchiveReadOnlyError`, ...). An
        `OSError` of the body that a read could also give (``EACCES`` on a source) propagates.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_temporary_name(path), dir=path.parent)
    except OSError as err:
        raise write_error(err, path) from err
    os.close(fd)
    tmp = Path(tmp_name)
    staged = _ACTIVE.get()
    kept = False
    try:
        try:
            yield tmp
        except OSError as err:
            if err.errno not in _WRITE_ONLY_ERRNOS:
                raise
            raise write_error(err, path) from err
        try:
            if staged is None:  # a staged file is flushed with its group (`StagedWrites.commit`)
                _fsync(tmp)
                os.replace(tmp, path)
        except OSError as err:
            raise write_error(err, path) from err
        if staged is not None:
            staged.add(tmp, path)
            kept = True
    finally:
        if not kept:
            tmp.unlink(missing_ok=True)


# -- a group of files, all or none -------------------------------------------------------------
def _flock_folder(folder: Path) -> int:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
    except OSError as err:
        raise write_error(err, folder) from err
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextlib.contextmanager
def locked_folder(folder: Path | str) -> Iterator[None]:
    """Exclusive ``flock`` on a folder for a read-modify-write of a file in it.

    Inside a `StagedWrites` block the lock is held until the block ends (the file is renamed
    into place only at `StagedWrites.commit`); taking it again in the same block is a no-op.
    Callers that lock several folders inside one block take them in a fixed order (LB: by
    product kind), so two blocks cannot wait on each other.
    """
    folder = Path(folder)
    staged = _ACTIVE.get()
    if staged is not None:
        staged.hold_lock(folder)
        yield
        return
    fd = _flock_folder(folder)
    try:
        yield
    finally:
        _unlock(fd)


class StagedWrites:
    """Write a group of files all or none (the files of one level-day).

    Use as ``with StagedWrites() as staged:``. In the block, `atomic_path` (and so every
    `stix_assets.core.fits.write_fits`) leaves each finished temporary file where it is.
    `commit` flushes them to disk together and renames them all into place, keeping each file
    it replaces as a hard link; the block may then record the files (the catalog). When the block ends:

    * normally: a pending group is committed, the kept previous files are removed;
    * by an exception before `commit`: the temporary files are removed, nothing was replaced;
    * by an exception after `commit`: the previous files are put back and the new files that
      had none are removed, so the folder is as before the block.

    Folder locks taken with `locked_folder` in the block are released last. Blocks do not nest.
    """

    def __init__(self) -> None:
        self._staged: dict[Path, Path] = {}  # target -> temporary file
        self._replaced: list[tuple[Path, Path | None]] = []  # committed: (target, previous)
        self._locks: dict[Path, int] = {}
        self._token: contextvars.Token[StagedWrites | None] | None = None

    @property
    def pending(self) -> tuple[Path, ...]:
        """Targets written to temporary files and not yet renamed into place."""
        return tuple(self._staged)

    def __enter__(self) -> "StagedWrites":
        if _ACTIVE.get() is not None:
            raise RuntimeError("StagedWrites blocks do not nest")
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _ACTIVE.reset(self._token)
        try:
            if exc_type is None:
                try:
                    self.commit()
                except BaseException:
                    self._roll_back()  # all or none: undo an earlier explicit commit too
                    raise
                self._drop_previous()
            else:
                self._discard()
                self._roll_back()
        finally:
            for fd in self._locks.values():
                _unlock(fd)
            self._locks.clear()

    def add(self, tmp: Path, target: Path) -> None:
        """Take a finished temporary file of ``target`` (called by `atomic_path`)."""
        earlier = self._staged.pop(target, None)
        if earlier is not None:  # the same file written twice: the last write wins
            earlier.unlink(missing_ok=True)
        self._staged[target] = tmp

    def hold_lock(self, folder: Path) -> None:
        """Lock ``folder`` until the block ends (called by `locked_folder`)."""
        key = Path(os.path.abspath(folder))
        if key not in self._locks:
            self._locks[key] = _flock_folder(key)

    def commit(self) -> list[Path]:
        """Rename every pending file into place; return the targets.

        The files they replace are kept until the block ends. If a rename fails, the renames
        done so far are undone and the pending files removed before the error is raised.

        Raises
        ------
        ArchiveWriteError
            If a previous file cannot be kept or a rename fails.
        """
        staged, self._staged = self._staged, {}
        previous: dict[Path, Path] = {}
        done: list[tuple[Path, Path | None]] = []
        target = None
        try:
            _flush_all(list(staged.values()))
            for target in staged:
                if target.exists():
                    previous[target] = _keep_previous(target)
            for target, tmp in staged.items():
                os.replace(tmp, target)
                done.append((target, previous.get(target)))
        except OSError as err:
            for tmp in staged.values():
                tmp.unlink(missing_ok=True)
            _put_back(done)
            for kept in previous.values():
                kept.unlink(missing_ok=True)
            raise write_error(err, target or Path()) from err
        self._replaced.extend(done)
        if done:
            logger.debug("staged writes committed files=%d", len(done))
        return [t for t, _ in done]

    def _discard(self) -> None:
        for tmp in self._staged.values():
            tmp.unlink(missing_ok=True)
        if self._staged:
            logger.info("staged writes discarded files=%d", len(self._staged))
        self._staged = {}

    def _roll_back(self) -> None:
        if self._replaced:
            logger.warning("staged writes rolled back files=%d", len(self._replaced))
        _put_back(self._replaced)
        self._replaced = []

    def _drop_previous(self) -> None:
        for _, kept in self._replaced:
            if kept is not None:
                kept.unlink(missing_ok=True)
        self._replaced = []


def _keep_previous(target: Path) -> Path:
    """Keep the current content of ``target`` under a temporary name (a hard link if possible)."""
    kept = target.with_name(_temporary_name(target) + secrets.token_hex(4))
    try:
        os.link(target, kept)
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        shutil.copy2(target, kept)  # a file system without hard links
    return kept


def _put_back(replaced: list[tuple[Path, Path | None]]) -> None:
    """Undo committed renames: restore each previous file, remove each file that had none."""
    for target, kept in reversed(replaced):
        try:
            if kept is None:
                target.unlink(missing_ok=True)
            else:
                os.replace(kept, target)
        except OSError as err:
            logger.error("roll back failed file=%s error=%s", target, err)


# -- clean-up of killed writers ----------------------------------------------------------------
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
