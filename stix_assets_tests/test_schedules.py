"""Sync schedules: cron times in UTC, one run request per tick, skipped while a run is active."""

import datetime as dt

import dagster as dg
import pytest

from stix_assets.assets.sync import SYNC_ASSETS, SYNC_JOBS
from stix_assets.core.config import ConfigError
from stix_assets.resources import StixSettings
from stix_assets.schedules import SYNC_SCHEDULES, build_sync_schedules, configured_schedules

SCHEDULES = {s.name: s for s in SYNC_SCHEDULES}
EXPECTED = {
    "sync_tm_schedule": ("*/15 * * * *", "sync_tm_job"),
    "sync_spice_soop_schedule": ("*/15 * * * *", "sync_spice_soop_job"),
    "sync_stix_conf_schedule": ("10 */4 * * *", "sync_stix_conf_job"),
    "sync_archive_mirror_schedule": ("0 */6 * * *", "sync_archive_mirror_job"),
}


@pytest.fixture(scope="module")
def defs():
    return dg.Definitions(
        assets=SYNC_ASSETS,
        jobs=SYNC_JOBS,
        schedules=SYNC_SCHEDULES,
        resources={"stix": StixSettings()},
    )


def _ticks(
    schedule: dg.ScheduleDefinition, start: dt.datetime, end: dt.datetime
) -> list[dt.datetime]:
    """Tick times of the schedule in [start, end), from Dagster's own cron iterator."""
    from dagster._utils.schedules import cron_string_iterator

    out = []
    for t in cron_string_iterator(start.timestamp(), schedule.cron_schedule, "UTC"):
        if t >= end:
            return out
        out.append(t.astimezone(dt.UTC))
    return out


def test_schedules_replace_the_cron_lines(defs):
    for name, (cron, job) in EXPECTED.items():
        schedule = SCHEDULES[name]
        assert schedule.cron_schedule == cron
        assert schedule.execution_timezone == "UTC"
        assert schedule.job_name == job
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_tick_times_over_one_day(defs):
    day = dt.datetime(2024, 3, 31, tzinfo=dt.UTC)  # a DST day in Europe: UTC does not care
    end = day + dt.timedelta(days=1)
    tm = _ticks(SCHEDULES["sync_tm_schedule"], day, end)
    assert len(tm) == 96
    assert tm[:2] == [day, day + dt.timedelta(minutes=15)]
    conf = _ticks(SCHEDULES["sync_stix_conf_schedule"], day, end)
    assert [t.strftime("%H:%M") for t in conf] == [
        "00:10",
        "04:10",
        "08:10",
        "12:10",
        "16:10",
        "20:10",
    ]
    mirror = _ticks(SCHEDULES["sync_archive_mirror_schedule"], day, end)
    assert [t.hour for t in mirror] == [0, 6, 12, 18]


def test_tick_requests_one_run_with_a_tick_run_key(defs):
    tick = dt.datetime(2024, 5, 1, 4, 10, tzinfo=dt.UTC)
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        result = SCHEDULES["sync_stix_conf_schedule"].evaluate_tick(ctx)
    (request,) = result.run_requests
    assert request.run_key == f"sync_stix_conf_schedule:{tick.isoformat()}"
    assert request.tags["stix/tick"] == tick.isoformat()


def test_tick_skips_while_a_run_of_the_job_is_active(defs):
    tick = dt.datetime(2024, 5, 1, 4, 15, tzinfo=dt.UTC)
    with dg.instance_for_test() as instance:
        job = defs.resolve_job_def("sync_tm_job")
        run = instance.create_run_for_job(job, run_config={})
        instance.report_run_canceling(run)  # any active status counts; CANCELING is easy to set
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        result = SCHEDULES["sync_tm_schedule"].evaluate_tick(ctx)
        assert result.run_requests == []
        assert "still queued or running" in result.skip_message
        # another job's schedule is not affected
        other = SCHEDULES["sync_spice_soop_schedule"].evaluate_tick(ctx)
        assert len(other.run_requests) == 1
        instance.report_run_canceled(run)
        again = SCHEDULES["sync_tm_schedule"].evaluate_tick(ctx)
        assert len(again.run_requests) == 1


def test_cron_times_come_from_the_settings():
    schedules = build_sync_schedules({"tm_sync_cron": "*/5 * * * *"})
    by_name = {s.name: s.cron_schedule for s in schedules}
    assert by_name["sync_tm_schedule"] == "*/5 * * * *"
    assert by_name["sync_archive_mirror_schedule"] == "0 */6 * * *"


def test_configured_crons_reach_every_schedule(tmp_path):
    toml = tmp_path / "stix.toml"
    toml.write_text('[schedules]\npublish = "30 4 * * *"\ntm_sync = "*/5 * * * *"\n')
    env = {"STIX_CONFIG": str(toml), "STIX_DAILY_CRON": "0 9 * * *"}
    crons = {s.name: s.cron_schedule for s in configured_schedules(env)}
    assert crons == {
        "sync_tm_schedule": "*/5 * * * *",  # TOML
        "sync_spice_soop_schedule": "*/15 * * * *",  # default
        "sync_stix_conf_schedule": "10 */4 * * *",
        "sync_archive_mirror_schedule": "0 */6 * * *",
        "daily_products_schedule": "0 9 * * *",  # environment
        "flarelist_schedule": "30 8 * * *",
        "publish_schedule": "30 4 * * *",  # TOML
        "retention_schedule": "30 3 * * *",
    }


def test_invalid_cron_stops_the_code_location(tmp_path):
    with pytest.raises(ConfigError, match="daily"):
        configured_schedules({"STIX_DAILY_CRON": "every morning"})
