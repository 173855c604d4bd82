"""Mission-scale benchmark (issue 12): sensor ticks, ``stix-assets status`` and the UI's partitions.

Populates a Dagster instance (SQLite in a temporary ``DAGSTER_HOME``, or with ``--storage
postgres`` a database on a throwaway PostgreSQL server) and a catalog as a long mission would
leave them, then times what the daemon, the operator and the UI do on it:

* ``N`` TM files: ``tm_files`` dynamic partitions of ``tm/raw``, one ``tm/raw`` materialization
  and one ``tm_has_no_quarantined_packets`` evaluation each, the files themselves in
  ``incoming/`` (and hard links in ``waiting/``, as the stage step leaves them) and a
  ``tm_files`` row each in the catalog;
* ``D`` days: one ``l0/<product>`` and one ``l1/<product>`` materialization per product and day
  (28 + 28), one check evaluation each (1 in 100 failed), and the matching ``product_files``
  rows; the L1 files of the last 30 days need reprocessing (predicted orbit), in the catalog and
  in the materializations' metadata.

The events are shaped as a run writes them (``scale_events.py``: metadata keys, value sizes and
run tags). Population shortcut (documented, so it stays honest): they are stored with the
storage's own row code, but in batches of one transaction each instead of one transaction per
event (37-75 ms per event here, hours for 100k files). The rows are the same (on SQLite the run
shard included); only the commits are fewer. Catalog rows go in with the catalog's
``insert_rows`` helper in one connection.

Then, in a child process whose ``PYTHONPATH`` picks the code under test (``--code DIR``; this
checkout by default, so a second run with ``--code ../main`` measures the code before a change
on the same instance), it times:

* every sensor of ``sensors.py`` and ``bsd_days_sensor.py``, built with
  ``dg.build_sensor_context(instance=...)``, with the cursor a running daemon would have;
* the automation condition sensor's evaluation (``dg.evaluate_automation_conditions`` over the
  ``level_*`` groups), first tick and next tick (``--no-automation`` skips it);
* ``stix-assets status --json`` as a subprocess (twice);
* the UI's partition view of ``tm/raw``: the ``PartitionHealthQuery`` the asset's partitions
  page sends, through ``dagster_graphql`` against an out-of-process code location (cold: the
  first query after loading; warm: the second), with the response size (``--no-ui`` skips it);
* the size of the event log (every file under ``DAGSTER_HOME``, or the PostgreSQL database and
  its largest tables) and of the catalog;
* with ``--mass-days N``, last because it adds events: the automation tick after a backfill of
  the last ``N`` days of L0, then after new LB for those days from one run per day.

Usage::

    STIX_TESTDATA=../shared/testdata python benchmarks/bench_scale.py --files 1000 --days 0
    python benchmarks/bench_scale.py --files 10000 --days 300 --keep /tmp/scale10k
    python benchmarks/bench_scale.py --reuse /tmp/scale10k --code ../main   # code before
    python benchmarks/bench_scale.py --files 10000 --days 300 --storage postgres --mass-days 270
"""

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from scale_events import level_events, store_batch, tm_events

HERE = Path(__file__).resolve().parent
_DEFAULT_KIT = Path(os.environ.get("STIX_TESTDATA", HERE.parent.parent / "shared" / "testdata"))
_LAST_DAY = dt.date(2026, 11, 30)
_PREDICTED_DAYS = 30
_BATCH = 5000

PARTITION_HEALTH_QUERY = """
query PartitionHealthQuery($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name type partitionKeys }
      assetPartitionStatuses {
        ... on TimePartitionStatuses {
          ranges { status startTime endTime startKey endKey }
        }
        ... on DefaultPartitionStatuses {
          materializedPartitions materializingPartitions failedPartitions
        }
        ... on MultiPartitionStatuses {
          primaryDimensionName
          ranges {
            primaryDimStartKey primaryDimEndKey primaryDimStartTime primaryDimEndTime
            secondaryDim {
              ... on TimePartitionStatuses {
                ranges { status startTime endTime startKey endKey }
              }
              ... on DefaultPartitionStatuses {
                materializedPartitions materializingPartitions failedPartitions
              }
            }
          }
        }
      }
    }
  }
}
"""
"""The asset partitions page's query (dagster-webserver 1.13.28 bundle, whitespace trimmed)."""


