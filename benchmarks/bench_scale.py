"""Mission-scale benchmark (issue 12): sensor ticks, ``stix-assets status`` and the UI's partitions.

Populates a Dagster instance (SQLite, in a temporary ``DAGSTER_HOME``) and a catalog as a long
mission would leave them, then times what the daemon, the operator and the UI do on it:

* ``N`` TM files: ``tm_files`` dynamic partitions of ``tm/raw``, one ``tm/raw`` materialization
  (the metadata ``tm_index_result`` writes) and one ``tm_has_no_quarantined_packets`` evaluation
  each, the files themselves in ``incoming/`` (and hard links in ``waiting/``, as the stage step
  leaves them) and a ``tm_files`` row each in the catalog;
* ``D`` days: one ``l0/<product>`` and one ``l1/<product>`` materialization per product and day
  (28 + 28), one check evaluation each (1 in 100 failed), and the matching ``product_files``
  rows; the L1 files of the last 30 days need reprocessing (predicted orbit), in the catalog and
  in the materializations' metadata.

Population shortcut (documented, so it stays honest): the events are the ones
``DagsterInstance.report_runless_asset_event`` builds (same ``DagsterEvent``/``EventLogEntry``,
same row encoding through the storage's own ``_event_to_row``, ``_store_asset_event_tags``,
``_store_asset_event``), but written in batches of one transaction each instead of one
transaction per event (37-75 ms per event here, hours for 100k files). The rows are the same
(the run shard of run-less events included); only the commits are fewer. Catalog rows go in with
the catalog's ``insert_rows`` helper in one connection.

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
* the size of the event log (every file under ``DAGSTER_HOME``) and of the catalog.

Usage::

    STIX_TESTDATA=../shared/testdata python benchmarks/bench_scale.py --files 1000 --days 0
    python benchmarks/bench_scale.py --files 10000 --days 300 --keep /tmp/scale10k
    python benchmarks/bench_scale.py --reuse /tmp/scale10k --code ../main   # code before
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def _tm_name(i: int) -> str:
    day = dt.date(2020, 4, 15) + dt.timedelta(days=i // 4)
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


def _runless_entry(asset_event):
    import dagster as dg
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry
    from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

    if isinstance(asset_event, dg.AssetMaterialization):
        kind, payload = (
            DagsterEventType.ASSET_MATERIALIZATION.value,
            StepMaterializationData(asset_event),
        )
    else:
        kind, payload = DagsterEventType.ASSET_CHECK_EVALUATION.value, asset_event
    event = DagsterEvent(
        event_type_value=kind, event_specific_data=payload, job_name=RUNLESS_JOB_NAME
    )
    return EventLogEntry(
        user_message="", level=20, job_name=RUNLESS_JOB_NAME, run_id=RUNLESS_RUN_ID,
        error_info=None, timestamp=time.time(), step_key=None, dagster_event=event,
    )  # fmt: skip


def _store_batch(storage, asset_events) -> None:
    """Store run-less events with the storage's own row code, in one transaction per table set."""
    import dagster as dg
    from dagster._core.events import DagsterEventType
    from dagster._core.instance.utils import RUNLESS_RUN_ID
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus as Status,
    )
    from dagster._core.storage.event_log.schema import (
        AssetCheckExecutionsTable,
        SqlEventLogStorageTable,
    )
    from dagster_shared.serdes import serialize_value
    from sqlalchemy import func, select

    materialized = DagsterEventType.ASSET_MATERIALIZATION.value
    entries = [_runless_entry(e) for e in asset_events]
    rows = [storage._event_to_row(e) for e in entries]
    t = SqlEventLogStorageTable
    with storage.run_connection(RUNLESS_RUN_ID) as conn:  # the run shard, as store_event does
        conn.execute(t.insert(), rows)
    with storage.index_transaction() as conn:
        before = conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar()
        conn.execute(t.insert(), rows)
        ids = [r[0] for r in conn.execute(select(t.c.id).where(t.c.id > before).order_by(t.c.id))]
        assert len(ids) == len(entries)
        mats = [(e, i) for e, i in zip(entries, ids, strict=True)
                if e.dagster_event.event_type_value == materialized]  # fmt: skip
        if mats:
            storage._store_asset_event_tags(conn, [e for e, _ in mats], [i for _, i in mats])
            latest = {e.dagster_event.asset_key: (e, i) for e, i in mats}
            for e, i in latest.values():
                storage._store_asset_event(conn, e, i)
        checks = []
        for e, i in zip(entries, ids, strict=True):
            ev = e.dagster_event.event_specific_data
            if isinstance(ev, dg.AssetCheckEvaluation):
                checks.append({
                    "asset_key": ev.asset_key.to_string(), "check_name": ev.check_name,
                    "run_id": e.run_id,
                    "execution_status": (Status.SUCCEEDED if ev.passed else Status.FAILED).value,
                    "evaluation_event": serialize_value(e),
                    "evaluation_event_timestamp": storage._event_insert_timestamp(e),
                    "evaluation_event_storage_id": i, "materialization_event_storage_id": None,
                    "partition": ev.partition,
                })  # fmt: skip
        if checks:
            conn.execute(AssetCheckExecutionsTable.insert(), checks)


