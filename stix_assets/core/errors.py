"""Exception and warning tree of stix_assets.

Errors carry structured fields (file, packet index, SPID, ...) so a caller can record them in the
catalog and in materialization metadata; ``str()`` renders them as ``key=value`` pairs.
"""

import logging
import warnings

__all__ = [
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


class StixError(Exception):
    """Base class of every error raised by stix_assets."""

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
