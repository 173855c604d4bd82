"""Sync assets: each replaces one STIXCore cron line and runs the real tool (rsync, git).

``sync/tm``
    rsync of ``*PktTmRaw*.xml`` into the waiting folder, then stage and delay into the incoming
    folder (the inbox sensor takes it from there).
``sync/spice_soop``
    rsync of the SOC exchange folder; new ``solo_ANC*20*zip`` are validated and extracted into the
    kernel store once each (recorded in the catalog, table ``kernel_zips``).
``sync/stix_conf`` + ``conf/stix_conf``
    latest STIX-CONF tag checked out; ``conf/stix_conf`` gets the tag as its data version, so
    products that depend on it become stale when the tag changes and stay fresh when it does not.
``sync/archive_mirror``
    ``rsync -a -L --delete`` of the FITS archive to the NAS.

Each asset holds the job's ``flock`` (core) and runs in its own concurrency pool (limit 1 through
``pools.default_limit`` in dagster.yaml), so a job never overlaps with itself; the schedules also
skip a tick while a run of the job is queued or running (`stix_assets.schedules`).
"""

import logging
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from stix_assets.assets._lean import lean_metadata
from stix_assets.core.errors import StixError
from stix_assets.core.sync import (
    SyncLockedError,
    run_archive_mirror,
    run_spice_soop_sync,
    run_stix_conf_sync,
    run_tm_sync,
    sync_lock,
)
from stix_assets.resources import StixSettings

__all__ = [
    "STIX_CONF_KEY",
    "SYNC_ASSETS",
    "SYNC_GROUP",
    "SYNC_JOBS",
    "sync_archive_mirror",
    "sync_archive_mirror_job",
    "sync_spice_soop",
    "sync_spice_soop_job",
    "sync_stix_conf",
    "sync_stix_conf_job",
    "sync_tm",
    "sync_tm_job",
]

logger = logging.getLogger(__name__)

SYNC_GROUP = "sync"
STIX_CONF_KEY = dg.AssetKey(["conf", "stix_conf"])
_SYNC_KINDS = {"rsync"}


def _guarded(stix: StixSettings, job: str, work: Callable[[], Any]) -> dict[str, Any]:
    """Run ``work`` under the job's lock; metadata of its result, or why it was skipped."""
    settings = stix.settings()
    try:
        with sync_lock(settings.lock_dir, job, wait_s=settings.lock_wait_s):
            result = work()
    except SyncLockedError as err:
        logger.warning("sync skipped job=%s reason=%s", job, err)
        return {"skipped": str(err)}
    except StixError as err:
        raise dg.Failure(description=f"{type(err).__name__}: {err}") from err
    return lean_metadata(result.as_metadata())


@dg.asset(
    key=["sync", "tm"],
    group_name=SYNC_GROUP,
    pool="sync_tm",
    kinds=_SYNC_KINDS,
    description="rsync TM files into the waiting folder; stage them into the inbox when due.",
)
def sync_tm(context: dg.AssetExecutionContext, stix: StixSettings) -> dg.MaterializeResult:
    """TM sync (cron: rsync every 15 min + stage-and-delay every 30 min)."""
    return dg.MaterializeResult(
        metadata=_guarded(stix, "sync_tm", lambda: run_tm_sync(stix.settings()))
    )


@dg.asset(
    key=["sync", "spice_soop"],
    group_name=SYNC_GROUP,
    pool="sync_spice_soop",
    kinds=_SYNC_KINDS,
    description="rsync the SOC exchange folder; extract new kernel zips into the kernel store.",
)
def sync_spice_soop(context: dg.AssetExecutionContext, stix: StixSettings) -> dg.MaterializeResult:
    """SPICE/SOOP sync; fails (after extracting the good zips) if a zip was rejected."""

    def work() -> Any:
        return run_spice_soop_sync(stix.settings(), stix.catalog(), run_id=context.run.run_id)

    metadata = _guarded(stix, "sync_spice_soop", work)
    if metadata.get("zips_failed"):
        raise dg.Failure(
            description="kernel zips rejected: "
            + "; ".join(f"{k}: {v}" for k, v in metadata["zips_failed"].items()),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["sync", "stix_conf"],
            group_name=SYNC_GROUP,
            kinds={"git"},
            description="git fetch --tags + checkout of the latest STIX-CONF tag (VERSION.TXT).",
        ),
        dg.AssetSpec(
            STIX_CONF_KEY,
            group_name="conf",
            deps=[dg.AssetKey(["sync", "stix_conf"])],
            description="The STIX-CONF tree at its latest tag; data version = the tag.",
        ),
    ],
    pool="sync_stix_conf",
)
def sync_stix_conf(stix: StixSettings) -> Iterator[dg.MaterializeResult]:
    """STIX-CONF sync (cron every 4 h at :10)."""
    metadata = _guarded(stix, "sync_stix_conf", lambda: run_stix_conf_sync(stix.settings()))
    yield dg.MaterializeResult(asset_key=["sync", "stix_conf"], metadata=metadata)
    if "tag" in metadata:
        yield dg.MaterializeResult(
            asset_key=STIX_CONF_KEY,
            metadata={"tag": metadata["tag"], "commit": metadata["commit"]},
            data_version=dg.DataVersion(str(metadata["tag"])),
        )


@dg.asset(
    key=["sync", "archive_mirror"],
    group_name=SYNC_GROUP,
    pool="sync_archive_mirror",
    kinds=_SYNC_KINDS,
    description="rsync -a -L --delete of the FITS archive to the NAS mirror.",
)
def sync_archive_mirror(
    context: dg.AssetExecutionContext, stix: StixSettings
) -> dg.MaterializeResult:
    """Archive mirror (cron every 6 h)."""
    metadata = _guarded(stix, "sync_archive_mirror", lambda: run_archive_mirror(stix.settings()))
    return dg.MaterializeResult(metadata=metadata)


def _job(name: str, key: list[str], description: str) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(dg.AssetKey(key)),
        description=description,
        tags={"stix/sync": key[-1]},
    )


sync_tm_job = _job("sync_tm_job", ["sync", "tm"], "TM rsync + stage and delay.")
sync_spice_soop_job = _job(
    "sync_spice_soop_job", ["sync", "spice_soop"], "SOC rsync + kernel zips."
)
sync_stix_conf_job = dg.define_asset_job(
    "sync_stix_conf_job",
    selection=dg.AssetSelection.assets(dg.AssetKey(["sync", "stix_conf"]), STIX_CONF_KEY),
    description="STIX-CONF latest tag.",
    tags={"stix/sync": "stix_conf"},
)
sync_archive_mirror_job = _job(
    "sync_archive_mirror_job", ["sync", "archive_mirror"], "Archive mirror to the NAS."
)

SYNC_ASSETS = [sync_tm, sync_spice_soop, sync_stix_conf, sync_archive_mirror]
SYNC_JOBS = [sync_tm_job, sync_spice_soop_job, sync_stix_conf_job, sync_archive_mirror_job]
