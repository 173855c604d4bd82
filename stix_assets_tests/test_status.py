"""``stix-assets status``: runs from the instance, TM backlog and catalog facts."""

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from stix_assets.assets.sync import SYNC_ASSETS, SYNC_JOBS
from stix_assets.commands import config as config_cmd
from stix_assets.commands import status as status_cmd
from stix_assets.commands import sync as sync_cmd
from stix_assets.core.catalog import Catalog
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.status import pipeline_status
from stix_assets.resources import StixSettings
from stix_assets.status import collect_status
from stix_assets_tests.core.test_sync import locked_catalog, stop

HK_TM = "PktTmRaw.hk-20201201.xml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stix-assets")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (config_cmd, status_cmd, sync_cmd):
        module.add_parser(sub)
    return parser


@pytest.fixture
def data_root(tmp_path, testdata, monkeypatch):
    for var in ("STIX_CONFIG", "STIX_DATA_ROOT", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "data"
    (root / "incoming").mkdir(parents=True)
    (root / "waiting").mkdir()
    shutil.copy2(testdata / "tm" / HK_TM, root / "incoming" / HK_TM)
    shutil.copy2(
        testdata / "tm" / "PktTmRaw.moc_test-20191127.xml", root / "incoming" / "new_PktTmRaw.xml"
    )
    shutil.copy2(testdata / "tm" / HK_TM, root / "waiting" / "late_PktTmRaw.xml")
    catalog = Catalog(root / "archive" / "stix_catalog.duckdb")
    catalog.record_tm_index(index_tm_file(root / "incoming" / HK_TM, IdbStore(testdata / "idb")))
    return root


@pytest.mark.realdata
def test_pipeline_status_from_folders_and_catalog(data_root):
    catalog = Catalog(data_root / "archive" / "stix_catalog.duckdb")
    status = pipeline_status(data_root / "waiting", data_root / "incoming", catalog)
    assert status["tm"]["waiting"] == ["late_PktTmRaw.xml"]
    assert status["tm"]["incoming_not_ingested"] == ["new_PktTmRaw.xml"]
    last = status["catalog"]["last_tm_file"]
    assert last["name"] == HK_TM
    assert last["status"] == "indexed"
    assert status["catalog"]["busy"] is False


@pytest.mark.realdata
def test_status_counts_quarantine_by_category(data_root):
    from stix_assets.core.tmtc import QuarantinedPacket

    catalog = Catalog(data_root / "archive" / "stix_catalog.duckdb")
    catalog.record_quarantine(
        [
            QuarantinedPacket("a.xml", 3, "SCET outside mission: coarse 10 (2000-01-01) ...", 4),
            QuarantinedPacket("a.xml", 5, "SCET outside mission: coarse 12 (2000-01-01) ...", 6),
            QuarantinedPacket("b.xml", 0, "unknown APID: 1501 (PID 93, category 13) ...", 1),
            QuarantinedPacket("b.xml", None, "malformed XML: no element found (after 1 packets)"),
        ]
    )
    cat = pipeline_status(data_root / "waiting", data_root / "incoming", catalog)["catalog"]
    assert cat["quarantine"] == {"SCET outside mission": 2, "malformed XML": 1, "unknown APID": 1}
    whole_file = [q for q in cat["quarantine_latest"] if q["packet_index"] is None]
    assert [q["file"] for q in whole_file] == ["b.xml"]
    text = status_cmd.format_status(
        {"generated_at": "now", "tm": {"n_waiting": 0, "n_incoming_not_ingested": 0},
         "catalog": cat}
    )  # fmt: skip
    assert "quarantined packets: 4" in text
    assert "     2 SCET outside mission" in text
    assert "latest: a.xml packet 3 (packetID 4): SCET outside mission" in text


@pytest.mark.realdata
def test_locked_catalog_is_reported_not_raised(data_root):
    path = data_root / "archive" / "stix_catalog.duckdb"
    holder = locked_catalog(path)
    try:
        status = pipeline_status(
            data_root / "waiting", data_root / "incoming", Catalog(path, read_timeout_s=0.2)
        )
    finally:
        stop(holder)
    assert status["catalog"]["busy"] is True
    assert status["tm"]["incoming_not_ingested"] is None
    assert status["tm"]["waiting"] == ["late_PktTmRaw.xml"]


def runs_in_every_state(instance: dg.DagsterInstance, data_root: Path) -> tuple[str, str, str]:
    """A queued, a running (cancelling) and a failed run; their ids."""
    defs = dg.Definitions(assets=SYNC_ASSETS, jobs=SYNC_JOBS, resources={"stix": StixSettings()})
    job = defs.resolve_job_def("sync_tm_job")
    queued = instance.create_run_for_job(job)  # NOT_STARTED: waiting for a launcher
    running = instance.create_run_for_job(job)
    instance.report_run_canceling(running)
    failed = dg.materialize(
        SYNC_ASSETS[:1],
        instance=instance,
        resources={"stix": StixSettings(data_root=str(data_root))},  # no tm_source: fails
        raise_on_error=False,
    )
    assert not failed.success
    return queued.run_id, running.run_id, failed.run_id


@pytest.mark.realdata
def test_collect_status_lists_running_queued_and_failed_runs(data_root):
    now = dt.datetime.now(dt.UTC)
    with dg.instance_for_test() as instance:
        queued, running, failed = runs_in_every_state(instance, data_root)
        status = collect_status(StixSettings(data_root=str(data_root)), instance, now=now)
    runs = status["runs"]
    assert [r["run_id"] for r in runs["queued"]] == [queued]
    assert [r["run_id"] for r in runs["running"]] == [running]
    assert [r["run_id"] for r in runs["failed"]] == [failed]
    assert status["tm"]["n_waiting"] == 1
    text = status_cmd.format_status(status)
    assert "queued: 1" in text
    assert f"last processed TM file: {HK_TM}" in text


@pytest.mark.realdata
def test_status_command_json(data_root, capsys, monkeypatch):
    monkeypatch.setenv("STIX_DATA_ROOT", str(data_root))
    args = _parser().parse_args(["status", "--json"])
    assert args.run(args) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["runs"] is None  # no DAGSTER_HOME
    assert status["tm"]["incoming_not_ingested"] == ["new_PktTmRaw.xml"]


def test_config_command_shows_sources(tmp_path, capsys, monkeypatch):
    toml = tmp_path / "stix-assets.toml"
    toml.write_text('[paths]\ndata_root = "/srv/stix"\n')
    monkeypatch.delenv("STIX_CONFIG", raising=False)
    monkeypatch.setenv("STIX_TM_SOURCE", "stixcore@gfts:/tm")
    args = _parser().parse_args(["config", "--config", str(toml), "--json"])
    assert args.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in out["settings"]}
    assert out["config_file"] == str(toml)
    assert (rows["data_root"]["value"], rows["data_root"]["source"]) == ("/srv/stix", "toml")
    assert (rows["tm_source"]["value"], rows["tm_source"]["source"]) == ("stixcore@gfts:/tm", "env")
    assert rows["incoming_dir"]["source"] == "derived"


