"""Sensors of the ingest path: the pure plans, then the sensors on a real folder and instance."""

import datetime as dt
import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from stix_assets import sensors
from stix_assets.assets._results import TM_RAW_KEY, lb_asset_key
from stix_assets.resources import StixSettings
from stix_assets.sensors import (
    InboxCursor,
    InboxFile,
    plan_days,
    plan_inbox,
    scan_inbox,
    tm_inbox_sensor,
    tm_to_days_sensor,
)

S = 1_000_000_000  # ns per second
NOW = 1_700_000_000 * S
D = dt.date


def _f(name: str, age_s: float, *, ctime_age_s: float | None = None, size: int = 100) -> InboxFile:
    mtime = NOW - int(age_s * S)
    ctime = mtime if ctime_age_s is None else NOW - int(ctime_age_s * S)
    return InboxFile(name, mtime, ctime, size)


# -- plan_inbox ----------------------------------------------------------------------------------
LISTING = [_f("b_PktTmRaw.xml", 300), _f("a_PktTmRaw.xml", 400), _f("c_PktTmRaw.xml", 200)]


def test_plan_inbox_first_tick_takes_all_settled_files_in_arrival_order():
    plan = plan_inbox(LISTING, mark=None, now_ns=NOW, settle_time_s=30)
    assert [f.name for f in plan.new_files] == [
        "a_PktTmRaw.xml",
        "b_PktTmRaw.xml",
        "c_PktTmRaw.xml",
    ]
    assert plan.mark == LISTING[2].mark
    assert plan.n_settling == 0


def test_plan_inbox_nothing_new_keeps_the_mark():
    plan = plan_inbox(LISTING, mark=LISTING[2].mark, now_ns=NOW, settle_time_s=30)
    assert plan.new_files == ()
    assert plan.mark == LISTING[2].mark


def test_plan_inbox_some_new_takes_only_files_after_the_mark():
    plan = plan_inbox(LISTING, mark=LISTING[1].mark, now_ns=NOW, settle_time_s=30)
    assert [f.name for f in plan.new_files] == ["b_PktTmRaw.xml", "c_PktTmRaw.xml"]


def test_plan_inbox_all_new_after_an_older_mark():
    plan = plan_inbox(LISTING, mark=(NOW - 1000 * S, "z"), now_ns=NOW, settle_time_s=30)
    assert len(plan.new_files) == 3


def test_plan_inbox_file_still_being_written_waits_and_blocks_the_mark():
    listing = [*LISTING, _f("d_PktTmRaw.xml", 5), _f("e_PktTmRaw.xml", 1)]
    plan = plan_inbox(listing, mark=None, now_ns=NOW, settle_time_s=30)
    assert [f.name for f in plan.new_files][-1] == "c_PktTmRaw.xml"
    assert plan.n_settling == 2
    later = plan_inbox(listing, mark=plan.mark, now_ns=NOW + 60 * S, settle_time_s=30)
    assert [f.name for f in later.new_files] == ["d_PktTmRaw.xml", "e_PktTmRaw.xml"]


def test_plan_inbox_settle_time_is_respected_at_the_boundary():
    listing = [_f("x_PktTmRaw.xml", 30)]
    assert len(plan_inbox(listing, mark=None, now_ns=NOW, settle_time_s=30).new_files) == 1
    assert plan_inbox(listing, mark=None, now_ns=NOW, settle_time_s=30.5).new_files == ()


def test_plan_inbox_late_file_with_old_mtime_is_not_skipped():
    # rsync -t keeps the source mtime; the rename into the inbox sets ctime
    late = _f("old_PktTmRaw.xml", 10_000, ctime_age_s=100)
    plan = plan_inbox([*LISTING, late], mark=LISTING[1].mark, now_ns=NOW, settle_time_s=30)
    assert "old_PktTmRaw.xml" in [f.name for f in plan.new_files]


def test_plan_inbox_equal_times_are_ordered_by_name():
    a, b = _f("a_PktTmRaw.xml", 100), _f("b_PktTmRaw.xml", 100)
    first = plan_inbox([b, a], mark=None, now_ns=NOW, settle_time_s=30, limit=1)
    assert [f.name for f in first.new_files] == ["a_PktTmRaw.xml"]
    second = plan_inbox([b, a], mark=first.mark, now_ns=NOW, settle_time_s=30, limit=1)
    assert [f.name for f in second.new_files] == ["b_PktTmRaw.xml"]


