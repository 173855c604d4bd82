"""Whole sync jobs, as the assets and ``stix-assets sync`` run them, with their results."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from stix_assets.core.catalog import (
    Catalog,
)
from stix_assets.core.config import Settings
from stix_assets.core.sync.kernel_zips import KernelZipResult, extract_kernel_zips, find_kernel_zips
from stix_assets.core.sync.mirror import MirrorResult, mirror_archive
from stix_assets.core.sync.rsync import RsyncResult, rsync_soc, rsync_tm
from stix_assets.core.sync.stage import (
    StageDecision,
    kernel_covered_until,
    plan_stage,
    scan_waiting,
    stage_tm,
)
from stix_assets.core.sync.stix_conf import StixConfResult, sync_stix_conf

__all__ = [
    "SpiceSoopResult",
    "TmSyncResult",
    "run_archive_mirror",
    "run_spice_soop_sync",
    "run_stix_conf_sync",
    "run_tm_sync",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TmSyncResult:
    """One TM sync: what rsync fetched, what was staged (and why), what still waits."""

    rsync: RsyncResult
    staged: tuple[StageDecision, ...]
    waiting: tuple[str, ...]
    covered_until: datetime | None

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            **self.rsync.as_metadata(),
            "staged": {d.name: d.reason for d in self.staged[:200]},
            "n_staged": len(self.staged),
            "n_waiting": len(self.waiting),
            "waiting": list(self.waiting[:50]),
            "spice_covered_until": self.covered_until.isoformat() if self.covered_until else None,
        }


@dataclass(frozen=True, slots=True)
class SpiceSoopResult:
    """One SPICE/SOOP sync: the SOC rsync and the kernel zips extracted."""

    rsync: RsyncResult
    zips: KernelZipResult

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {**self.rsync.as_metadata(), **self.zips.as_metadata()}


def run_tm_sync(settings: Settings, *, now: datetime | None = None) -> TmSyncResult:
    """TM rsync into the waiting folder, then stage and delay into the incoming folder.

    ``now`` is the time the delay is measured against, default the time after the rsync.
    """
    s = settings
    fetched = rsync_tm(
        s.path("tm_source"),
        s.waiting_dir,
        timeout_s=s.rsync_timeout_s,
        ssh_options=s.ssh_options,
    )
    files = scan_waiting(s.waiting_dir, s.incoming_dir)
    covered = kernel_covered_until(s.kernel_dir, margin_s=s.kernel_margin_s)
    now = now or datetime.now(UTC)
    decisions = plan_stage(files, now=now, delay_s=s.tm_stage_delay_s, covered_until=covered)
    stage_tm(s.waiting_dir, s.incoming_dir, decisions)
    moved = {d.name for d in decisions}
    waiting = tuple(f.name for f in files if not f.staged and f.name not in moved)
    return TmSyncResult(fetched, tuple(decisions), waiting, covered)


def run_spice_soop_sync(
    settings: Settings, catalog: Catalog, *, run_id: str | None = None
) -> SpiceSoopResult:
    """SOC exchange rsync, then extraction of the new kernel zips (see `extract_kernel_zips`)."""
    s = settings
    fetched = rsync_soc(
        s.path("soc_source"), s.soc_dir, timeout_s=s.rsync_timeout_s, ssh_options=s.ssh_options
    )
    zips = extract_kernel_zips(find_kernel_zips(s.soc_dir), s.kernel_dir, catalog, run_id=run_id)
    return SpiceSoopResult(fetched, zips)


def run_stix_conf_sync(settings: Settings) -> StixConfResult:
    """Latest STIX-CONF tag checked out in the configured clone (see `sync_stix_conf`)."""
    return sync_stix_conf(settings.stix_conf_dir, remote=settings.stix_conf_remote)


def run_archive_mirror(settings: Settings) -> MirrorResult:
    """The archive mirrored to the NAS target (see `mirror_archive`)."""
    return mirror_archive(
        settings.archive_dir,
        settings.path("mirror_target"),
        timeout_s=settings.rsync_timeout_s,
        ssh_options=settings.ssh_options,
    )
