"""`stix_assets.instance_tables` reads what Dagster's API reads, from SQLite and PostgreSQL instances.

The status command reads the instance's ``runs`` and ``asset_check_executions`` tables directly, so
that it answers without importing Dagster (issue 12). These tables are Dagster's: this module
pins, on real instances of both kinds, that the rows read directly equal those of Dagster's own
API (`stix_assets.status`), field by field.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from stix_assets.instance_tables import InstanceTables
from stix_assets.status import failing_checks, run_status
from stix_assets_tests.test_status import _run_check, runs_in_every_state

REPO = Path(__file__).resolve().parents[1]


def _populate(instance: dg.DagsterInstance, data_root: Path) -> None:
    """Runs in every state the status shows, and checks that failed, passed, then failed again."""
    runs_in_every_state(instance, data_root)
    _run_check(instance, "2024-05-14", passed=False, severity="WARN")
    _run_check(instance, "2024-05-15", passed=False)
    _run_check(instance, "2024-05-16", passed=False)
    _run_check(instance, "2024-05-16", passed=True)  # fixed by a rerun: not listed


def _assert_same_as_dagster(home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with dg.DagsterInstance.get() as instance:
        _populate(instance, tmp_path / "data")
        runs = run_status(instance, failed_since=since)
        checks = failing_checks(instance)
    tables = InstanceTables.at(home)
    assert tables is not None
    assert [len(runs[k]) for k in ("running", "queued", "failed")] == [1, 1, 1]
    assert tables.run_status(failed_since=since) == runs
    assert checks["n_failed"] == 2
    assert tables.failing_checks() == checks
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)  # a window after every run
    assert tables.run_status(failed_since=later)["failed"] == []


@pytest.mark.realdata
def test_sqlite_instance_tables_read_as_dagster(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())  # the example file
    _assert_same_as_dagster(home, tmp_path, monkeypatch)
    assert InstanceTables.at(home).kind == "sqlite"


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore:Found version mismatch:UserWarning")  # dagster-postgres 0.29.27
def test_postgres_instance_tables_read_as_dagster(
    tmp_path, monkeypatch, pg_server, dagster_postgres
):
    """The deployment's own instance file (deploy/dagster.postgres.yaml) on a real server."""
    home = tmp_path / "home"
    home.mkdir()
    text = (REPO / "deploy" / "dagster.postgres.yaml").read_text()
    (home / "dagster.yaml").write_text(text.replace("port: 5432", f"port: {pg_server.port}"))
    url = pg_server.create_database()
    user, rest = url.split("://", 1)[1].split("@", 1)
    monkeypatch.setenv("DAGSTER_PG_USER", user.split(":")[0])
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", user.split(":")[1] if ":" in user else "")
    monkeypatch.setenv("DAGSTER_PG_HOST", rest.split(":")[0].split("/")[0])
    monkeypatch.setenv("DAGSTER_PG_DB", rest.rsplit("/", 1)[1])
    _assert_same_as_dagster(home, tmp_path, monkeypatch)
    assert InstanceTables.at(home).kind == "postgres"


def test_unknown_storage_falls_back_to_dagster(tmp_path):
    (tmp_path / "dagster.yaml").write_text(
        "run_storage:\n  module: my.storage\n  class: MyRunStorage\n"
    )
    assert InstanceTables.at(tmp_path) is None
    (tmp_path / "dagster.yaml").write_text("storage:\n  mysql:\n    mysql_url: mysql://x\n")
    assert InstanceTables.at(tmp_path) is None
    (tmp_path / "dagster.yaml").write_text("")
    tables = InstanceTables.at(tmp_path)
    assert tables.runs == str(tmp_path / "history" / "runs.db")
    assert tables.failing_checks()["n_failed"] == 0  # never ran: no database yet, no error