# ---------------------------------------------------------------------------------- population
def _instance(home: Path):
    """The SQLite instance of ``home`` (what ``DagsterInstance.get()`` opens for that home)."""
    from dagster._core.instance import DagsterInstance, InstanceRef

    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def _tm_day(i: int) -> dt.date:
    return dt.date(2020, 4, 15) + dt.timedelta(days=i // 4)


def _tm_name(i: int) -> str:
    day = _tm_day(i)
    return f"TM_BatchRequest.PktTmRaw.SOL.0.{day.year}.{day.timetuple().tm_yday:03d}.{i:06d}.xml"


def _write_files(data: Path, n_files: int) -> dict:
    incoming, waiting = data / "incoming", data / "waiting"
    incoming.mkdir(parents=True, exist_ok=True)
    waiting.mkdir(parents=True, exist_ok=True)
    base = time.time() - 86400
    last = None
    for i in range(n_files):
        name = _tm_name(i)
        path = incoming / name
        path.write_bytes(b"<ns2:ResponsePart/>")
        os.utime(path, (base + i * 0.001, base + i * 0.001))
        os.link(path, waiting / name)
        last = name
    os.utime(incoming, (base, base))
    newest = max(((e.stat().st_mtime_ns, e.stat().st_ctime_ns, e.name)
                  for e in os.scandir(incoming)), default=None)  # fmt: skip
    mark = [max(newest[0], newest[1]), newest[2]] if newest else None
    return {"last_name": last, "mark": mark}


def _fill_catalog(data: Path, n_files: int, days: list[dt.date], products: list[str]) -> None:
    import duckdb

    from stix_assets.core.catalog import Catalog
    from stix_assets.core.catalog.base import insert_rows

    catalog = Catalog(data / "archive" / "stix_catalog.duckdb")
    catalog._write([])  # creates the file with its schema
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC).replace(tzinfo=None)  # catalog: UTC
    tm_cols = [("name", ""), ("path", ""), ("size", "BIGINT"), ("sha256", ""), ("kind", ""),
               ("content_version", "INTEGER"), ("n_versions", "INTEGER"), ("status", ""),
               ("n_packets", "BIGINT"), ("n_quarantined", "BIGINT"),
               ("first_seen", "TIMESTAMP"), ("last_seen", "TIMESTAMP"),
               ("last_indexed", "TIMESTAMP")]  # fmt: skip
    names = [_tm_name(i) for i in range(n_files)]
    tm_rows = [
        (name, str(data / "incoming" / name), 19, hashlib.sha256(name.encode()).hexdigest(),
         "TM", 1, 1, "indexed", 1800, 0, now, now, now + dt.timedelta(seconds=i))
        for i, name in enumerate(names)
    ]  # fmt: skip
    from stix_assets.core.catalog.products import PRODUCT_COLUMNS

    cutoff = days[-1] - dt.timedelta(days=_PREDICTED_DAYS) if days else None
    prod_rows = []
    for day in days:
        for level in ("L0", "L1"):
            for p in products:
                path = f"{level}/{day:%Y/%m/%d}/solo_{level}_stix-{p}_{day:%Y%m%d}_V02.fits"
                needs = level == "L1" and day > cutoff
                prod_rows.append((path, level, p, day, None, 2, "0" * 64, 1000, 21540, [],
                                  now, None, None, needs))  # fmt: skip
    with duckdb.connect(str(catalog.path)) as conn:
        insert_rows(conn, "tm_files", tm_cols, tm_rows, "")
        insert_rows(conn, "product_files", PRODUCT_COLUMNS, prod_rows, "")


