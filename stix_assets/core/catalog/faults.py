"""What DuckDB (or the OS) says when the catalog file cannot be used, as catalog errors.

A lock held by another process is no fault (`is_busy`: writers wait and spool, readers wait and
then raise `CatalogBusyError` naming the holder, `holder_pid`). Everything else is named with
the file by `catalog_error`: `CatalogUnreadableError` for a file DuckDB cannot read (not a DuckDB
database, truncated, corrupt blocks, a newer storage version), `CatalogWriteError` for one it
cannot write (read-only file system, permission, disk full). DuckDB reports a full disk at commit
as a `TransactionException`; `is_write_failure` tells it from a write conflict, which is retried.
"""

import re
from pathlib import Path

import duckdb

from stix_assets.core.errors import CatalogError, CatalogUnreadableError, CatalogWriteError
from stix_assets.core.filesystem import write_error

__all__ = ["catalog_error", "holder_pid", "is_busy", "is_write_failure"]

# what DuckDB says when the file system refuses a write, and our words for it
_WRITE_FAILURES = (
    ("No space left on device", "disk full (ENOSPC)"),
    ("Disk quota exceeded", "disk quota exceeded (EDQUOT)"),
    ("Read-only file system", "read-only file system (EROFS)"),
    ("Permission denied", "permission denied (EACCES)"),
)
_NOT_A_DATABASE = "not a valid DuckDB database"
_HOLDER_PID = re.compile(r"\(PID (\d+)\)")


def is_busy(err: duckdb.Error) -> bool:
    """Lock held by another process, or this process has the file open (attached) already."""
    text = str(err)
    return any(
        marker in text
        for marker in ("Could not set lock", "different configuration", "Unique file handle")
    )


def holder_pid(err: duckdb.Error) -> int | None:
    """The process DuckDB names as the holder of the lock, if any."""
    found = _HOLDER_PID.search(str(err))
    return int(found.group(1)) if found else None


def is_write_failure(err: duckdb.Error) -> bool:
    """A failed commit or write because of the file system (not a transaction conflict)."""
    text = str(err)
    return any(marker in text for marker, _ in _WRITE_FAILURES) or "Could not write" in text


def catalog_error(err: Exception, path: Path) -> CatalogError:
    """The catalog error that names a DuckDB or OS failure on the catalog file ``path``."""
    if isinstance(err, OSError):
        return CatalogWriteError(write_error(err, path).reason, path=err.filename or path)
    text = str(err)
    for marker, reason in _WRITE_FAILURES:
        if marker in text:
            return CatalogWriteError(reason, path=path)
    if _NOT_A_DATABASE in text:
        return CatalogUnreadableError(
            "not a DuckDB database file (corrupt, or another kind of file)", path=path
        )
    detail = text.splitlines()[0] if text else type(err).__name__
    for prefix in ("IO Error: ", "FATAL Error: ", "TransactionContext Error: "):
        detail = detail.removeprefix(prefix)
    if isinstance(err, duckdb.TransactionException) or "Could not write" in text:
        return CatalogWriteError(detail, path=path)
    return CatalogUnreadableError(detail, path=path)