def test_plan_inbox_limit_continues_on_the_next_tick():
    listing = [_f(f"{i:03d}_PktTmRaw.xml", 1000 - i) for i in range(5)]
    first = plan_inbox(listing, mark=None, now_ns=NOW, settle_time_s=30, limit=2)
    second = plan_inbox(listing, mark=first.mark, now_ns=NOW, settle_time_s=30, limit=2)
    third = plan_inbox(listing, mark=second.mark, now_ns=NOW, settle_time_s=30, limit=2)
    names = [f.name for p in (first, second, third) for f in p.new_files]
    assert names == [f.name for f in listing]


def test_inbox_file_run_key_changes_with_content():
    f = _f("a_PktTmRaw.xml", 100)
    assert f.run_key == f"a_PktTmRaw.xml:{f.mtime_ns}:100"
    assert _f("a_PktTmRaw.xml", 100, size=101).run_key != f.run_key


# -- tm_inbox_sensor on a real folder ------------------------------------------------------------
def _write(folder: Path, name: str, age_s: float = 0) -> Path:
    path = folder / name
    path.write_text("<ns2:ResponsePart/>")
    if age_s:
        t = time.time() - age_s
        os.utime(path, (t, t))
    return path


def _inbox_ctx(instance, incoming: Path, cursor: str | None = None, settle_time_s: float = 0):
    stix = StixSettings(incoming_dir=str(incoming), settle_time_s=settle_time_s)
    return dg.build_sensor_context(instance=instance, cursor=cursor, resources={"stix": stix})


def test_scan_inbox_accepts_only_final_tm_names(tmp_path):
    for name in [
        "a_PktTmRaw.xml",
        "PktTcReport.xml",
        ".a_PktTmRaw.xml.Xk3f9a",
        "b_PktTmRaw.xml.part",
    ]:
        _write(tmp_path, name)
    (tmp_path / "dir_PktTmRaw.xml").mkdir()
    assert [f.name for f in scan_inbox(tmp_path)] == ["a_PktTmRaw.xml"]
    assert scan_inbox(tmp_path / "absent") == []


def test_tm_inbox_sensor_cursor_cases_and_restart(tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    with dg.instance_for_test() as instance:
        # first tick on an empty folder
        empty = tm_inbox_sensor(_inbox_ctx(instance, incoming))
        assert empty.run_requests == []
        assert empty.skip_reason is not None
        # all new
        _write(incoming, "solo_1_PktTmRaw.xml")
        _write(incoming, "solo_2_PktTmRaw.xml")
        _write(incoming, "PktTcReport.xml")
        first = tm_inbox_sensor(_inbox_ctx(instance, incoming))
        keys = first.dynamic_partitions_requests[0].partition_keys
        assert keys == ["solo_1_PktTmRaw.xml", "solo_2_PktTmRaw.xml"]
        assert [r.partition_key for r in first.run_requests] == keys
        assert all(r.asset_selection == [TM_RAW_KEY] for r in first.run_requests)
        assert first.run_requests[0].run_key.startswith("solo_1_PktTmRaw.xml:")
        assert json.loads(first.cursor)[1] == "solo_2_PktTmRaw.xml"
        # nothing new
        again = tm_inbox_sensor(_inbox_ctx(instance, incoming, first.cursor))
        assert again.run_requests == []
        assert again.dynamic_partitions_requests == []
        assert again.cursor == first.cursor
        # some new, seen by a "restarted" sensor: fresh instance handle and context, stored cursor
        time.sleep(0.01)
        _write(incoming, "solo_3_PktTmRaw.xml")
        with dg.DagsterInstance.from_ref(instance.get_ref()) as restarted:
            some = tm_inbox_sensor(_inbox_ctx(restarted, incoming, first.cursor))
        assert [r.partition_key for r in some.run_requests] == ["solo_3_PktTmRaw.xml"]


def test_tm_inbox_sensor_leaves_settling_files(tmp_path):
    with dg.instance_for_test() as instance:
        _write(tmp_path, "fresh_PktTmRaw.xml")  # ctime is now: being written as far as we know
        result = tm_inbox_sensor(_inbox_ctx(instance, tmp_path, settle_time_s=3600))
        assert result.run_requests == []
        assert result.cursor is None
        assert "1 still settling" in result.skip_reason.skip_message


def test_tm_inbox_sensor_reads_settle_time_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STIX_INCOMING_DIR", str(tmp_path))
    monkeypatch.setenv("STIX_SETTLE_TIME_S", "3600")
    _write(tmp_path, "fresh_PktTmRaw.xml")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources={"stix": StixSettings()})
        assert tm_inbox_sensor(ctx).run_requests == []
        monkeypatch.setenv("STIX_SETTLE_TIME_S", "0")
        ctx = dg.build_sensor_context(instance=instance, resources={"stix": StixSettings()})
        assert len(tm_inbox_sensor(ctx).run_requests) == 1


