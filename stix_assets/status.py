"""Dagster part of ``stix-assets status``: runs that are running, queued and failed; failing checks.

Reads the instance of ``DAGSTER_HOME`` (`dagster.DagsterInstance.get`) with ``get_run_records``
and ``RunsFilter(statuses=...)``; the TM backlog and catalog part come from
`stix_assets.core.status`.

Failing asset checks come from the instance's event log: ``get_asset_check_partition_info``
gives the latest execution status per (check, partition); for each one whose latest status is
``FAILED`` the evaluation itself (severity, description, run) is read with
``get_asset_check_execution_history(..., partition_filter=PartitionKeyFilter(key=...), limit=1)``.
A check that failed and then passed on a rerun of the same day is not listed.
"""

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import Any

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from stix_assets.core.catalog import Catalog, catalog_location
from stix_assets.core.status import pipeline_status
from stix_assets.resources import StixSettings

__all__ = [
    "FAILED_STATUSES",
    "QUEUED_STATUSES",
    "RUNNING_STATUSES",
    "collect_status",
    "failing_checks",
    "run_status",
]

RUNNING_STATUSES = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
QUEUED_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]
FAILED_STATUSES = [dg.DagsterRunStatus.FAILURE]


def _run_row(record: Any) -> dict[str, Any]:
    run = record.dagster_run
    stamps = {
        "created": record.create_timestamp,
        "started": record.start_time,
        "ended": record.end_time,
    }
    out = {
        "run_id": run.run_id,
        "job": run.job_name,
        "status": run.status.value,
        "partition": run.tags.get("dagster/partition"),
        "assets": sorted(k.to_user_string() for k in (run.asset_selection or ())),
    }
    for name, value in stamps.items():
        if isinstance(value, dt.datetime):
            out[name] = value.astimezone(dt.UTC).isoformat()
        elif value is not None:
            out[name] = dt.datetime.fromtimestamp(value, tz=dt.UTC).isoformat()
        else:
            out[name] = None
    return out


def run_status(
    instance: dg.DagsterInstance, *, failed_since: dt.datetime, limit: int = 20
) -> dict[str, Any]:
    """Running, queued and (since ``failed_since``) failed runs, newest first."""

    def rows(statuses: list[dg.DagsterRunStatus], **kw: Any) -> list[dict[str, Any]]:
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=statuses, **kw), limit=limit
        )
        return [_run_row(r) for r in records]

    return {
        "running": rows(RUNNING_STATUSES),
        "queued": rows(QUEUED_STATUSES),
        "failed": rows(FAILED_STATUSES, updated_after=failed_since),
        "failed_since": failed_since.isoformat(),
    }


def _defined_check_keys() -> list[dg.AssetCheckKey]:
    """Every asset check of the code location (`stix_assets.definitions`)."""
    # checks.py uses partitioned check specs, a Dagster preview feature that warns once per
    # spec at import; on the operator's terminal that is one screen of noise per status call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        from stix_assets.definitions import defs  # the whole code location: only when asked

    return sorted(defs.resolve_asset_graph().asset_check_keys, key=lambda k: k.to_user_string())


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat()


def _failed_row(record: Any) -> dict[str, Any]:
    evaluation = record.evaluation
    severity = evaluation.severity.value if evaluation is not None else "ERROR"
    return {
        "check": record.key.name,
        "asset": record.key.asset_key.to_user_string(),
        "partition": record.partition,
        "severity": severity,
        "description": evaluation.description if evaluation is not None else None,
        "run_id": record.run_id,
        "evaluated_at": _iso(record.create_timestamp),
    }


def failing_checks(
    instance: dg.DagsterInstance,
    check_keys: Sequence[dg.AssetCheckKey] | None = None,
    *,
    limit: int = 20,
) -> dict[str, Any]:
    """Checks whose latest evaluation for a partition failed, ``ERROR`` first, newest first.

    Parameters
    ----------
    instance : the Dagster instance whose event log is read
    check_keys : the checks to look at (default: every check of `stix_assets.definitions`)
    limit : most failed evaluations listed (all are counted)

    Returns
    -------
    dict with ``n_failed``, ``by_severity`` (``{"ERROR": n, "WARN": n}``), ``by_check``
    (``{check name: n}``) and ``failed`` (rows: check, asset, partition, severity, description,
    run_id, evaluated_at)
    """
    keys = list(check_keys) if check_keys is not None else _defined_check_keys()
    storage = instance.event_log_storage
    infos = storage.get_asset_check_partition_info(keys) if keys else []
    rows = []
    for info in infos:
        if info.latest_execution_status != AssetCheckExecutionRecordStatus.FAILED:
            continue
        part = None if info.partition_key is None else PartitionKeyFilter(key=info.partition_key)
        latest = storage.get_asset_check_execution_history(
            info.check_key, limit=1, partition_filter=part
        )
        if latest and latest[0].status == AssetCheckExecutionRecordStatus.FAILED:
            rows.append(_failed_row(latest[0]))
    rows.sort(key=lambda r: r["evaluated_at"], reverse=True)
    rows.sort(key=lambda r: r["severity"] != "ERROR")  # stable: ERROR first, newest first
    by_severity: dict[str, int] = {}
    by_check: dict[str, int] = {}
    for r in rows:
        by_severity[r["severity"]] = by_severity.get(r["severity"], 0) + 1
        by_check[r["check"]] = by_check.get(r["check"], 0) + 1
    return {
        "n_failed": len(rows),
        "by_severity": by_severity,
        "by_check": dict(sorted(by_check.items())),
        "failed": rows[:limit],
    }


def collect_status(
    stix: StixSettings,
    instance: dg.DagsterInstance | None,
    *,
    now: dt.datetime,
    failed_window: dt.timedelta = dt.timedelta(days=1),
    check_keys: Sequence[dg.AssetCheckKey] | None = None,
) -> dict[str, Any]:
    """Everything ``stix-assets status`` shows, as one JSON-able dict.

    ``check_keys`` limits the failing-check part (default: every check of the code location);
    without an instance ``runs`` and ``checks`` are ``None``.
    """
    settings = stix.settings()
    out: dict[str, Any] = {"generated_at": now.isoformat()}
    out["runs"] = (
        run_status(instance, failed_since=now - failed_window) if instance is not None else None
    )
    out["checks"] = failing_checks(instance, check_keys) if instance is not None else None
    # not stix.catalog(): status creates no folder
    catalog = Catalog(catalog_location(settings), archive_root=settings.archive_dir)
    out.update(pipeline_status(settings.waiting_dir, settings.incoming_dir, catalog))
    return out
