"""Sync steps that replace the STIXCore cron lines: rsync, stage-and-delay, kernel zips, git, mirror.

Each step calls the real tool (``rsync``, ``git``) in a subprocess and is idempotent: running it
twice gives the same folders. Overlap with itself is prevented by `sync_lock` (``flock`` on a
file per job), so a manual ``stix-assets sync`` and a scheduled run never interleave.

========================  ==================================================================
old cron line             function
========================  ==================================================================
TM rsync (15 min)         `rsync_tm`: ``*PktTmRaw*.xml`` of the source into the waiting folder
stage and delay (30 min)  `plan_stage` + `stage_tm`: waiting -> incoming (see `plan_stage`)
SOC rsync + unzip         `rsync_soc` + `extract_kernel_zips` (catalog-tracked, validated)
STIX-CONF (4 h)           `sync_stix_conf`: fetch tags, check out the latest, ``VERSION.TXT``
NAS mirror (6 h)          `mirror_archive`: ``rsync -a -L --delete`` archive -> NAS
========================  ==================================================================

Failures raise `SyncError` with a message an operator can act on (rsync exit codes are turned
into text); nothing is changed beyond what the failing tool itself did.
"""

from stix_assets.core.sync.common import SyncError, SyncLockedError, check_writable, sync_lock
from stix_assets.core.sync.jobs import (
    SpiceSoopResult,
    TmSyncResult,
    run_archive_mirror,
    run_spice_soop_sync,
    run_stix_conf_sync,
    run_tm_sync,
)
from stix_assets.core.sync.kernel_zips import (
    KERNEL_ZIP_PATTERN,
    KernelZipResult,
    extract_kernel_zips,
    find_kernel_zips,
)
from stix_assets.core.sync.mirror import MirrorResult, mirror_archive
from stix_assets.core.sync.rsync import RSYNC_EXIT_CODES, RsyncResult, rsync, rsync_soc, rsync_tm
from stix_assets.core.sync.stage import (
    StageDecision,
    WaitingFile,
    kernel_covered_until,
    plan_stage,
    scan_waiting,
    stage_tm,
    tm_scet_end,
)
from stix_assets.core.sync.stix_conf import StixConfResult, sync_stix_conf

__all__ = [
    "KERNEL_ZIP_PATTERN",
    "RSYNC_EXIT_CODES",
    "KernelZipResult",
    "MirrorResult",
    "RsyncResult",
    "SpiceSoopResult",
    "StageDecision",
    "StixConfResult",
    "SyncError",
    "SyncLockedError",
    "TmSyncResult",
    "WaitingFile",
    "check_writable",
    "extract_kernel_zips",
    "find_kernel_zips",
    "kernel_covered_until",
    "mirror_archive",
    "plan_stage",
    "rsync",
    "rsync_soc",
    "rsync_tm",
    "run_archive_mirror",
    "run_spice_soop_sync",
    "run_stix_conf_sync",
    "run_tm_sync",
    "scan_waiting",
    "stage_tm",
    "sync_lock",
    "sync_stix_conf",
    "tm_scet_end",
]