# -- the inbox at mission scale: no stat of known files, no listing of an unchanged folder --------
def _old(path: Path, age_s: float = 600) -> None:
    t = time.time() - age_s
    os.utime(path, (t, t))


def test_scan_inbox_takes_known_entries_without_stat(tmp_path):
    _write(tmp_path, "a_PktTmRaw.xml", age_s=600)
    _write(tmp_path, "b_PktTmRaw.xml", age_s=600)
    first = {f.name: f for f in scan_inbox(tmp_path)}
    assert all(f.inode for f in first.values())
    # stand-ins with impossible times: if they come back, no stat was made for that entry
    known = {n: InboxFile(n, 1, 1, 1, f.inode) for n, f in first.items()}
    # b is replaced by a rename (a new inode), as rsync and the stage step deliver
    _write(tmp_path, ".b_PktTmRaw.xml.tmp", age_s=0).rename(tmp_path / "b_PktTmRaw.xml")
    again = {f.name: f for f in scan_inbox(tmp_path, known=known)}
    assert again["a_PktTmRaw.xml"] == known["a_PktTmRaw.xml"]
    assert again["b_PktTmRaw.xml"].mtime_ns > 1  # stat'ed: new content is seen
    assert again["b_PktTmRaw.xml"].inode != first["b_PktTmRaw.xml"].inode


def test_tm_inbox_sensor_does_not_list_an_unchanged_folder(tmp_path, monkeypatch):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    _write(incoming, "solo_1_PktTmRaw.xml")
    _old(incoming)  # the folder changed long enough ago to be trusted
    with dg.instance_for_test() as instance:
        first = tm_inbox_sensor(_inbox_ctx(instance, incoming))
        assert [r.partition_key for r in first.run_requests] == ["solo_1_PktTmRaw.xml"]
        assert InboxCursor.parse(first.cursor).folder_mtime_ns == incoming.stat().st_mtime_ns

        def refuse(*_args, **_kwargs):
            raise AssertionError("an unchanged folder must not be listed")

        monkeypatch.setattr(sensors, "scan_inbox", refuse)
        quiet = tm_inbox_sensor(_inbox_ctx(instance, incoming, first.cursor))
        assert quiet.run_requests == []
        assert "unchanged" in quiet.skip_reason.skip_message
        monkeypatch.undo()
        assert quiet.cursor == first.cursor
        # a new file changes the folder's mtime: listed again, only the new file is stat'ed
        time.sleep(0.01)
        _write(incoming, "solo_2_PktTmRaw.xml")
        ticked_ns = time.time_ns()
        some = tm_inbox_sensor(_inbox_ctx(instance, incoming, first.cursor))
        assert [r.partition_key for r in some.run_requests] == ["solo_2_PktTmRaw.xml"]
        # a folder mtime younger than the margin is never kept (an entry added in the same
        # clock step would not change it)
        kept = InboxCursor.parse(some.cursor).folder_mtime_ns
        assert kept is None or kept <= ticked_ns - 2 * S


