"""Scale-out for real: a Dagster instance on PostgreSQL, the run queue, parallel runs, one catalog.

What ``deploy/dagster.postgres.yaml`` and docs/operations.md section 6 describe, on one machine:
the instance storage and the catalog in a PostgreSQL server, a code server (``dagster api
grpc``), ``dagster-daemon`` dequeuing runs (QueuedRunCoordinator) and launching each as its own
process, steps run by the multiprocess executor, and the pool ``stix_catalog`` raised above 1 with
``dagster instance concurrency set``. One TM file touching several SCET days is ingested (as
``process --dagster`` does), then the LB and L0 days are backfilled through the daemon, each level
as one backfill whose runs go in parallel. The products must be byte-identical to ``stix-assets
process`` in one process (DuckDB catalog), the catalog must hold the same rows, runs of different
days must really have overlapped in time, and no catalog-writing step may have waited for a pool
slot.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from stix_assets_tests.test_routes import LEVEL_DIRS, _digests, _rows

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    # dagster-postgres 0.29.28 (the pair of dagster 1.13.28) is not on PyPI; 0.29.27 is installed
    # without its dagster==1.13.27 pin, and says so once on import
    pytest.mark.filterwarnings("ignore:Found version mismatch between `dagster-shared`"),
]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TM_NAME = "PktTmRaw.xml"  # 12 packets on three SCET days, two of them with daily products, 2 BSD
EPOCH = "1764676800"
TIMEOUT_S = 150


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path, testdata: Path, pg_server, dagster_db: str, catalog_url: str) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_USER": "stix",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": dagster_db,
        "SOURCE_DATE_EPOCH": EPOCH,
        "STIX_DATA_ROOT": str(tmp_path / "data"),
        "STIX_ARCHIVE_DIR": str(tmp_path / "archive"),
        "STIX_INCOMING_DIR": str(tmp_path / "incoming"),
        "STIX_IDB_DIR": str(testdata / "idb"),
        "STIX_STIX_CONF_DIR": str(testdata / "conf"),
        "STIX_KERNEL_DIR": str(testdata / "spice" / "kernels"),
        "STIX_CATALOG_URL": catalog_url,
        "PYTHONWARNINGS": "ignore::UserWarning",  # the version mismatch line, in every process
    }


def _instance_yaml(home: Path, port: int) -> None:
    """The deployment's instance file, pointed at the test server's port."""
    text = (REPO / "deploy" / "dagster.postgres.yaml").read_text()
    assert "port: 5432" in text
    home.mkdir()
    (home / "dagster.yaml").write_text(text.replace("port: 5432", f"port: {port}"))


def _reference(tmp_path: Path, testdata: Path, tm: Path) -> Path:
    """The same TM file through ``stix-assets process`` in one process (DuckDB catalog)."""
    archive = tmp_path / "reference"
    cmd = [
        str(BIN / "stix-assets"), "process", "--tm", str(tm), "--archive", str(archive),
        "--idb-dir", str(testdata / "idb"), "--conf-dir", str(testdata / "conf"),
        "--end-level", "L0", "--workers", "1", "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "STIX_INCOMING_DIR": str(tmp_path / "ref_in")}
    env.pop("STIX_CATALOG_URL")  # the default: the DuckDB file in the archive
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return archive


def _wait_for(instance, tag: str, n: int) -> list:
    import dagster as dg

    done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        records = instance.get_run_records(dg.RunsFilter(tags={"stix/test": tag}))
        if len(records) == n and all(r.dagster_run.status in done for r in records):
            return records
        time.sleep(0.5)
    states = [(r.dagster_run.tags.get("dagster/partition"), r.dagster_run.status) for r in records]
    raise AssertionError(f"{tag} runs not done in {TIMEOUT_S} s: {states}")


def _backfill(instance, workspace: Path, job: str, keys: list[str]) -> list:
    """One backfill of ``job`` over ``keys`` (all runs submitted to the queue at once)."""
    from dagster._cli.job import execute_backfill_command
    from dagster._cli.workspace.cli_target import WorkspaceOpts

    execute_backfill_command(
        workspace_opts=WorkspaceOpts(workspace=(str(workspace),)),
        partitions=",".join(keys),
        tags=json.dumps({"stix/test": job}),
        noprompt=True,
        job_name=job,
        print_fn=lambda *_: None,
        instance=instance,
    )
    records = _wait_for(instance, job, len(keys))
    failed = [r.dagster_run.run_id for r in records if r.dagster_run.status.value != "SUCCESS"]
    assert not failed, _failure_text(instance, failed)
    return records


def _failure_text(instance, run_ids: list[str]) -> str:
    out = []
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is not None and event.is_failure:
                error = getattr(event.event_specific_data, "error", None)
                detail = error.to_string() if error is not None else event.message
                out.append(f"{run_id[:8]} {event.event_type_value}: {detail}")
    return "\n".join(out)[-4000:]


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def _pool_blocks(instance, records) -> list[str]:
    """Messages of steps that waited for a pool slot ("Step blocked by limit for pool ...")."""
    return [
        f"{entry.step_key}: {entry.dagster_event.message}"
        for record in records
        for entry in instance.all_logs(record.dagster_run.run_id)
        if entry.dagster_event is not None
        and "blocked by limit for pool" in (entry.dagster_event.message or "")
    ]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"code server exited: {log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"code server not listening after 90 s: {log.read_text()[-3000:]}")


@pytest.fixture
def processes():
    started: list = []  # the servers' log file, then the server processes
    yield started
    procs = [p for p in started if isinstance(p, subprocess.Popen)]
    for proc in reversed(procs):
        proc.send_signal(signal.SIGINT)  # both shut down cleanly on an interrupt
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for item in started:
        if not isinstance(item, subprocess.Popen):
            item.close()


def test_parallel_runs_on_postgres_equal_one_process(
    tmp_path, testdata, pg_server, dagster_postgres, monkeypatch, processes
):
    import dagster as dg

    from stix_assets.core.catalog import Catalog
    from stix_assets.core.levels import affected_days
    from stix_assets.dagster_runner import materialize_tm_files
    from stix_assets.partitions import scet_day_key
    from stix_assets.resources import StixSettings

    tm = testdata / "reference" / "stixcore" / "input" / TM_NAME
    dagster_db, catalog_url = pg_server.create_database(), pg_server.create_database()
    env = _env(tmp_path, testdata, pg_server, dagster_db.rsplit("/", 1)[1], catalog_url)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _instance_yaml(tmp_path / "home", pg_server.port)
    subprocess.run([str(BIN / "dagster"), "instance", "concurrency", "set", "stix_catalog", "4"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    grpc_port = _free_port()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
        "      location_name: stix_assets\n"
    )
    log = (tmp_path / "servers.log").open("w")
    processes.append(log)
    processes.append(subprocess.Popen(
        [str(BIN / "dagster"), "api", "grpc", "-m", "stix_assets_tests.e2e.scale_out_defs",
         "-h", "127.0.0.1", "-p", str(grpc_port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    ))  # fmt: skip
    processes.append(subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    ))  # fmt: skip
    reference = _reference(tmp_path, testdata, tm)  # while the servers start
    _wait_for_port(grpc_port, processes[1], tmp_path / "servers.log")

    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.event_log_storage.get_concurrency_info("stix_catalog").slot_count == 4
        # the TM file arrives as with `stix-assets process --dagster --end-level TM` (one
        # in-process run on this instance: a queued run would add a minute of process start-up)
        assert materialize_tm_files([tm], StixSettings(), instance, end_level="TM").success
        catalog = Catalog(catalog_url, archive_root=tmp_path / "archive")
        lb_days = sorted({d for d, _ in _touched(catalog)})
        assert len(lb_days) >= 3
        lb = _backfill(instance, workspace, "lb_job", [scet_day_key(d) for d in lb_days])
        # the L0 days with LB files of their own; their neighbours, which the reference run also
        # rebuilds, have no input in this TM file and stay empty there
        l0_days = sorted(d for d in affected_days("L0", _lb_written(catalog)) if d in lb_days)
        assert len(l0_days) >= 2
        l0 = _backfill(instance, workspace, "l0_job", [scet_day_key(d) for d in l0_days])

        run_spans = [(r.start_time, r.end_time) for r in (*lb, *l0)]
        blocked = _pool_blocks(instance, (*lb, *l0))
    # several runs at once; no catalog-writing step waited for a pool slot (limit 4, not 1)
    assert _max_overlap(run_spans) >= 2, run_spans
    assert blocked == [], blocked

    served = tmp_path / "archive"
    expected, got = _digests(reference), _digests(served)
    assert {rel.split("/")[0] for rel in expected} == {"LB", "L0"} <= set(LEVEL_DIRS)
    assert sorted(got) == sorted(expected)
    assert {rel for rel in expected if got[rel] != expected[rel]} == set()
    duck = _rows(Catalog(reference / "stix_catalog.duckdb"))
    pg = _rows(Catalog(catalog_url, archive_root=served))
    duck["tm_files"] = [r[:1] + r[2:] for r in duck["tm_files"]]  # TM path: incoming vs input
    pg["tm_files"] = [r[:1] + r[2:] for r in pg["tm_files"]]
    duck["tm_file_versions"] = [r[:2] + r[3:] for r in duck["tm_file_versions"]]
    pg["tm_file_versions"] = [r[:2] + r[3:] for r in pg["tm_file_versions"]]
    assert pg == duck


def _lb_written(catalog) -> dict[date, set[str]]:
    with catalog.connect_readonly() as conn:
        rows = conn.execute(
            "SELECT partition_day, product FROM product_files WHERE level = 'LB'"
            " AND partition_day IS NOT NULL"
        ).fetchall()
    out: dict[date, set[str]] = {}
    for day, product in rows:
        out.setdefault(day, set()).add(product)
    return out


def _touched(catalog) -> list[tuple[date, str]]:
    with catalog.connect_readonly() as conn:
        return conn.execute("SELECT scet_day, product FROM tm_file_days").fetchall()
