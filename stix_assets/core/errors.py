"""Exception and warning tree of stix_assets.

Errors carry structured fields (file, packet index, SPID, ...) so a caller can record them in the
catalog and in materialization metadata; ``str()`` renders them as ``key=value`` pairs.
"""

import logging
import os
import warnings

__all__ = [
    "ArchiveReadOnlyError",
    "ArchiveWriteError",
    "CatalogArchiveMismatchError",
    "CatalogBusyError",
    "CatalogError",
    "CatalogUnavailableError",
    "CatalogUnreadableError",
    "CatalogWriteError",
    "DiskFullError",
    "IDBVersionError",
    "PacketDecodeError",
    "ProductBuildError",
    "PublishError",
    "SpiceCoverageError",
    "SpiceKernelError",
    "StixDataWarning",
    "StixDeprecationWarning",
    "StixError",
    "StixWarning",
    "TMFileError",
    "warn_data",
    "warn_deprecated",
]

logger = logging.getLogger(__name__)


def _rebuild_error(cls: type, args: tuple, state: dict) -> "StixError":
    """Unpickle a `StixError` without calling its keyword-only ``__init__``."""
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class StixError(Exception):
    """Base class of every error raised by stix_assets.

    Picklable with its fields (`__reduce__`), so an error raised in a worker process reaches the
    parent as itself (the default pickling calls ``__init__`` positionally, which the
    keyword-only fields of the subclasses refuse).
    """

    def __reduce__(self) -> tuple:
        return (_rebuild_error, (type(self), self.args, dict(self.__dict__)))

    def _fields(self) -> dict[str, object]:
        return {}

    def __str__(self) -> str:
        base = super().__str__()
        extra = " ".join(f"{k}={v}" for k, v in self._fields().items() if v is not None)
        return f"{base} ({extra})" if extra else base


class TMFileError(StixError):
    """A telemetry file cannot be read at all (not XML, not a SOC response, unreadable)."""

    def __init__(self, message: str, *, file: str) -> None:
        super().__init__(message)
        self.file = file

    def _fields(self) -> dict[str, object]:
        return {"file": self.file}


class PacketDecodeError(StixError):
    """One packet cannot be decoded; the rest of its file is still processed."""

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        packet_index: int | None = None,
        spid: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.file = file
        self.packet_index = packet_index
        self.spid = spid
        self.offset = offset

    def _fields(self) -> dict[str, object]:
        return {
            "file": self.file,
            "packet_index": self.packet_index,
            "spid": self.spid,
            "offset": self.offset,
        }


class IDBVersionError(StixError):
    """No usable IDB for a version label, a path or an on-board time."""


class SpiceCoverageError(StixError):
    """The loaded SPICE kernels do not cover the requested time."""


class SpiceKernelError(StixError):
    """A kernel file, zip or meta-kernel is unusable, or the SPICE pool is in the wrong state."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    def _fields(self) -> dict[str, object]:
        return {"path": self.path}


class ProductBuildError(StixError):
    """A product cannot be built from its input packets or files."""


class PublishError(StixError):
    """A SOAR delivery step failed."""


class ArchiveWriteError(StixError):
    """A file of the archive cannot be written: missing folder, no permission, read-only, full.

    Attributes
    ----------
    path : the file or folder that could not be written
    reason : what went wrong, in words (``"permission denied (EACCES)"``)
    """

    def __init__(self, reason: str, *, path: str | os.PathLike[str], message: str = "") -> None:
        super().__init__(message or f"cannot write the archive: {reason}")
        self.path = str(path)
        self.reason = reason

    def _fields(self) -> dict[str, object]:
        return {"path": self.path}


class ArchiveReadOnlyError(ArchiveWriteError):
    """The archive sits on a read-only file system (``EROFS``)."""

    def __init__(self, *, path: str | os.PathLike[str]) -> None:
        super().__init__("read-only file system (EROFS)", path=path)


class DiskFullError(ArchiveWriteError):
    """No space left on the archive's file system (``ENOSPC``, or a quota: ``EDQUOT``).

    Attributes
    ----------
    path : the file being written
    free_bytes : space left on its file system after the failure (``None`` if unknown)
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike[str],
        free_bytes: int | None,
        reason: str = "disk full (ENOSPC)",
    ) -> None:
        free = "free space unknown" if free_bytes is None else f"{_bytes_text(free_bytes)} free"
        super().__init__(
            reason,
            path=path,
            message=f"{reason}: cannot write {os.path.basename(os.fspath(path))}, {free}",
        )
        self.free_bytes = free_bytes

    def _fields(self) -> dict[str, object]:
        return {"path": self.path, "free_bytes": self.free_bytes}


