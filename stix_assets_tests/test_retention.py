"""The retention job prunes old ticks and old runs, and every asset partition keeps its latest event.

Runs cannot be made old in an instance, so the job is run "as of" a day a year ahead (its
``now`` option): every run of the test is then older than the retention period.
"""

import datetime as dt

import dagster as dg
import pytest
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    TickData,
    TickStatus,
)

from stix_assets.core.retention import RetentionPolicy, RunFacts, run_verdict
from stix_assets.jobs import retention_job
from stix_assets.resources import StixSettings

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01")
NOW = dt.datetime.now(dt.UTC)
LATER = NOW + dt.timedelta(days=365)


@dg.asset(partitions_def=DAYS)
def daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"day": context.partition_key})


@dg.asset
def single() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"n": 1})


@dg.asset_check(asset=single)
def single_is_fine() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.op
def does_nothing() -> None:
    """An op-only run: it materializes nothing."""


@dg.job
def idle_job():
    does_nothing()


@dg.op
def fails() -> None:
    raise dg.Failure("for the test")


@dg.job
def failing_job():
    fails()


def _run(instance, selection, partition_key=None, checks=()):
    result = dg.materialize(
        [daily, single, *checks], instance=instance, selection=selection,
        partition_key=partition_key,
    )  # fmt: skip
    assert result.success
    return result.run_id


def _sensor_state(instance: dg.DagsterInstance, name: str) -> InstigatorState:
    repo = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("stix_assets"), "__repository__")
    state = InstigatorState(
        repo.get_instigator_origin(name), InstigatorType.SENSOR, InstigatorStatus.RUNNING
    )
    instance.add_instigator_state(state)
    return state


def _tick(instance: dg.DagsterInstance, state: InstigatorState, when: dt.datetime) -> None:
    instance.create_tick(
        TickData(
            instigator_origin_id=state.instigator_origin_id,
            instigator_name=state.instigator_name,
            instigator_type=InstigatorType.SENSOR,
            status=TickStatus.SKIPPED,
            timestamp=when.timestamp(),
            selector_id=state.selector_id,
            skip_reason="nothing new",
        )
    )


def _latest_run(instance, key: str, partition: str | None) -> str:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(key), asset_partitions=[partition] if partition else None
        ),
        limit=1,
    ).records
    return records[0].run_id


def test_retention_job_keeps_every_latest_materialization(tmp_path):
    stix = StixSettings(data_root=str(tmp_path))
    with dg.instance_for_test() as instance:
        idle = idle_job.execute_in_process(instance=instance).run_id
        failed = failing_job.execute_in_process(instance=instance, raise_on_error=False).run_id
        first = _run(instance, ["daily", "single"], "2024-01-01", checks=[single_is_fine])
        second = _run(instance, ["daily"], "2024-01-01")  # supersedes first's daily day
        third = _run(instance, ["daily"], "2024-01-02")  # the only event of that day
        fourth = _run(instance, ["single"], checks=[single_is_fine])  # supersedes first's single
        state = _sensor_state(instance, "tm_inbox_sensor")
        for age_days in (400, 380, 2):  # two ticks past 30 days before LATER, one recent
            _tick(instance, state, LATER - dt.timedelta(days=age_days))
        result = retention_job.execute_in_process(
            instance=instance, resources={"stix": stix},
            run_config={"ops": {"prune_instance": {"config": {"now": LATER.isoformat()}}}},
        )  # fmt: skip
        assert result.success
        remaining = {r.run_id for r in instance.get_runs()}
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
        latest = {
            ("daily", "2024-01-01"): _latest_run(instance, "daily", "2024-01-01"),
            ("daily", "2024-01-02"): _latest_run(instance, "daily", "2024-01-02"),
            ("single", None): _latest_run(instance, "single", None),
        }
    # the run that materialized nothing and the one whose every event was superseded are gone
    assert idle not in remaining
    assert first not in remaining
    assert {failed, second, third, fourth, result.run_id} <= remaining
    assert latest == {
        ("daily", "2024-01-01"): second,
        ("daily", "2024-01-02"): third,
        ("single", None): fourth,
    }
    assert [t.timestamp for t in ticks] == [(LATER - dt.timedelta(days=2)).timestamp()]
    (output,) = [
        e for e in result.all_node_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT
    ]
    md = output.event_specific_data.metadata
    assert md["n_runs_deleted"].value == 2
    assert md["n_ticks_purged"].value == 2
    assert md["runs_kept"].value == {"holds latest events": 3, "not successful": 1}


def test_dry_run_removes_nothing(tmp_path):
    stix = StixSettings(data_root=str(tmp_path))
    with dg.instance_for_test() as instance:
        idle = idle_job.execute_in_process(instance=instance).run_id
        config = {"now": LATER.isoformat(), "dry_run": True}
        result = retention_job.execute_in_process(
            instance=instance, resources={"stix": stix},
            run_config={"ops": {"prune_instance": {"config": config}}},
        )  # fmt: skip
        assert result.success
        assert instance.get_run_by_id(idle) is not None


def test_verdicts_and_policy():
    old = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cutoff = old + dt.timedelta(days=1)
    assert run_verdict(RunFacts("a", True, old, 0), cutoff=cutoff) == "delete"
    assert run_verdict(RunFacts("a", True, old, 1), cutoff=cutoff) == "holds latest events"
    assert run_verdict(RunFacts("a", False, old, 0), cutoff=cutoff) == "not successful"
    assert run_verdict(RunFacts("a", True, cutoff, 0), cutoff=cutoff) == "too recent"
    policy = RetentionPolicy.from_values({"retention_tick_days": 7, "retention_run_days": 30})
    assert policy.tick_cutoff(cutoff) == cutoff - dt.timedelta(days=7)
    assert policy.max_runs == 500
    with pytest.raises(ValueError, match=">= 1"):
        RetentionPolicy.from_values({"retention_run_days": 0})