def _last_days(n: int) -> list[dt.date]:
    """The ``n`` days up to `_LAST_DAY`, oldest first."""
    return [_LAST_DAY - dt.timedelta(days=i) for i in range(n)][::-1]


def _instance_yaml(pg_url: str | None) -> str:
    """``dagster.yaml`` of the instance: SQLite in the home (default) or one PostgreSQL database."""
    if pg_url is None:
        return ""
    from urllib.parse import urlsplit

    url = urlsplit(pg_url)
    # the driver deploy/dagster.postgres.yaml names (docs/operations.md: psycopg 3 breaks NOTIFY)
    return (
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: {url.hostname}\n      port: {url.port}\n"
        f"      username: {url.username}\n      password: ''\n"
        f"      db_name: {url.path.lstrip('/')}\n      scheme: postgresql+psycopg2\n"
    )


def populate(home: Path, data: Path, n_files: int, n_days: int, pg_url: str | None = None) -> dict:
    """Fill a fresh instance, catalog and folders; returns counts and timings."""

    from stix_assets.assets.levels import L0_PRODUCTS

    t0 = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(_instance_yaml(pg_url))
    info = _write_files(data, n_files)
    t_files = time.perf_counter()
    products = [p.key for p in L0_PRODUCTS]
    days = _last_days(n_days)
    _fill_catalog(data, n_files, days, products)
    t_catalog = time.perf_counter()
    with _instance(home) as instance:
        names = [_tm_name(i) for i in range(n_files)]
        for start in range(0, n_files, _BATCH):
            instance.add_dynamic_partitions("tm_files", names[start : start + _BATCH])
        storage = instance.event_log_storage
        events = []
        for i, name in enumerate(names):
            events += tm_events(name, _tm_day(i))
            if len(events) >= _BATCH:
                store_batch(storage, events)
                events = []
        cutoff = days[-1] - dt.timedelta(days=_PREDICTED_DAYS) if days else None
        for d_i, day in enumerate(days):
            for level in ("l0", "l1"):
                for p_i, p in enumerate(products):
                    failed = (d_i * 56 + p_i) % 100 == 0
                    predicted = level == "l1" and day > cutoff
                    events += level_events(level, p, day, predicted=predicted, failed=failed)
            if len(events) >= _BATCH:
                store_batch(storage, events)
                events = []
        if events:
            store_batch(storage, events)
    t_events = time.perf_counter()
    n_events = 2 * n_files + 4 * len(products) * n_days
    return {
        **info, "n_files": n_files, "n_days": n_days, "n_events": n_events,
        "storage": "postgres" if pg_url else "sqlite",
        "populate_files_s": round(t_files - t0, 1),
        "populate_catalog_s": round(t_catalog - t_files, 1),
        "populate_events_s": round(t_events - t_catalog, 1),
    }  # fmt: skip


