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
`build_sync_schedules` takes them, `SYNC_SCHEDULES` uses the defaults, and `configured_schedules`
builds every schedule of the code location (sync, daily products, SOAR publishing) from the
settings in effect when the code location loads (``STIX_CONFIG`` and the environment). Dagster
reads a schedule's cron only then, so a changed cron needs a reload of the code location.
"""

import os
from collections.abc import Mapping

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from stix_assets.assets.daily import build_daily_schedule, flarelist_schedule
from stix_assets.assets.publish import build_publish_schedule
from stix_assets.assets.sync import (
    sync_archive_mirror_job,
    sync_spice_soop_job,
    sync_stix_conf_job,
    sync_tm_job,
)
from stix_assets.core.config import FIELDS, load_settings
from stix_assets.jobs import retention_job

__all__ = [
    "ACTIVE_STATUSES",
    "SYNC_SCHEDULES",
    "build_retention_schedule",
    "build_schedules",
    "build_sync_schedules",
    "configured_schedules",
    "job_is_busy",
]

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
_DEFAULT_CRONS = {f.name: f.default for f in FIELDS if f.name.endswith("_cron")}


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


def build_retention_schedule(cron: str = _DEFAULT_CRONS["retention_cron"]) -> dg.ScheduleDefinition:
    """``retention_schedule``: the retention job once a day (stopped until turned on)."""
    return dg.ScheduleDefinition(
        name="retention_schedule",
        cron_schedule=cron,
        job=retention_job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Prune old ticks and runs of the instance. Cron {cron} (UTC).",
    )


def build_schedules(crons: Mapping[str, str] | None = None) -> list[dg.ScheduleDefinition]:
    """Every schedule of the code location with the given cron times (setting name -> cron).

    The sync schedules, ``daily_products_schedule`` (``daily_cron``), ``flarelist_schedule`` (30
    minutes after the daily products by default; fixed), ``publish_schedule`` (``publish_cron``)
    and ``retention_schedule`` (``retention_cron``).
    """
    crons = crons or {}

    def cron(name: str) -> str:
        return str(crons.get(name) or _DEFAULT_CRONS[name])

    return [
        *build_sync_schedules(crons),
        build_daily_schedule(cron("daily_cron")),
        flarelist_schedule,
        build_publish_schedule(cron("publish_cron")),
        build_retention_schedule(cron("retention_cron")),
    ]


def configured_schedules(env: Mapping[str, str] | None = None) -> list[dg.ScheduleDefinition]:
    """`build_schedules` with the crons of the TOML file (``STIX_CONFIG``) and the environment.

    Raises
    ------
    ConfigError
        If the TOML file is unreadable or a cron is invalid: the code location does not load, and
        the UI shows the message, rather than running on times nobody configured.
    """
    settings = load_settings(config_file=None, env=os.environ if env is None else env)
    return build_schedules({k: v for k, v in settings.values.items() if k.endswith("_cron")})