def test_sync_command_runs_a_job(tmp_path, capsys, monkeypatch):
    source = tmp_path / "gfts"
    source.mkdir()
    (source / "b_PktTmRaw.xml").write_text("<r/>")
    monkeypatch.delenv("STIX_CONFIG", raising=False)
    monkeypatch.setenv("STIX_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("STIX_TM_SOURCE", str(source))
    args = _parser().parse_args(["sync", "tm", "--json"])
    assert args.run(args) == 0
    assert json.loads(capsys.readouterr().out)["n_transferred"] == 1
    assert (tmp_path / "data" / "waiting" / "b_PktTmRaw.xml").exists()


# ---- failing asset checks (issue 5) ----

_DAYS = dg.StaticPartitionsDefinition(["2024-05-14", "2024-05-15", "2024-05-16"])


class _Outcome(dg.Config):
    passed: bool
    severity: str = "ERROR"


@dg.asset(
    key=["lb", "demo_product"],
    partitions_def=_DAYS,
    check_specs=[
        dg.AssetCheckSpec(
            "lb_has_no_lost_packets", asset=["lb", "demo_product"], partitions_def=_DAYS
        )
    ],
)
def _checked_product(context: dg.AssetExecutionContext, config: _Outcome):
    yield dg.Output(None)
    yield dg.AssetCheckResult(
        passed=config.passed,
        severity=dg.AssetCheckSeverity(config.severity),
        description=f"{context.partition_key}: 3 packets lost" if not config.passed else "ok",
    )


def _run_check(instance, day: str, *, passed: bool, severity: str = "ERROR") -> None:
    result = dg.materialize(
        [_checked_product],
        instance=instance,
        partition_key=day,
        run_config=dg.RunConfig({"lb__demo_product": _Outcome(passed=passed, severity=severity)}),
    )
    assert result.success


def test_failing_checks_lists_the_latest_failed_evaluation_per_day(tmp_path):
    from stix_assets.status import failing_checks

    key = dg.AssetCheckKey(dg.AssetKey(["lb", "demo_product"]), "lb_has_no_lost_packets")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert failing_checks(instance, [key])["n_failed"] == 0
        _run_check(instance, "2024-05-14", passed=False, severity="WARN")
        _run_check(instance, "2024-05-15", passed=False)
        _run_check(instance, "2024-05-16", passed=False)
        _run_check(instance, "2024-05-16", passed=True)  # fixed by a rerun: not listed
        checks = failing_checks(instance, [key])
    assert checks["n_failed"] == 2
    assert checks["by_severity"] == {"ERROR": 1, "WARN": 1}
    assert checks["by_check"] == {"lb_has_no_lost_packets": 2}
    first, second = checks["failed"]
    assert (first["partition"], first["severity"]) == ("2024-05-15", "ERROR")  # ERROR first
    assert (second["partition"], second["severity"]) == ("2024-05-14", "WARN")
    assert first["asset"] == "lb/demo_product"
    assert first["description"] == "2024-05-15: 3 packets lost"
    assert dt.datetime.fromisoformat(first["evaluated_at"]).tzinfo is not None


def test_failing_checks_in_status_text_and_json(tmp_path, capsys, monkeypatch):
    key = dg.AssetCheckKey(dg.AssetKey(["lb", "demo_product"]), "lb_has_no_lost_packets")
    for var in ("STIX_CONFIG", "STIX_DATA_ROOT"):
        monkeypatch.delenv(var, raising=False)
    stix = StixSettings(data_root=str(tmp_path / "data"))
    with dg.instance_for_test() as instance:
        _run_check(instance, "2024-05-15", passed=False)
        status = collect_status(stix, instance, now=dt.datetime.now(dt.UTC), check_keys=[key])
    assert json.loads(json.dumps(status))["checks"]["n_failed"] == 1
    text = status_cmd.format_status(status)
    assert "failing checks: 1 (1 ERROR)" in text
    assert (
        "  ERROR lb/demo_product 2024-05-15 lb_has_no_lost_packets: 2024-05-15: 3 packets lost"
        in text
    )


def test_failing_checks_default_to_every_check_of_the_code_location(tmp_path):
    from stix_assets.status import _defined_check_keys, failing_checks

    keys = _defined_check_keys()
    names = {(k.asset_key.to_user_string(), k.name) for k in keys}
    assert ("lb/ql_lightcurve", "lb_has_no_lost_packets") in names
    assert ("l0/ql_lightcurve", "l0_has_no_time_gaps") in names
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert failing_checks(instance) == {
            "n_failed": 0,
            "by_severity": {},
            "by_check": {},
            "failed": [],
        }


def test_failing_checks_without_keys_come_from_the_instance_in_one_query(tmp_path):
    from stix_assets.status import _latest_failed_per_key, _latest_failed_sql, failing_checks

    key = dg.AssetCheckKey(dg.AssetKey(["lb", "demo_product"]), "lb_has_no_lost_packets")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        _run_check(instance, "2024-05-14", passed=False, severity="WARN")
        _run_check(instance, "2024-05-15", passed=False)
        _run_check(instance, "2024-05-16", passed=False)
        _run_check(instance, "2024-05-16", passed=True)
        by_sql = _latest_failed_sql(instance, None)
        per_key = _latest_failed_per_key(instance, [key])
        other = dg.AssetCheckKey(dg.AssetKey(["lb", "other"]), "lb_has_no_lost_packets")
        assert _latest_failed_sql(instance, [other]) == []
        checks = failing_checks(instance)  # no keys: no code location is loaded
    assert sorted(r["id"] for r in by_sql) == sorted(r.id for r in per_key)
    assert {r["partition"] for r in by_sql} == {"2024-05-14", "2024-05-15"}
    # the rows read from the stored JSON are what Dagster's records give
    from stix_assets.status import _failed_row

    by_id = {r.id: _failed_row(r) for r in per_key}
    for row in by_sql:
        expected = by_id[row["id"]]
        assert {k: v for k, v in row.items() if k not in ("id", "evaluated_at")} == {
            k: v for k, v in expected.items() if k != "evaluated_at"
        }
        stamp = dt.datetime.fromisoformat(expected["evaluated_at"])
        assert abs(dt.datetime.fromisoformat(row["evaluated_at"]) - stamp).total_seconds() < 1e-3
    assert checks["n_failed"] == 2
    assert checks["by_severity"] == {"ERROR": 1, "WARN": 1}


class _Entry:
    """A directory entry that answers name and inode; its ``stat`` must not be needed."""

    def __init__(self, name: str, inode: int, size: int | None = None):
        self.name, self._inode, self._size = name, inode, size

    def inode(self) -> int:
        return self._inode

    def stat(self):
        if self._size is None:
            raise AssertionError(f"stat of {self.name}")
        return argparse.Namespace(st_size=self._size, st_mtime_ns=1)


def test_tm_backlog_stats_only_what_the_directory_entries_cannot_answer():
    from stix_assets.core.status import _not_ingested, _unstaged

    waiting = {"a": _Entry("a", 1), "b": _Entry("b", 2), "c": _Entry("c", 3, size=10)}
    incoming = {"a": _Entry("a", 1), "c": _Entry("c", 4, size=11), "d": _Entry("d", 5)}
    # a: hard link (same inode), b: not staged, c: a copy of another version (stat needed)
    assert _unstaged(waiting, incoming) == ["b", "c"]
    incoming = {"new": _Entry("new", 7), "known": _Entry("known", 8, size=5)}
    assert _not_ingested(incoming, {"known": 5}) == ["new"]  # "new": no stat
    assert _not_ingested(incoming, {"known": 4}) == ["known", "new"]


_NO_CODE_LOCATION = """
import json, sys
sys.modules["stix_assets.definitions"] = None  # importing the code location now fails
from stix_assets.cli import main
status = main(["status", "--json"])
loaded = sorted(m for m, mod in sys.modules.items() if mod is not None)
print(json.dumps({"status": status, "modules": loaded}))
"""


def test_status_command_needs_no_code_location(tmp_path):
    import os
    import subprocess
    import sys

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STIX_")},
        "DAGSTER_HOME": str(home),
        "STIX_DATA_ROOT": str(tmp_path / "data"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _NO_CODE_LOCATION],
        check=False, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    probe = json.loads(lines[-1])
    assert probe["status"] == 0
    status = json.loads("\n".join(lines[:-1]))
    assert status["runs"]["running"] == []
    assert status["checks"]["n_failed"] == 0
    assert "dagster" not in probe["modules"]  # the instance's tables, read without Dagster
    loaded = {m for m in probe["modules"] if m.startswith("stix_assets")}
    assert loaded.isdisjoint(
        {"stix_assets.definitions", "stix_assets.assets", "stix_assets.checks",
         "stix_assets.sensors", "stix_assets.resources"}
    )  # fmt: skip