# ---------------------------------------------------------------------------------- measuring
def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _sensor_ticks(instance, stix, info: dict, kit: Path) -> dict:
    import dagster as dg

    from stix_assets import sensors
    from stix_assets.bsd_days_sensor import bsd_l1_days_sensor

    def tick(sensor, cursor, **resources):
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        return _timed(lambda: sensor(ctx))

    out = {}
    # tm_inbox_sensor: a daemon that has handled every file, restarted (its cursor as an earlier
    # version wrote it), then steady ticks with nothing new, then one new file
    cursor = json.dumps(info["mark"]) if info["mark"] else None
    out["inbox_restart_s"], first = tick(sensors.tm_inbox_sensor, cursor, stix=stix)
    cursor = first.cursor or cursor
    out["inbox_nothing_new_s"], second = tick(sensors.tm_inbox_sensor, cursor, stix=stix)
    cursor = second.cursor or cursor
    incoming = stix.incoming_path()
    tmp = incoming / ".new.tmp"
    tmp.write_bytes(b"<ns2:ResponsePart/>")
    old = time.time() - 60
    os.utime(tmp, (old, old))
    tmp.rename(incoming / _tm_name(10**7))
    out["inbox_one_new_s"], third = tick(sensors.tm_inbox_sensor, cursor, stix=stix)
    out["inbox_one_new_requests"] = len(third.run_requests)
    (incoming / _tm_name(10**7)).unlink()
    newest = instance.fetch_materializations(dg.AssetKey(["tm", "raw"]), limit=1).records
    days_cursor = str(newest[0].storage_id) if newest else None
    out["tm_to_days_nothing_new_s"], _ = tick(sensors.tm_to_days_sensor, days_cursor)
    last_id = instance.event_log_storage.get_maximum_record_id()
    out["bsd_l1_days_nothing_new_s"], _ = tick(bsd_l1_days_sensor, str(last_id))
    if (kit / "spice" / "kernels" / "mk").is_dir():
        from stix_assets.core.spice import loaded_kernels

        with loaded_kernels(stix.kernel_store()) as kernels:
            name = kernels.spice_mk
        out["spice_unchanged_s"], r = tick(sensors.spice_kernel_sensor, name, stix=stix)
        out["spice_new_set_s"], r = tick(sensors.spice_kernel_sensor, "earlier-set", stix=stix)
        out["spice_new_set_requests"] = len(r.run_requests)
        # again, with SPICE and astropy warmed up by the tick before (as in a running daemon)
        out["spice_new_set_again_s"], _ = tick(sensors.spice_kernel_sensor, "other", stix=stix)
    return out


def _automation_tick(instance, cursor):
    """One evaluation of the automation sensor's target (the ``level_*`` groups): seconds, result."""
    import warnings

    import dagster as dg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from stix_assets.definitions import defs
    selection = dg.AssetSelection.groups("level_0", "level_1", "level_2")
    return _timed(lambda: dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection, cursor=cursor))  # fmt: skip


def _automation(instance) -> dict:
    t1, first = _automation_tick(instance, None)
    t2, second = _automation_tick(instance, first.cursor)
    return {
        "automation_first_s": t1, "automation_first_requested": first.total_requested,
        "automation_next_s": t2, "automation_next_requested": second.total_requested,
    }, second.cursor  # fmt: skip


def _add_run(instance, tags: dict[str, str]) -> str:
    """A finished run with ``tags`` in the run storage (what the automation reads tags from)."""
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
    from dagster._core.utils import make_new_run_id

    run_id = make_new_run_id()
    instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id=run_id, tags=tags,
                                status=DagsterRunStatus.SUCCESS))  # fmt: skip
    return run_id


def _mass_update(instance, cursor, n_days: int) -> dict:
    """The automation ticks around a mass update of ``n_days`` days (mutates the instance).

    First a backfill of L0 over the last ``n_days`` days (runs of `BATCH_DAYS` days tagged
    ``dagster/backfill``, as a UI or ``reprocess`` backfill leaves them): a tick after its first
    run (what a daemon ticking every 30 s sees while the backfill runs), then one after all the
    other runs at once (the worst case: the daemon was stopped meanwhile). Neither may request
    anything. Then the same days get new LB outside any backfill (one run per day, as the TM
    sensors start them after a late re-delivery of a year of TM): a tick after the first day,
    one after all the others at once, and the next tick.
    """
    from stix_assets.assets._batches import BACKFILL_TAG, BATCH_DAYS
    from stix_assets.assets.levels import L0_PRODUCTS

    products = [p.key for p in L0_PRODUCTS]
    days = _last_days(n_days)
    storage = instance.event_log_storage
    out: dict = {"mass_days": n_days}
    state = {"cursor": cursor}

    def tick(label: str) -> None:
        t, result = _automation_tick(instance, state["cursor"])
        out[f"mass_{label}_tick_s"], out[f"mass_{label}_requested"] = t, result.total_requested
        state["cursor"] = result.cursor

    def write_runs(level: str, groups: list[list[dt.date]], tags: dict[str, str]) -> None:
        for group in groups:  # one run per group of days
            run_id = _add_run(instance, tags)
            events = [e for day in group for p in products for e in level_events(level, p, day)]
            store_batch(storage, events, run_id=run_id, job_name="__ASSET_JOB")

    def phase(name: str, level: str, groups: list[list[dt.date]], tags: dict[str, str]) -> None:
        write_runs(level, groups[:1], tags)
        tick(f"{name}_one_run")
        t = time.perf_counter()
        write_runs(level, groups[1:], tags)
        out[f"mass_{name}_write_s"] = time.perf_counter() - t
        tick(f"{name}_all_runs")

    backfill = {BACKFILL_TAG: "bench-mass", "stix/trigger": "backfill"}
    phase("backfill", "l0", [days[i : i + BATCH_DAYS] for i in range(0, n_days, BATCH_DAYS)],
          backfill)  # fmt: skip
    phase("lb", "lb", [[day] for day in days], {"stix/trigger": "tm"})
    tick("next")
    return out