def _bytes_text(n: int) -> str:
    """``1536`` -> ``'1.5 KiB'`` (binary units)."""
    size, unit = float(n), "B"
    for larger in ("KiB", "MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"


class CatalogError(StixError):
    """The catalog file cannot be used.

    Attributes
    ----------
    path : the catalog file (or its spool folder)
    reason : what went wrong, in words
    """

    def __init__(self, reason: str, *, path: str | os.PathLike[str], message: str = "") -> None:
        super().__init__(message or f"catalog cannot be used: {reason}")
        self.path = str(path)
        self.reason = reason

    def _fields(self) -> dict[str, object]:
        return {"path": self.path}


class CatalogBusyError(CatalogError):
    """The catalog file stayed locked by another process for longer than the timeout.

    Attributes
    ----------
    waited_s : how long the lock was waited for (s)
    holder_pid : the process holding the lock, when DuckDB names it
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str],
        waited_s: float,
        holder_pid: int | None = None,
    ) -> None:
        holder = "" if holder_pid is None else f" (held by PID {holder_pid})"
        super().__init__("locked", path=path, message=f"{message}{holder}")
        self.waited_s = waited_s
        self.holder_pid = holder_pid

    def _fields(self) -> dict[str, object]:
        return {"path": self.path, "waited_s": round(self.waited_s, 3)}


class CatalogUnreadableError(CatalogError):
    """The catalog file is not a DuckDB database this version can read (corrupt, foreign, newer)."""

    def __init__(self, reason: str, *, path: str | os.PathLike[str]) -> None:
        super().__init__(reason, path=path, message=f"catalog unreadable: {reason}")


class CatalogWriteError(CatalogError):
    """The catalog file (or its spool) cannot be written: read-only, no permission, disk full."""

    def __init__(self, reason: str, *, path: str | os.PathLike[str]) -> None:
        super().__init__(reason, path=path, message=f"catalog cannot be written: {reason}")


class CatalogUnavailableError(CatalogError):
    """The catalog server (PostgreSQL) cannot be reached, refuses the login or went away."""

    def __init__(self, reason: str, *, path: str | os.PathLike[str]) -> None:
        super().__init__(reason, path=path, message=f"catalog server unavailable: {reason}")


class CatalogArchiveMismatchError(CatalogError):
    """The catalog database records another archive than the one this process writes.

    Product paths are stored relative to the archive root, so two archives sharing one catalog
    database would mix their rows; the catalog refuses instead.
    """

    def __init__(self, reason: str, *, path: str | os.PathLike[str]) -> None:
        super().__init__(reason, path=path, message=f"catalog belongs to another archive: {reason}")


class StixWarning(Warning):
    """Base class of stix_assets warnings."""


class StixDataWarning(StixWarning, UserWarning):
    """A recoverable oddity in the data (logged, recorded, processing goes on)."""


class StixDeprecationWarning(StixWarning, FutureWarning):
    """A stix_assets API that will go away."""


def warn_data(message: str, *, stacklevel: int = 3) -> None:
    """Issue a `StixDataWarning`; the only sanctioned way to warn about data."""
    warnings.warn(message, StixDataWarning, stacklevel=stacklevel)


def warn_deprecated(message: str, *, stacklevel: int = 3) -> None:
    """Issue a `StixDeprecationWarning`."""
    warnings.warn(message, StixDeprecationWarning, stacklevel=stacklevel)
