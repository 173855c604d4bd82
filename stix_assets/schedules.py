"""Schedules of the sync jobs (UTC), the replacements of STIXCore's cron lines.

=========================  ================  ====================================================
schedule                   default cron      replaces
=========================  ================  ====================================================
``sync_tm_schedule``       ``*/15 * * * *``  TM rsync (15 min) and stage-and-delay (30 min)
``sync_spice_soop_...``    ``*/15 * * * *``  SOC rsync + ``unzip`` of new kernel zips (15 min)
``sync_stix_conf_...``     ``10 */4 * * *``  STIX-CONF latest tag + ``VERSION.TXT`` (4 h at :10)
``sync_archive_mirror_..`` ``0 */6 * * *``   ``rsync -avLo --delete`` of the FITS to the NAS (6 h)
=========================  ================  ====================================================

A tick requests one run with run key ``<schedule>:<tick time>`` (a repeated tick is deduplicated)
and skips while a run of the same job is queued or in progress, so a slow sync never piles up
runs. The cron times come from the settings (``[schedules]`` in the TOML file, ``STIX_*_CRON``):
`build_sync_schedules` takes them; `SYNC_SCHEDULES` uses the defaults. Dagster reads a schedule's
cron when the code location loads, so a changed cron needs a reload of the code location.
"""

from collections.abc import Mapping

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from stix_assets.assets.sync import (
    sync_archive_mirror_job,
    sync_spice_soop_job,
    sync_stix_conf_job,
    sync_tm_job,
)
from stix_assets.core.config import FIELDS

__all__ = ["ACTIVE_STATUSES", "SYNC_SCHEDULES", "build_sync_schedules", "job_is_busy"]

ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
"""A run in one of these states still holds (or will hold) its job's lock."""

_JOBS = {
    "tm_sync_cron": sync_tm_job,
    "spice_soop_sync_cron": sync_spice_soop_job,
    "stix_conf_sync_cron": sync_stix_conf_job,
    "archive_mirror_cron": sync_archive_mirror_job,
}
_DEFAULT_CRONS = {f.name: f.default for f in FIELDS if f.name in _JOBS}


def job_is_busy(instance: dg.DagsterInstance, job_name: str) -> bool:
    """True while a run of ``job_name`` is queued, starting, running or being cancelled."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=job_name, statuses=ACTIVE_STATUSES), limit=1
    )
    return len(runs) > 0


def _sync_schedule(job: UnresolvedAssetJobDefinition, cron: str) -> dg.ScheduleDefinition:
    name = job.name.removesuffix("_job") + "_schedule"

    @dg.schedule(
        name=name,
        cron_schedule=cron,
        job=job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"{job.description} Cron {cron} (UTC); skips while a run is active.",
    )
    def _tick(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        if job_is_busy(context.instance, job.name):
            return dg.SkipReason(f"a run of {job.name} is still queued or running")
        tick = context.scheduled_execution_time.isoformat()
        return dg.RunRequest(run_key=f"{name}:{tick}", tags={"stix/tick": tick})

    return _tick


def build_sync_schedules(crons: Mapping[str, str] | None = None) -> list[dg.ScheduleDefinition]:
    """The four sync schedules with the given cron times.

    Parameters
    ----------
    crons : setting name -> cron (``tm_sync_cron``, ``spice_soop_sync_cron``,
        ``stix_conf_sync_cron``, ``archive_mirror_cron``); missing names use the defaults. Pass
        ``StixSettings().settings().values`` to use the TOML file and the environment.
    """
    crons = crons or {}
    return [
        _sync_schedule(job, str(crons.get(name) or _DEFAULT_CRONS[name]))
        for name, job in _JOBS.items()
    ]


SYNC_SCHEDULES = build_sync_schedules()
