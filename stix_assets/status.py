"""Dagster part of ``stix-assets status``: runs that are running, queued and failed; failing checks.

Reads the instance of ``DAGSTER_HOME`` (`dagster.DagsterInstance.get`) with ``get_run_records``
and ``RunsFilter(statuses=...)``; the TM backlog and catalog part come from
`stix_assets.core.status`.

Failing asset checks come from the instance's event log in two queries (issue 12): the latest
execution of every (check, partition) in the storage's ``asset_check_executions`` table, kept when
its status is ``FAILED``, then those rows with their evaluation (severity, description, run),
read from the stored JSON. A check that failed
and then passed on a rerun of the same day is not listed. The check keys are the ones the table
holds (a check that never ran cannot fail), so the code location is never loaded: ``status``
answers from the catalog and the instance's storage only. For an event-log storage that is not
SQL, the per-check queries of Dagster's API are used over the code location's check keys.
"""

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)

from stix_assets import instance_tables as tables
from stix_assets.core.config import Settings
from stix_assets.core.status import status_document
from stix_assets.instance_tables import SQLITE_LATEST_FAILED, check_row, summarize_failed_checks

if TYPE_CHECKING:  # the resource module imports the level code; status needs only settings
    from stix_assets.resources import StixSettings

__all__ = [
    "FAILED_STATUSES",
    "QUEUED_STATUSES",
    "RUNNING_STATUSES",
    "collect_status",
    "failing_checks",
    "run_status",
    "status_from_settings",
]

# the same run states as the Dagster-free reader of the instance's tables
RUNNING_STATUSES = [dg.DagsterRunStatus(s) for s in tables.RUNNING_STATUSES]
QUEUED_STATUSES = [dg.DagsterRunStatus(s) for s in tables.QUEUED_STATUSES]
FAILED_STATUSES = [dg.DagsterRunStatus(s) for s in tables.FAILED_STATUSES]


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
    check_keys : the checks to look at (default: every check with an execution in the instance)
    limit : most failed evaluations listed (all are counted)

    Returns
    -------
    dict with ``n_failed``, ``by_severity`` (``{"ERROR": n, "WARN": n}``), ``by_check``
    (``{check name: n}``) and ``failed`` (rows: check, asset, partition, severity, description,
    run_id, evaluated_at)
    """
    rows = _latest_failed_sql(instance, check_keys)
    if rows is None:  # not a SQL event log: Dagster's per-check API
        keys = list(check_keys) if check_keys is not None else _defined_check_keys()
        rows = [_failed_row(r) for r in _latest_failed_per_key(instance, keys)]
    return summarize_failed_checks(rows, limit=limit)


def _latest_failed_ids(conn: Any) -> list[int]:
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable as t
    from dagster._core.storage.sqlalchemy_compat import db_select
    from sqlalchemy import func, text

    if conn.dialect.name == "sqlite":
        return [r[0] for r in conn.execute(text(SQLITE_LATEST_FAILED))]
    latest = (  # PostgreSQL and MySQL aggregate this with a hash, no sort of the table
        db_select([func.max(t.c.id).label("id")])
        .group_by(t.c.asset_key, t.c.check_name, t.c.partition)
        .subquery("latest_check_executions")
    )
    query = (
        db_select([t.c.id])
        .select_from(t.join(latest, t.c.id == latest.c.id))
        .where(t.c.execution_status == AssetCheckExecutionRecordStatus.FAILED.value)
    )
    return [r[0] for r in conn.execute(query)]


def _row_from_db(row: Any) -> dict[str, Any]:
    """A failed-check row straight from the stored JSON (no object reconstruction per row)."""
    return check_row(
        row["id"],
        row["asset_key"],
        row["check_name"],
        row["run_id"],
        row["create_timestamp"],
        row["evaluation_event"],
        row["partition"],
    )


def _latest_failed_sql(
    instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey] | None
) -> list[dict[str, Any]] | None:
    """Latest execution per (check, partition) when it failed, as rows; None if not SQL.

    Two queries whatever the number of checks: the ids (`_latest_failed_ids`), then their rows.
    """
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable as t
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
    from dagster._core.storage.sqlalchemy_compat import db_fetch_mappings, db_select

    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        return None
    if not storage.supports_asset_checks:
        return []
    columns = [t.c[n] for n in ("id", "asset_key", "check_name", "run_id", "create_timestamp")]
    columns += [t.c.evaluation_event, t.c.partition]
    found = []
    with storage.index_connection() as conn:
        ids = _latest_failed_ids(conn)
        for start in range(0, len(ids), 500):
            query = db_select(columns).where(t.c.id.in_(ids[start : start + 500]))
            found += db_fetch_mappings(conn, query)
    wanted = None if check_keys is None else {(k.asset_key.to_string(), k.name) for k in check_keys}
    return [
        _row_from_db(row)
        for row in found
        if wanted is None or (row["asset_key"], row["check_name"]) in wanted
    ]


def _latest_failed_per_key(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetCheckKey]
) -> list[AssetCheckExecutionRecord]:
    """The same through Dagster's per-check queries (two per failed partition)."""
    storage = instance.event_log_storage
    records = []
    for info in storage.get_asset_check_partition_info(list(keys)) if keys else []:
        if info.latest_execution_status != AssetCheckExecutionRecordStatus.FAILED:
            continue
        part = None if info.partition_key is None else PartitionKeyFilter(key=info.partition_key)
        latest = storage.get_asset_check_execution_history(
            info.check_key, limit=1, partition_filter=part
        )
        if latest and latest[0].status == AssetCheckExecutionRecordStatus.FAILED:
            records.append(latest[0])
    return records


def collect_status(
    stix: "StixSettings",
    instance: dg.DagsterInstance | None,
    *,
    now: dt.datetime,
    failed_window: dt.timedelta = dt.timedelta(days=1),
    check_keys: Sequence[dg.AssetCheckKey] | None = None,
) -> dict[str, Any]:
    """Everything ``stix-assets status`` shows, as one JSON-able dict.

    ``check_keys`` limits the failing-check part (default: every check the instance has run);
    without an instance ``runs`` and ``checks`` are ``None``.
    """
    return status_from_settings(
        stix.settings(), instance, now=now, failed_window=failed_window, check_keys=check_keys
    )


def status_from_settings(
    settings: Settings,
    instance: dg.DagsterInstance | None,
    *,
    now: dt.datetime,
    failed_window: dt.timedelta = dt.timedelta(days=1),
    check_keys: Sequence[dg.AssetCheckKey] | None = None,
) -> dict[str, Any]:
    """`collect_status` from plain settings (what the command passes: no resource module)."""
    if instance is None:
        return status_document(settings, runs=None, checks=None, now=now)
    return status_document(
        settings,
        runs=run_status(instance, failed_since=now - failed_window),
        checks=failing_checks(instance, check_keys),
        now=now,
    )
