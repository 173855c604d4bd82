"""``retention_job``: prune what Dagster lets us prune from the instance, and say what went.

Two things, each under the ``[retention]`` settings (`stix_assets.core.retention`):

* ticks of every sensor, schedule and automation sensor older than ``tick_days``
  (``instance.purge_ticks``; the daemon's own ``retention:`` block in ``dagster.yaml`` does the
  same for the instigators it runs, this covers every state the instance holds);
* successful runs that ended more than ``run_days`` ago and hold no latest event: every asset
  materialization, observation and check evaluation in them has a newer one of the same asset
  (or check) partition from another run (``instance.delete_run``). Deleting a run deletes its
  events, so a run that still holds the latest materialization of any partition is kept, as are
  failed and cancelled runs.

The event log itself cannot be pruned otherwise in Dagster 1.13; the catalog (DuckDB) is the
durable record of what was processed.
"""

import collections
import datetime as dt

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter

from stix_assets.core.retention import RetentionPolicy, RunFacts, run_verdict
from stix_assets.resources import StixSettings

__all__ = [
    "RetentionConfig",
    "count_current_events",
    "delete_old_runs",
    "prune_instance",
    "purge_old_ticks",
]

_TICK_COUNT_CAP = 100_000
"""Ticks counted per instigator before a purge (the purge itself has no cap)."""
_HELD = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_OBSERVATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}
_PAGE = 1000


def purge_old_ticks(
    instance: dg.DagsterInstance, before: dt.datetime, *, dry_run: bool = False
) -> dict[str, int]:
    """Purge ticks older than ``before`` of every instigator; return the count per name."""
    purged: dict[str, int] = {}
    for state in instance.all_instigator_state():
        origin_id, selector_id = state.instigator_origin_id, state.selector_id
        old = instance.get_ticks(
            origin_id, selector_id, before=before.timestamp(), limit=_TICK_COUNT_CAP
        )
        if not old:
            continue
        if not dry_run:
            instance.purge_ticks(origin_id, selector_id, before=before.timestamp())
        purged[state.instigator_name] = purged.get(state.instigator_name, 0) + len(old)
    return purged


def _is_superseded(instance: dg.DagsterInstance, entry: dg.EventLogEntry) -> bool:
    """True when the latest event of this kind for the asset (check) partition is another run's.

    Compared by run, not storage id: a SQLite instance numbers each run's events on its own.
    """
    event = entry.dagster_event
    data = event.event_specific_data
    if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        check_key = dg.AssetCheckKey(data.asset_key, data.check_name)
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [check_key], partition_filter=PartitionKeyFilter(key=data.partition)
        ).get(check_key)
        latest_run = latest.run_id if latest else None
    else:
        records_filter = dg.AssetRecordsFilter(
            asset_key=event.asset_key,
            asset_partitions=[event.partition] if event.partition else None,
        )
        fetch = (
            instance.fetch_materializations
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
            else instance.fetch_observations
        )
        records = fetch(records_filter, limit=1).records
        latest_run = records[0].run_id if records else None
    # nothing found: counted as current, so the run is kept rather than wrongly deleted
    return latest_run is not None and latest_run != entry.run_id


def count_current_events(instance: dg.DagsterInstance, run_id: str) -> int:
    """How many of the run's asset events are still the latest of their partition and kind."""
    n, cursor = 0, None
    while True:
        page = instance.get_records_for_run(run_id, cursor=cursor, of_type=_HELD, limit=_PAGE)
        n += sum(not _is_superseded(instance, r.event_log_entry) for r in page.records)
        if not page.has_more:
            return n
        cursor = page.cursor


def _facts(instance: dg.DagsterInstance, record: dg.RunRecord) -> RunFacts:
    ended = record.end_time
    succeeded = record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    return RunFacts(
        run_id=record.dagster_run.run_id,
        succeeded=succeeded,
        ended_at=dt.datetime.fromtimestamp(ended, dt.UTC) if ended else None,
        n_current=count_current_events(instance, record.dagster_run.run_id) if succeeded else 0,
    )


def delete_old_runs(
    instance: dg.DagsterInstance, policy: RetentionPolicy, now: dt.datetime, *, dry_run: bool
) -> tuple[list[str], dict[str, int]]:
    """Delete the old successful runs that hold no latest event; return them and why others stay.

    The oldest finished runs come first, at most ``policy.max_runs`` per pass.
    """
    cutoff = policy.run_cutoff(now)
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[
                dg.DagsterRunStatus.SUCCESS,
                dg.DagsterRunStatus.FAILURE,
                dg.DagsterRunStatus.CANCELED,
            ],
            updated_before=cutoff,
        ),
        limit=policy.max_runs,
        ascending=True,
    )
    deleted: list[str] = []
    kept: collections.Counter[str] = collections.Counter()
    for record in records:
        facts = _facts(instance, record)
        verdict = run_verdict(facts, cutoff=cutoff)
        if verdict != "delete":
            kept[verdict] += 1
            continue
        if not dry_run:
            instance.delete_run(facts.run_id)
        deleted.append(facts.run_id)
    return deleted, dict(kept)


class RetentionConfig(dg.Config):
    """Launchpad options of ``retention_job``."""

    dry_run: bool = False
    """Only count what would be removed."""
    now: str | None = None
    """Evaluate as of this ISO time (UTC) instead of now: to preview a later pass, and in tests."""


@dg.op(description="Purge old ticks and delete old runs that hold no latest asset event.")
def prune_instance(
    context: dg.OpExecutionContext, config: RetentionConfig, stix: StixSettings
) -> dg.Output[None]:
    """Prune the instance by the ``[retention]`` settings; metadata and log say what went."""
    policy = RetentionPolicy.from_values(stix.settings().values)
    now = dt.datetime.fromisoformat(config.now) if config.now else dt.datetime.now(dt.UTC)
    now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    ticks = purge_old_ticks(context.instance, policy.tick_cutoff(now), dry_run=config.dry_run)
    deleted, kept = delete_old_runs(context.instance, policy, now, dry_run=config.dry_run)
    context.log.info(
        "retention done dry_run=%s ticks_purged=%d runs_deleted=%d runs_kept=%s",
        config.dry_run, sum(ticks.values()), len(deleted), kept,
    )  # fmt: skip
    return dg.Output(
        None,
        metadata={
            "dry_run": config.dry_run,
            "tick_cutoff": policy.tick_cutoff(now).isoformat(),
            "run_cutoff": policy.run_cutoff(now).isoformat(),
            "n_ticks_purged": sum(ticks.values()),
            "ticks_purged": dg.MetadataValue.json(dict(sorted(ticks.items())[:20])),
            "n_runs_deleted": len(deleted),
            "runs_deleted": dg.MetadataValue.json(deleted[:10]),
            "runs_kept": dg.MetadataValue.json(kept),
        },
    )
