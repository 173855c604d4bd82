"""What the file system says when it refuses a write, as the archive errors of `core.errors`.

`write_error` names an `OSError` (``ENOSPC``/``EDQUOT``: `DiskFullError` with the space left;
``EROFS``: `ArchiveReadOnlyError`; otherwise `ArchiveWriteError` with the reason in words).
`is_disk_full` tells a full disk when the writer names no ``errno`` (CFITSIO).
`check_writable_folder` makes the same diagnosis up front, before a run does any work.
"""

import errno
import os
import socket
import tempfile
from pathlib import Path

from stix_assets.core.errors import ArchiveReadOnlyError, ArchiveWriteError, DiskFullError

__all__ = ["check_writable_folder", "free_bytes", "is_disk_full", "write_error"]

_REASONS = {
    errno.EACCES: "permission denied (EACCES)",
    errno.EPERM: "operation not permitted (EPERM)",
    errno.ENOENT: "folder missing (ENOENT)",
    errno.ENOTDIR: "not a folder (ENOTDIR)",
}


def free_bytes(folder: Path | str) -> int | None:
    """Space left to this process on the file system of ``folder`` (or its nearest ancestor).

    Root may use the blocks reserved for it, so for root this is the free space, else the space
    available to unprivileged users. ``None`` if it cannot be found out.
    """
    folder = Path(folder)
    for candidate in (folder, *folder.parents):
        try:
            st = os.statvfs(candidate)
        except OSError:
            continue
        blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
        return blocks * st.f_frsize
    return None


def write_error(err: OSError, path: Path | str) -> ArchiveWriteError:
    """The `ArchiveWriteError` for an `OSError` met while writing ``path``.

    ``ENOSPC``/``EDQUOT`` give `DiskFullError` (with the space left), ``EROFS``
    `ArchiveReadOnlyError`, anything else the plain class with the reason in words.
    """
    if err.errno == errno.ENOSPC:
        return DiskFullError(path=path, free_bytes=free_bytes(Path(path).parent))
    if err.errno == errno.EDQUOT:
        return DiskFullError(
            path=path,
            free_bytes=free_bytes(Path(path).parent),
            reason="disk quota exceeded (EDQUOT)",
        )
    if err.errno == errno.EROFS:
        return ArchiveReadOnlyError(path=path)
    reason = _REASONS.get(err.errno or -1) or (err.strerror or str(err)).splitlines()[0]
    return ArchiveWriteError(reason, path=path)


def is_disk_full(folder: Path | str, *, needed_bytes: int) -> bool:
    """Whether less than ``needed_bytes`` is left on the file system of ``folder``.

    For a failed write that names no ``errno`` (CFITSIO reports a full disk as status 106/107,
    "error writing to FITS file" / "tried to move past end of file"): if the file would not
    have fitted, the disk was full.
    """
    free = free_bytes(folder)
    return free is not None and free < needed_bytes


def check_writable_folder(folder: Path | str) -> Path:
    """Make sure ``folder`` exists (or can be made, below an existing parent) and takes files.

    A probe file is created and removed, since permission bits do not tell (root ignores them;
    a read-only mount does not).

    Returns
    -------
    The folder, absolute.

    Raises
    ------
    ArchiveWriteError
        With the reason: the parent folder is missing, ``folder`` is not a folder, permission
        denied; `ArchiveReadOnlyError` on a read-only file system; `DiskFullError` when not
        even an empty file can be made.
    """
    folder = Path(os.path.abspath(folder))
    if folder.exists() and not folder.is_dir():
        raise ArchiveWriteError("not a folder", path=folder)
    if not folder.exists():
        if not folder.parent.is_dir():
            raise ArchiveWriteError(
                f"missing, and its parent folder {folder.parent} does not exist", path=folder
            )
        try:
            folder.mkdir(exist_ok=True)
        except OSError as err:
            raise write_error(err, folder) from err
    try:
        # named like a temporary of `stix_assets.core.atomic`: a leftover is cleaned as stale
        host = socket.gethostname().split(".")[0] or "localhost"
        fd, probe = tempfile.mkstemp(prefix=f".tmp-probe.{host}.{os.getpid()}.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise write_error(err, folder) from err
    return folder