def test_tm_inbox_sensor_stats_every_file_when_a_full_scan_is_due(tmp_path, monkeypatch):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    _write(incoming, "solo_1_PktTmRaw.xml", age_s=600)
    seen: list[object] = []
    real_scan = sensors.scan_inbox

    def spy(folder, *, known=None):
        seen.append(known)
        return real_scan(folder, known=known)

    monkeypatch.setattr(sensors, "scan_inbox", spy)
    with dg.instance_for_test() as instance:
        first = tm_inbox_sensor(_inbox_ctx(instance, incoming))
        _write(incoming, "solo_2_PktTmRaw.xml", age_s=600)  # the folder changes: listed again
        second = tm_inbox_sensor(_inbox_ctx(instance, incoming, first.cursor))
        stale = InboxCursor.parse(second.cursor)
        overdue = InboxCursor(stale.mark, None, stale.full_scan_ns - int(3601 * S)).dumps()
        tm_inbox_sensor(_inbox_ctx(instance, incoming, overdue))
    assert seen[0] is None  # first listing of this process: every file is stat'ed
    assert set(seen[1]) == {"solo_1_PktTmRaw.xml"}  # then only unknown entries
    assert seen[2] is None  # the hourly full scan (in-place rewrites keep their inode)


def test_inbox_cursor_reads_the_two_element_form_of_earlier_versions():
    assert InboxCursor.parse('[5, "a_PktTmRaw.xml"]') == InboxCursor((5, "a_PktTmRaw.xml"))
    assert InboxCursor.parse(None) == InboxCursor()
    cursor = InboxCursor((5, "a_PktTmRaw.xml"), 7, 9)
    assert InboxCursor.parse(cursor.dumps()) == cursor
    assert json.loads(cursor.dumps())[1] == "a_PktTmRaw.xml"
    assert InboxCursor(None, 7, 9).dumps() == "[null, null, 7, 9]"  # an empty folder, listed
    assert InboxCursor().dumps() is None


# -- plan_days -----------------------------------------------------------------------------------
FIRST, LAST = D(2018, 1, 1), D(2026, 1, 1)
RECORDS = [
    (11, {"ql_lightcurve": [D(2020, 5, 1), D(2020, 5, 2)], "hk_maxi": [D(2020, 5, 1)]}),
    (12, {"ql_lightcurve": [D(2020, 5, 2)], "xray_cpd": [D(2020, 5, 3)]}),
]


def test_plan_days_first_tick_unions_days_and_products():
    plan = plan_days(RECORDS, cursor=None, first_day=FIRST, last_day=LAST)
    got = [(r.scet_day, r.products, r.run_key) for r in plan.requests]
    assert got == [
        (D(2020, 5, 1), ("hk_maxi", "ql_lightcurve"), "2020-05-01@11"),
        (D(2020, 5, 2), ("ql_lightcurve",), "2020-05-02@12"),
        (D(2020, 5, 3), ("xray_cpd",), "2020-05-03@12"),
    ]
    assert plan.cursor == 12


def test_plan_days_nothing_new_keeps_the_cursor():
    plan = plan_days([], cursor=12, first_day=FIRST, last_day=LAST)
    assert plan.requests == ()
    assert plan.cursor == 12
    assert plan_days([], cursor=None, first_day=FIRST, last_day=LAST).cursor is None


def test_plan_days_some_new_and_all_new():
    some = plan_days(RECORDS[1:], cursor=11, first_day=FIRST, last_day=LAST)
    assert [r.scet_day for r in some.requests] == [D(2020, 5, 2), D(2020, 5, 3)]
    assert some.cursor == 12
    all_new = plan_days(RECORDS, cursor=3, first_day=FIRST, last_day=LAST)
    assert len(all_new.requests) == 3
    assert all_new.cursor == 12


def test_plan_days_drops_days_outside_the_partition_range_and_unknown_products():
    records = [
        (
            5,
            {
                "ql_lightcurve": [D(2017, 12, 31), D(2018, 1, 1), D(2099, 1, 1)],
                "nope": [D(2020, 1, 1)],
            },
        )
    ]
    plan = plan_days(
        records, cursor=None, first_day=FIRST, last_day=LAST, products=["ql_lightcurve"]
    )
    assert [r.scet_day for r in plan.requests] == [D(2018, 1, 1)]
    assert plan.dropped == (D(2017, 12, 31), D(2099, 1, 1))
    assert plan.cursor == 5