def _ui(instance, code: Path) -> dict:
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    workspace = Path(tempfile.mkdtemp()) / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: stix_assets.definitions\n"
        f"      location_name: stix_assets\n      working_directory: {code}\n"
    )
    variables = {"assetKey": {"path": ["tm", "raw"]}}
    out = {}
    with define_out_of_process_context(str(workspace), None, instance) as ctx:
        for label in ("cold", "warm"):
            t, result = _timed(
                lambda: execute_dagster_graphql(ctx, PARTITION_HEALTH_QUERY, variables)
            )
            assert not result.errors, result.errors
            node = result.data["assetNodeOrError"]
            out[f"ui_tm_raw_{label}_s"] = t
            out[f"ui_tm_raw_{label}_bytes"] = len(json.dumps(result.data))
            out["ui_tm_raw_partitions"] = len(node["partitionKeysByDimension"][0]["partitionKeys"])
    return out


def _status(home: Path, data: Path, code: Path) -> dict:
    env = {**os.environ, "DAGSTER_HOME": str(home), "STIX_DATA_ROOT": str(data),
           "PYTHONPATH": str(code)}  # fmt: skip
    env.pop("STIX_CONFIG", None)
    probe = "import sys; from stix_assets.cli import main; sys.exit(main(['status', '--json']))"
    out = {}
    for label in ("first", "second"):
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                              text=True, check=False)  # fmt: skip
        out[f"status_{label}_s"] = time.perf_counter() - t
        assert proc.returncode == 0, proc.stderr[-2000:]
        status = json.loads(proc.stdout)
        out["status_failing_checks"] = status["checks"]["n_failed"]
        out["status_incoming_not_ingested"] = status["tm"]["n_incoming_not_ingested"]
    return out


def _event_log_mb(home: Path, instance) -> dict:
    """Size of the instance: every file of the SQLite home, or the PostgreSQL database."""
    url = getattr(instance.event_log_storage, "postgres_url", None)
    if url is None:
        return {"event_log_mb": _tree_bytes(home) / 1e6}
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg2://", "postgresql://")) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        tables = conn.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 4"
        ).fetchall()
    return {"event_log_mb": size / 1e6, **{f"pg_{t}_mb": b / 1e6 for t, b in tables}}


