"""The events a long mission leaves in a Dagster instance, and a fast writer for them.

Used by ``bench_scale.py``. Each event is shaped like the one a real run writes: the metadata keys
of ``stix_assets.assets._results`` (``tm_index_result``, ``l0_results``, ``level_results`` and the
L1 SPICE and plot entries) with values of realistic size, and the tags Dagster adds to a
materialization made in a run (code version, data version, the input data versions and event
pointers of each dependency). A run also writes a planned event per materialization and its own
run and step events; those are not written here (``bench_scale.py``'s docstring says so).

The writer stores events with the storage's own row code (``_event_to_row``,
``_store_asset_event_tags``, ``_store_asset_event``, the check-execution row
``store_asset_check_event`` writes) in one transaction per batch instead of one per event, on
SQLite (the event in the run's shard and, for asset and check events, in the index shard, as
``SqliteEventLogStorage.store_event`` does) and on PostgreSQL (one table, as
``PostgresEventLogStorage.store_event`` does).
"""

import base64
import datetime as dt
import hashlib
import time

__all__ = [
    "LEVEL_CODE_VERSIONS",
    "level_events",
    "store_batch",
    "tm_events",
]

LEVEL_CODE_VERSIONS = {"lb": "lb-2", "l0": "l0-2", "l1": "l1-2"}
_SOFTWARE = "0.1.0"
_IDB = "2.26.34"
_PLOTTED = {"ql_lightcurve", "xray_spec", "hk_maxi", "hk_mini"}
_THUMBNAIL_BYTES = 2800
"""A real L1 thumbnail (192 x 96 px, 16 colours) is 2.5-3 KB of PNG."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _run_tags(code_version: str, data_version: str, inputs: dict[str, str | None]) -> dict:
    """Tags Dagster writes on a materialization made in a run (inputs: key -> data version)."""
    tags = {
        "dagster/code_version": code_version,
        "dagster/data_version": data_version,
        "dagster/data_version_is_user_provided": "true",
    }
    for key, version in sorted(inputs.items()):
        tags[f"dagster/input_data_version/{key}"] = version or "INITIAL"
        pointer = str(int(_sha(key)[:5], 16)) if version else "NULL"  # a storage id
        tags[f"dagster/input_event_pointer/{key}"] = pointer
    return tags


def tm_events(name: str, day: dt.date) -> list:
    """A ``tm/raw`` materialization of one TM file and its quarantine check (passed)."""
    import dagster as dg

    sha = _sha(name)
    part = day.isoformat()
    products = ["hk_maxi", "hk_mini", "ql_background", "ql_lightcurve", "ql_spectra"]
    meta = {
        "kind": "TM", "complete": True, "n_packets": 961,
        "packets_by_kind": dg.MetadataValue.json(
            {"21_6_30": 31, "21_6_31": 7, "21_6_32": 9, "3_25_1": 450, "3_25_2": 450}),
        "days_touched": dg.MetadataValue.json({p: [part] for p in products}),
        "idb_versions": dg.MetadataValue.json([_IDB]), "quarantined": 0,
        "size_bytes": 630710, "mtime_ns": 1796285494816048597, "software_version": _SOFTWARE,
    }  # fmt: skip
    key = dg.AssetKey(["tm", "raw"])
    tags = _run_tags("tm-1", sha, {"idb/versions": _IDB})
    return [
        dg.AssetMaterialization(key, partition=name, metadata=meta, tags=tags),
        dg.AssetCheckEvaluation(asset_key=key, check_name="tm_has_no_quarantined_packets",
                                passed=True, partition=name, description="no packet quarantined"),
    ]  # fmt: skip


def _file_name(level: str, product: str, day: dt.date) -> str:
    return f"solo_{level.upper()}_stix-{product.replace('_', '-')}_{day:%Y%m%d}_V02.fits"


def _plot(name: str) -> str:
    # random bytes of a thumbnail's size: a PNG does not compress either
    png = hashlib.shake_256(name.encode()).digest(_THUMBNAIL_BYTES)
    return f"![{name[:-5]}.png](data:image/png;base64,{base64.b64encode(png).decode()})"


def level_events(
    level: str, product: str, day: dt.date, *, predicted: bool = False, failed: bool = False
) -> list:
    """An ``lb``/``l0``/``l1`` materialization of one product and day, and its check."""
    import dagster as dg

    part = day.isoformat()
    name = _file_name(level, product, day)
    sha = _sha(f"{level}{product}{part}")
    path = f"/data/stix/archive/{level.upper()}/{day:%Y/%m/%d}/{name}"
    if level == "lb":
        tm = [f"TM_BatchRequest.PktTmRaw.SOL.0.{day:%Y.%j}.{h:02d}.00.00.000.xml" for h in (0, 8)]
        meta = {
            "n_files": 1, "n_packets": 1350, "n_new_packets": 1350,
            "files": dg.MetadataValue.json([{"path": path, "sha256": sha, "n_packets": 1350,
                                             "n_new": 1350}]),
            "tm_inputs": dg.MetadataValue.json(tm), "n_tm_inputs": len(tm),
            "idb_versions": dg.MetadataValue.json([_IDB]), "software_version": _SOFTWARE,
        }  # fmt: skip
        inputs: dict[str, str | None] = {"tm/raw": _sha(tm[-1])}
    else:
        upstream = "lb" if level == "l0" else "l0"
        in_names = [_file_name(upstream, product, day - dt.timedelta(days=d)) for d in (1, 0)]
        meta = {
            "n_files": 1, "n_rows": 21540,
            "files": dg.MetadataValue.json([{"path": path, "rows": 21540, "sha256": sha}]),
            "n_inputs": len(in_names), "inputs": dg.MetadataValue.json(in_names),
            "n_issues": 0, "software_version": _SOFTWARE, "stix_conf_version": "v2024-10",
        }  # fmt: skip
        inputs = {f"{upstream}/{product}": _sha(f"{upstream}{product}{part}")}
        if level == "l0":
            meta["idb_versions"] = dg.MetadataValue.json([_IDB])
            meta["n_waiting_sequences"] = 0
            meta["data_days"] = dg.MetadataValue.json([part])
            inputs["idb/versions"] = _IDB
        else:
            spice = {"attitude": True, "before_flown_mk": True, "is_final": not predicted,
                     "orbit": "predicted" if predicted else "flown", "sclk_valid": True,
                     "spice_mk": "solo_ANC_soc-flown-mk_V001_20261130_001.tm", "utc_day": part}  # fmt: skip
            meta["spice"] = dg.MetadataValue.json(spice)
            meta["needs_reprocessing"] = predicted
            meta["idb_versions"] = dg.MetadataValue.json([_IDB])
            if product in _PLOTTED:
                meta["plot"] = dg.MetadataValue.md(_plot(name))
                meta["plot_path"] = dg.MetadataValue.path(path[:-5] + ".png")
            inputs["spice/kernels"] = "solo_ANC_soc-flown-mk_V001_20261130_001.tm"
            inputs["conf/energy_tables"] = None
    key = dg.AssetKey([level, product])
    tags = _run_tags(LEVEL_CODE_VERSIONS[level], sha, inputs)
    out = [dg.AssetMaterialization(key, partition=part, metadata=meta, tags=tags)]
    if level != "lb":
        out.append(dg.AssetCheckEvaluation(
            asset_key=key, check_name=f"{level}_has_increasing_times", passed=not failed,
            partition=part, description="3 rows out of order" if failed else "times increase"))  # fmt: skip
    return out


def _entry(asset_event, run_id: str, job_name: str):
    import dagster as dg
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry

    if isinstance(asset_event, dg.AssetMaterialization):
        kind, payload = (
            DagsterEventType.ASSET_MATERIALIZATION.value,
            StepMaterializationData(asset_event),
        )
    else:
        kind, payload = DagsterEventType.ASSET_CHECK_EVALUATION.value, asset_event
    event = DagsterEvent(event_type_value=kind, event_specific_data=payload, job_name=job_name)
    return EventLogEntry(
        user_message="", level=20, job_name=job_name, run_id=run_id, error_info=None,
        timestamp=time.time(), step_key=None, dagster_event=event,
    )  # fmt: skip


def store_batch(storage, asset_events, run_id: str | None = None, job_name: str | None = None):
    """Store events of one run (run-less by default) with the storage's own row code."""
    import dagster as dg
    from dagster._core.events import DagsterEventType
    from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus as Status,
    )
    from dagster._core.storage.event_log import SqliteEventLogStorage
    from dagster._core.storage.event_log.schema import (
        AssetCheckExecutionsTable,
        SqlEventLogStorageTable,
    )
    from dagster_shared.serdes import serialize_value
    from sqlalchemy import func, select

    run_id = RUNLESS_RUN_ID if run_id is None else run_id
    materialized = DagsterEventType.ASSET_MATERIALIZATION.value
    entries = [_entry(e, run_id, job_name or RUNLESS_JOB_NAME) for e in asset_events]
    rows = [storage._event_to_row(e) for e in entries]
    t = SqlEventLogStorageTable
    if isinstance(storage, SqliteEventLogStorage):
        with storage.run_connection(run_id) as conn:  # the run's shard, as store_event does
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
