"""The archive mirror: ``rsync -a -L --delete`` of the FITS archive to the NAS target."""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from stix_assets.core.config import is_remote
from stix_assets.core.sync.common import SyncError, check_writable
from stix_assets.core.sync.rsync import RsyncResult, _as_folder, rsync

__all__ = [
    "MirrorResult",
    "mirror_archive",
]

logger = logging.getLogger(__name__)


_MIRROR_EXCLUDES = ("*.duckdb", "*.duckdb.wal", "*.spool/", ".*.tmp")


@dataclass(frozen=True, slots=True)
class MirrorResult:
    """What the archive mirror changed."""

    target: str
    rsync: RsyncResult = field(default_factory=RsyncResult)

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {"target": self.target, **self.rsync.as_metadata()}


def mirror_archive(
    archive_dir: Path,
    target: str | Path,
    *,
    timeout_s: int = 300,
    ssh_options: str = "",
) -> MirrorResult:
    """``rsync -a -L --delete`` of the FITS archive to the NAS mirror (the catalog excluded).

    A local target must exist and be writable (checked with a probe file before rsync runs, so
    a read-only mount fails without touching anything). An empty or missing archive is refused:
    with ``--delete`` it would wipe the mirror (an unmounted archive looks empty).

    Raises
    ------
    SyncError
        For a missing or empty archive, an unwritable target or an rsync failure.
    """
    archive_dir = Path(archive_dir)
    if not archive_dir.is_dir() or not any(archive_dir.iterdir()):
        raise SyncError(
            "archive folder is missing or empty; refusing to mirror it with --delete",
            step="archive_mirror",
            location=str(archive_dir),
        )
    if not is_remote(str(target)):
        if not Path(target).is_dir():
            raise SyncError(
                "mirror target folder does not exist (NAS not mounted?)",
                step="archive_mirror",
                location=str(target),
            )
        check_writable(Path(target), step="archive_mirror")
    options = ["-a", "-L", "--delete", *(f"--exclude={p}" for p in _MIRROR_EXCLUDES)]
    result = rsync(
        _as_folder(archive_dir),
        _as_folder(target),
        options,
        step="archive_mirror",
        timeout_s=timeout_s,
        ssh_options=ssh_options,
    )
    return MirrorResult(str(target), result)