def measure(
    home: Path, data: Path, kit: Path, code: Path, *, ui: bool, automation: bool, mass_days: int
) -> dict:
    """Time the ticks, status and the UI query against a populated instance."""
    import warnings

    warnings.simplefilter("ignore")
    from stix_assets.resources import StixSettings

    # the daemon runs sensors in a code server that has loaded the definitions: the imports a
    # sensor makes lazily (asset modules) are done, not paid by its first tick
    t = time.perf_counter()
    import stix_assets.definitions  # noqa: F401

    load_s = time.perf_counter() - t
    info = json.loads((home / "bench_info.json").read_text())
    stix = StixSettings(data_root=str(data), kernel_dir=str(kit / "spice" / "kernels"),
                        settle_time_s=0)  # fmt: skip
    out = {"code": str(code), "load_definitions_s": load_s}
    with _instance(home) as instance:
        out.update(_sensor_ticks(instance, stix, info, kit))
        out.update(_status(home, data, code))
        cursor = None
        if automation or mass_days:
            ticks, cursor = _automation(instance)
            out.update(ticks)
        if ui:
            out.update(_ui(instance, code))
        out.update(_event_log_mb(home, instance))
        if mass_days:
            out.update(_mass_update(instance, cursor, mass_days))
    out["catalog_mb"] = (data / "archive" / "stix_catalog.duckdb").stat().st_size / 1e6
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


# ---------------------------------------------------------------------------------- main
def _measure_in_child(args: argparse.Namespace, work: Path, code: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure-child", "--reuse", str(work),
           "--kit", str(args.kit), "--code", str(code)]  # fmt: skip
    cmd += ["--no-ui"] if args.no_ui else []
    cmd += ["--no-automation"] if args.no_automation else []
    cmd += ["--mass-days", str(args.mass_days)] if args.mass_days else []
    env = {**os.environ, "PYTHONPATH": str(code)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"measuring failed:\n{proc.stderr[-4000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a JSON object per measured code version."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=1000, help="TM files (tm/raw partitions)")
    p.add_argument("--days", type=int, default=0, help="days of l0+l1 materializations")
    p.add_argument("--kit", type=Path, default=_DEFAULT_KIT, help="real-data kit (kernels)")
    p.add_argument("--code", type=Path, action="append", help="checkout(s) to measure")
    p.add_argument("--keep", type=Path, help="populate into DIR and keep it")
    p.add_argument("--reuse", type=Path, help="measure an instance populated with --keep")
    p.add_argument("--no-ui", action="store_true", help="skip the GraphQL partition query")
    p.add_argument("--no-automation", action="store_true", help="skip the automation tick")
    p.add_argument("--storage", choices=("sqlite", "postgres"), default="sqlite",
                   help="instance storage; postgres starts a throwaway server for the run")  # fmt: skip
    p.add_argument("--mass-days", type=int, default=0,
                   help="last: time the automation after a mass update of N days (mutates)")  # fmt: skip
    p.add_argument("--measure-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    codes = [c.resolve() for c in (args.code or [HERE.parent])]
    if args.measure_child:
        work = args.reuse
        result = measure(work / "home", work / "data", args.kit, codes[0], ui=not args.no_ui,
                         automation=not args.no_automation, mass_days=args.mass_days)  # fmt: skip
        print(json.dumps(result))
        return 0
    if args.storage == "postgres" and (args.keep or args.reuse):
        p.error("--storage postgres populates and measures in one go (the server is throwaway)")
    work = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="stix-scale-"))
    try:
        with _pg_database(args.storage == "postgres") as pg_url:
            if args.reuse is None:
                info = populate(work / "home", work / "data", args.files, args.days, pg_url)
                (work / "home" / "bench_info.json").write_text(json.dumps(info))
                print(json.dumps({"populated": info}), flush=True)
            for code in codes:
                print(json.dumps(_measure_in_child(args, work, code)), flush=True)
    finally:
        if args.keep is None and args.reuse is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


@contextlib.contextmanager
def _pg_database(wanted: bool) -> Iterator[str | None]:
    """A database on a throwaway PostgreSQL server (the tests' `pg_server`), or None."""
    if not wanted:
        yield None
        return
    sys.path.insert(0, str(HERE.parent))
    from stix_assets_tests.pg_server import find_pg_bin, pg_server

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
    with pg_server(bin_dir) as server:
        yield server.create_database("dagster")


if __name__ == "__main__":
    sys.exit(main())