# -- tm_to_days_sensor on a real instance --------------------------------------------------------
def _report_tm(instance, name: str, days_touched: dict[str, list[str]]) -> None:
    instance.add_dynamic_partitions("tm_files", [name])
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=TM_RAW_KEY,
            partition=name,
            metadata={"days_touched": dg.MetadataValue.json(days_touched)},
        )
    )


def _days_ctx(instance, cursor=None):
    return dg.build_sensor_context(instance=instance, cursor=cursor)


def test_tm_to_days_sensor_cursor_cases_and_restart():
    with dg.instance_for_test() as instance:
        first_empty = tm_to_days_sensor(_days_ctx(instance))
        assert first_empty.run_requests == []
        assert first_empty.cursor is None
        # all new
        _report_tm(
            instance, "a_PktTmRaw.xml", {"ql_lightcurve": ["2018-11-25"], "hk_mini": ["2018-11-25"]}
        )
        _report_tm(instance, "b_PktTmRaw.xml", {"ql_lightcurve": ["2018-11-25", "2018-11-26"]})
        first = tm_to_days_sensor(_days_ctx(instance))
        requests = {r.partition_key: r for r in first.run_requests}
        assert set(requests) == {"2018-11-25", "2018-11-26"}
        assert set(requests["2018-11-25"].asset_selection) == {
            lb_asset_key("ql_lightcurve"),
            lb_asset_key("hk_mini"),
        }
        assert requests["2018-11-26"].asset_selection == [lb_asset_key("ql_lightcurve")]
        assert requests["2018-11-25"].run_key == f"2018-11-25@{first.cursor}"
        # nothing new
        again = tm_to_days_sensor(_days_ctx(instance, first.cursor))
        assert again.run_requests == []
        assert again.cursor == first.cursor
        # some new, read by a restarted sensor (new instance handle, stored cursor)
        _report_tm(instance, "c_PktTmRaw.xml", {"hk_maxi": ["2018-11-26"]})
        with dg.DagsterInstance.from_ref(instance.get_ref()) as restarted:
            some = tm_to_days_sensor(_days_ctx(restarted, first.cursor))
        assert [(r.partition_key, r.asset_selection) for r in some.run_requests] == [
            ("2018-11-26", [lb_asset_key("hk_maxi")])
        ]
        assert int(some.cursor) > int(first.cursor)


def test_tm_to_days_sensor_drops_days_outside_the_partitions():
    with dg.instance_for_test() as instance:
        _report_tm(instance, "bad_PktTmRaw.xml", {"ql_lightcurve": ["2001-01-01", "2999-01-01"]})
        result = tm_to_days_sensor(_days_ctx(instance))
        assert result.run_requests == []
        assert result.cursor is not None  # the record is consumed, not retried forever


@pytest.mark.parametrize("cursor", [None, "0"])
def test_tm_to_days_sensor_ignores_other_assets(cursor):
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="elsewhere"))
        assert tm_to_days_sensor(_days_ctx(instance, cursor)).run_requests == []


# -- tick interval -------------------------------------------------------------------------------
def test_sensor_interval_comes_from_the_settings_when_the_code_location_loads(tmp_path):
    """``[ingest] sensor_interval_s`` (TOML, or ``STIX_SENSOR_INTERVAL_S``) sets the event-driven
    sensors' interval when the code location loads; the kernel sensor and the automation keep
    their own."""
    import subprocess
    import sys

    from stix_assets.core.config import FIELDS

    assert {f.name: f.default for f in FIELDS}["sensor_interval_s"] == 30
    config = tmp_path / "stix.toml"
    config.write_text("[ingest]\nsensor_interval_s = 7\n")
    probe = (
        "import json, stix_assets.definitions as d\n"
        "print(json.dumps({s.name: s.minimum_interval_seconds for s in d.defs.sensors}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STIX_")}
    out = subprocess.run(
        [sys.executable, "-c", probe], env={**env, "STIX_CONFIG": str(config)},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    got = json.loads(out.strip().splitlines()[-1])
    assert got["tm_inbox_sensor"] == got["tm_to_days_sensor"] == got["bsd_l1_days_sensor"] == 7
    assert got["spice_kernel_sensor"] == 300
    assert got["stix_automation_sensor"] == 30