def _tm_events(i: int, name: str):
    import dagster as dg

    sha = hashlib.sha256(name.encode()).hexdigest()
    day = (dt.date(2020, 4, 15) + dt.timedelta(days=i // 4)).isoformat()
    meta = {
        "kind": "TM", "complete": True, "n_packets": 1800,
        "packets_by_kind": dg.MetadataValue.json({"3_25_2": 1350, "21_6_30": 300, "21_6_31": 150}),
        "days_touched": dg.MetadataValue.json({"hk_maxi": [day], "ql_lightcurve": [day]}),
        "idb_versions": dg.MetadataValue.json(["2.26.34"]), "quarantined": 0,
        "quarantined_by_reason": dg.MetadataValue.json({}),
        "quarantine_examples": dg.MetadataValue.json([]), "sha256": sha, "size_bytes": 19,
        "mtime_ns": 0, "software_version": "bench",
    }  # fmt: skip
    key = dg.AssetKey(["tm", "raw"])
    return [
        dg.AssetMaterialization(key, partition=name, metadata=meta,
                                tags={"dagster/data_version": sha}),
        dg.AssetCheckEvaluation(asset_key=key, check_name="tm_has_no_quarantined_packets",
                                passed=True, partition=name, description="no packet quarantined"),
    ]  # fmt: skip


def _level_events(level: str, product: str, day: dt.date, predicted: bool, failed: bool):
    import dagster as dg

    part = day.isoformat()
    name = f"solo_{level.upper()}_stix-{product.replace('_', '-')}_{day:%Y%m%d}_V02.fits"
    sha = hashlib.sha256(f"{level}{product}{part}".encode()).hexdigest()
    meta = {
        "files": dg.MetadataValue.json([{"path": name, "sha256": sha, "rows": 21540}]),
        "inputs": dg.MetadataValue.json([name.replace(level.upper(), "LB")]),
        "idb_versions": dg.MetadataValue.json(["2.26.34"]), "software_version": "bench",
    }  # fmt: skip
    if level == "l1":
        spice = {"spice_mk": "solo_ANC_soc-flown-mk_V001_20261130_001.tm", "utc_day": part,
                 "sclk_valid": True, "before_flown_mk": True,
                 "orbit": "predicted" if predicted else "flown", "attitude": True,
                 "is_final": not predicted}  # fmt: skip
        meta["spice"] = dg.MetadataValue.json(spice)
        meta["needs_reprocessing"] = predicted
    key = dg.AssetKey([level, product])
    check = f"{level}_has_increasing_times"
    return [
        dg.AssetMaterialization(key, partition=part, metadata=meta,
                                tags={"dagster/data_version": sha}),
        dg.AssetCheckEvaluation(asset_key=key, check_name=check, passed=not failed,
                                partition=part, description="times increase" if not failed
                                else "3 rows out of order"),
    ]  # fmt: skip


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


def populate(home: Path, data: Path, n_files: int, n_days: int) -> dict:
    """Fill a fresh instance, catalog and folders; returns counts and timings."""

    from stix_assets.assets.levels import L0_PRODUCTS

    t0 = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("")
    info = _write_files(data, n_files)
    t_files = time.perf_counter()
    products = [p.key for p in L0_PRODUCTS]
    days = [_LAST_DAY - dt.timedelta(days=i) for i in range(n_days)][::-1]
    _fill_catalog(data, n_files, days, products)
    t_catalog = time.perf_counter()
    with _instance(home) as instance:
        names = [_tm_name(i) for i in range(n_files)]
        for start in range(0, n_files, _BATCH):
            instance.add_dynamic_partitions("tm_files", names[start : start + _BATCH])
        storage = instance.event_log_storage
        events = []
        for i, name in enumerate(names):
            events += _tm_events(i, name)
            if len(events) >= _BATCH:
                _store_batch(storage, events)
                events = []
        cutoff = days[-1] - dt.timedelta(days=_PREDICTED_DAYS) if days else None
        for d_i, day in enumerate(days):
            for level in ("l0", "l1"):
                for p_i, p in enumerate(products):
                    failed = (d_i * 56 + p_i) % 100 == 0
                    events += _level_events(level, p, day, level == "l1" and day > cutoff, failed)
            if len(events) >= _BATCH:
                _store_batch(storage, events)
                events = []
        if events:
            _store_batch(storage, events)
    t_events = time.perf_counter()
    n_events = 2 * n_files + 4 * len(products) * n_days
    return {
        **info, "n_files": n_files, "n_days": n_days, "n_events": n_events,
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


def _automation(instance) -> dict:
    import warnings

    import dagster as dg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from stix_assets.definitions import defs
    selection = dg.AssetSelection.groups("level_0", "level_1", "level_2")
    t1, first = _timed(lambda: dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection))  # fmt: skip
    t2, second = _timed(lambda: dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection, cursor=first.cursor))  # fmt: skip
    return {
        "automation_first_s": t1, "automation_first_requested": first.total_requested,
        "automation_next_s": t2, "automation_next_requested": second.total_requested,
    }  # fmt: skip


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


def measure(home: Path, data: Path, kit: Path, code: Path, *, ui: bool, automation: bool) -> dict:
    """Time the ticks, status and the UI query against a populated instance."""
    import warnings

    warnings.simplefilter("ignore")
    from stix_assets.resources import StixSettings

    info = json.loads((home / "bench_info.json").read_text())
    stix = StixSettings(data_root=str(data), kernel_dir=str(kit / "spice" / "kernels"),
                        settle_time_s=0)  # fmt: skip
    out = {"code": str(code)}
    with _instance(home) as instance:
        out.update(_sensor_ticks(instance, stix, info, kit))
        out.update(_status(home, data, code))
        if automation:
            out.update(_automation(instance))
        if ui:
            out.update(_ui(instance, code))
    out["event_log_mb"] = _tree_bytes(home) / 1e6
    out["catalog_mb"] = (data / "archive" / "stix_catalog.duckdb").stat().st_size / 1e6
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


# ---------------------------------------------------------------------------------- main
def _measure_in_child(args: argparse.Namespace, work: Path, code: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure-child", "--reuse", str(work),
           "--kit", str(args.kit), "--code", str(code)]  # fmt: skip
    cmd += ["--no-ui"] if args.no_ui else []
    cmd += ["--no-automation"] if args.no_automation else []
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
    p.add_argument("--measure-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    codes = [c.resolve() for c in (args.code or [HERE.parent])]
    if args.measure_child:
        work = args.reuse
        result = measure(work / "home", work / "data", args.kit, codes[0],
                         ui=not args.no_ui, automation=not args.no_automation)  # fmt: skip
        print(json.dumps(result))
        return 0
    work = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="stix-scale-"))
    try:
        if args.reuse is None:
            info = populate(work / "home", work / "data", args.files, args.days)
            (work / "home" / "bench_info.json").write_text(json.dumps(info))
            print(json.dumps({"populated": info}), flush=True)
        for code in codes:
            print(json.dumps(_measure_in_child(args, work, code)), flush=True)
    finally:
        if args.keep is None and args.reuse is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
