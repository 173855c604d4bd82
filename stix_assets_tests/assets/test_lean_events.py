"""Lean events: no materialization or check evaluation carries more than 8 KB of metadata.

The kit's reference TM files go TM -> L2 through the assets (one run per level-day, as the
sensors request them), then a backfill batch of L1, the daily products of the light-curve day and
the level checks; every event the instance then holds is measured as Dagster stores it.
"""

import datetime as dt
import importlib.util
import shutil
from pathlib import Path

import dagster as dg
import pytest

from stix_assets.assets._lean import EVENT_METADATA_LIMIT_BYTES, lean_metadata, metadata_bytes
from stix_assets.assets.levels import L0_PRODUCTS, ROUTE_ASSETS
from stix_assets.checks import checks_for_level
from stix_assets.dagster_runner import (
    materialize_daily_products,
    materialize_tm_files,
    reprocess_days,
)
from stix_assets.partitions import utc_days
from stix_assets.resources import StixSettings

LC_DAY = dt.date(2020, 11, 22)  # the kit's QL light curves: L1 plot, LL03, flare list
_EVENTS = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}


def _stored_bytes(metadata) -> int:
    return len(dg.serialize_value(dict(metadata)))


def _events(instance: dg.DagsterInstance) -> list[tuple[str, str, str | None, dict]]:
    """(event type, asset key, partition, metadata) of every materialization and check result."""
    out = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=_EVENTS):
            kind = entry.dagster_event.event_type_value
            data = entry.dagster_event.event_specific_data
            event = getattr(data, "materialization", None) or data
            out.append((kind, event.asset_key.to_user_string(), event.partition, event.metadata))
    return out


@pytest.mark.realdata
@pytest.mark.slow
def test_every_event_of_the_kit_stays_under_8_kb(tmp_path: Path, testdata: Path):
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    inputs = sorted((testdata / "reference" / "stixcore" / "input").glob("PktTmRaw*.xml"))
    for tm in inputs:
        shutil.copy(tm, incoming / tm.name)
    stix = StixSettings(
        data_root=str(tmp_path / "data"), idb_dir=str(testdata / "idb"),
        stix_conf_dir=str(testdata / "conf"), kernel_dir=str(testdata / "spice" / "kernels"),
    )  # fmt: skip
    l1_checks = checks_for_level("l1", [dg.AssetKey(["l1", p.key]) for p in L0_PRODUCTS], utc_days)
    with dg.instance_for_test() as instance:
        summary = materialize_tm_files(
            [incoming / tm.name for tm in inputs], stix, instance, end_level="L2"
        )
        assert summary.success, summary.failed
        batch = reprocess_days(
            LC_DAY - dt.timedelta(days=1), LC_DAY + dt.timedelta(days=1), stix, instance,
            levels=["L1"],
        )  # fmt: skip
        assert batch.success
        materialize_daily_products([LC_DAY], stix, instance)  # ANC may fail: no SAS parameters
        checked = dg.materialize(
            [*ROUTE_ASSETS, *l1_checks], instance=instance, partition_key=LC_DAY.isoformat(),
            selection=dg.AssetSelection.groups("level_1"), resources={"stix": stix},
        )  # fmt: skip
        assert checked.success
        events = _events(instance)
    sizes = {(kind, key, part): _stored_bytes(meta) for kind, key, part, meta in events}
    too_big = {k: n for k, n in sizes.items() if n >= EVENT_METADATA_LIMIT_BYTES}
    assert too_big == {}
    seen = {key for _, key, _ in sizes}
    assert "ASSET_CHECK_EVALUATION" in {kind for kind, _, _ in sizes}
    assert {"tm/raw", "lb/ql_lightcurve", "l0/ql_lightcurve", "l1/ql_lightcurve"} <= seen
    assert {"plots/ql_lightcurve", "l3/flarelist"} <= seen
    plotted = [
        m
        for kind, k, p, m in events
        if kind == "ASSET_MATERIALIZATION" and k == "l1/ql_lightcurve" and p == LC_DAY.isoformat()
    ]
    # the quick-look plot is still shown, as a thumbnail, with the path of the full PNG
    assert plotted
    assert all("plot" in m and "plot_path" in m for m in plotted)
    assert any(k.startswith("l1/") and p and m.get("batch") for _, k, p, m in events)
    _assert_the_scale_benchmark_writes_these_keys(events)


def _assert_the_scale_benchmark_writes_these_keys(events) -> None:
    """benchmarks/scale_events.py must keep the shape of the real events it stands in for."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "scale_events.py"
    spec = importlib.util.spec_from_file_location("scale_events", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    stand_ins = {
        "tm/raw": bench.tm_events("PktTmRaw.xml", LC_DAY)[0],
        **{
            f"{level}/ql_lightcurve": bench.level_events(level, "ql_lightcurve", LC_DAY)[0]
            for level in ("lb", "l0", "l1")
        },
    }
    for key, stand_in in stand_ins.items():
        real = [set(m) for kind, k, _, m in events if kind == "ASSET_MATERIALIZATION" and k == key]
        assert set(stand_in.metadata) in real, (key, sorted(stand_in.metadata), real)


def test_lean_metadata_cuts_the_longest_list_and_keeps_the_protected_ones():
    files = [{"path": f"/archive/L1/file_{i:04d}.fits", "sha256": "f" * 64} for i in range(400)]
    days = [f"2024-01-{d:02d}" for d in range(1, 31)] * 5
    meta = {"n_files": 400, "files": dg.MetadataValue.json(files), "data_days": days}
    lean = lean_metadata(meta, keep=("data_days",))
    assert metadata_bytes(lean) < EVENT_METADATA_LIMIT_BYTES
    assert lean["files_total"] == 400
    assert lean["files"].value == files[: len(lean["files"].value)]  # the first entries
    assert lean["data_days"] == days  # protected: a sensor routes by it
    small = {"n_files": 1, "files": dg.MetadataValue.json(files[:2])}
    assert lean_metadata(small) == small
