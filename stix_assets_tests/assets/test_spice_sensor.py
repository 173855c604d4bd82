"""spice_kernel_sensor: a new kernel set triggers exactly the L1 days it covers better."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest

from stix_assets import sensors
from stix_assets.assets.ingest import idb_versions, tm_raw
from stix_assets.assets.levels import level_0, level_1, level_binary, spice_kernels
from stix_assets.core.catalog import Catalog, ProductFileRecord
from stix_assets.dagster_runner import materialize_tm_files
from stix_assets.resources import StixSettings
from stix_assets.sensors import plan_spice_reprocess, spice_kernel_sensor

DAY = dt.date(2020, 12, 1)  # the nine HK maxi packets of the kit's PktTmRaw.xml
_COMMON = ("lsk/naif0012.tls", "sclk/solo_ANC_soc-sclk_20200922_V01.tsc", "pck/pck00010.tpc")
_FRAMES = (
    "fk/solo_ANC_soc-sc-fk_V05.tf", "fk/solo_ANC_soc-ops-fk_V02.tf",
    "fk/solo_ANC_soc-sci-fk_V06.tf", "fk/earth_topo_050714.tf",
)  # fmt: skip
_ORBIT = ("spk/de421.bsp", "spk/solo_ANC_soc-orbit_20200210-20301118_L002_V1_00014_V01.bsp")


def _meta_kernel(store: Path, name: str, kernels: tuple[str, ...]) -> None:
    listed = "\n".join(f"    '$KERNELS/{k}'" for k in kernels)
    (store / "mk" / name).write_text(
        "KPL/MK\n\\begindata\n  PATH_VALUES = ( '..' )\n  PATH_SYMBOLS = ( 'KERNELS' )\n"
        f"  KERNELS_TO_LOAD = (\n{listed}\n  )\n\\begintext\n"
    )


def test_plan_requests_only_days_covered_better():
    old = {"sclk_valid": False, "orbit": None, "before_flown_mk": True, "attitude": False}
    same = dict(old)
    better = {**old, "orbit": "predicted"}
    best = {**old, "orbit": "flown"}
    processed = {
        ("hk_maxi", DAY): old,
        ("ql_lightcurve", DAY): old,
        ("hk_maxi", DAY + dt.timedelta(1)): best,
    }
    plan = plan_spice_reprocess(processed, {DAY: better, DAY + dt.timedelta(1): best})
    assert plan == {DAY: ("hk_maxi", "ql_lightcurve")}
    assert plan_spice_reprocess(processed, {DAY: same}) == {}


def _refuse(*_args, **_kwargs):
    raise AssertionError("must not be called when the kernel set is unchanged")


def test_unchanged_kernel_set_reads_no_event_log_no_catalog_and_loads_no_kernels(
    tmp_path, monkeypatch
):
    store = tmp_path / "kernels"
    (store / "mk").mkdir(parents=True)
    name = "solo_ANC_soc-flown-mk_V001_20210101_001.tm"
    (store / "mk" / name).write_text("")  # listed, never loaded
    stix = StixSettings(data_root=str(tmp_path / "data"), kernel_dir=str(store))
    monkeypatch.setattr(sensors, "loaded_kernels", _refuse)
    monkeypatch.setattr(Catalog, "reprocess_candidates", _refuse)
    with dg.instance_for_test() as instance:
        for method in ("fetch_materializations", "get_event_records", "get_asset_records"):
            monkeypatch.setattr(instance, method, _refuse)
        ctx = dg.build_sensor_context(instance=instance, cursor=name, resources={"stix": stix})
        result = spice_kernel_sensor(ctx)
    assert result.skip_reason.skip_message == f"kernel set unchanged: {name}"
    assert result.cursor is None  # unchanged: the stored cursor stays


def _l1_file(tmp_path, product: str, day: dt.date, *, needs: bool) -> ProductFileRecord:
    return ProductFileRecord(
        path=tmp_path / "archive" / "L1" / f"{product}_{day}.fits", level="L1", product=product,
        partition_day=day, version=2, sha256="0" * 64,
        written_at=dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC), needs_reprocessing=needs,
    )  # fmt: skip


def _l1_event(product: str, day: dt.date, *, needs: bool, orbit: str | None):
    spice = {"spice_mk": "mk_V001.tm", "sclk_valid": True, "orbit": orbit, "attitude": False}
    return dg.AssetMaterialization(
        asset_key=dg.AssetKey(["l1", product]), partition=day.isoformat(),
        metadata={"needs_reprocessing": needs, "spice": dg.MetadataValue.json(spice)},
    )  # fmt: skip


def test_candidates_from_one_catalog_query_and_coverage_of_only_those_days(tmp_path):
    catalog = Catalog(tmp_path / "archive" / "stix_catalog.duckdb")
    day1, day2, day3 = DAY, DAY + dt.timedelta(1), DAY + dt.timedelta(2)
    catalog.record_products([
        _l1_file(tmp_path, "hk_maxi", day1, needs=True),
        _l1_file(tmp_path, "ql_lightcurve", day1, needs=True),
        _l1_file(tmp_path, "hk_maxi", day2, needs=False),
        _l1_file(tmp_path, "hk_maxi", day3, needs=True),
    ])  # fmt: skip
    assert catalog.reprocess_candidates("L1") == [
        ("hk_maxi", day1), ("ql_lightcurve", day1), ("hk_maxi", day3),
    ]  # fmt: skip
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(_l1_event("hk_maxi", day1, needs=True, orbit=None))
        instance.report_runless_asset_event(_l1_event("hk_maxi", day2, needs=True, orbit=None))
        # day 3: rebuilt later with good kernels; the latest materialization wins
        instance.report_runless_asset_event(_l1_event("hk_maxi", day3, needs=True, orbit=None))
        instance.report_runless_asset_event(_l1_event("hk_maxi", day3, needs=False, orbit="flown"))
        recorded = sensors._recorded_coverage(instance, {"hk_maxi": [day1, day3]})
    assert list(recorded) == [("hk_maxi", day1)]  # day 2 is no candidate: never read
    assert recorded[("hk_maxi", day1)]["orbit"] is None


@pytest.mark.realdata
def test_new_orbit_kernel_rerequests_the_days_it_covers(tmp_path, testdata):
    kit = testdata / "spice" / "kernels"
    store = tmp_path / "kernels"
    for rel in (*_COMMON, *_FRAMES):
        (store / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(kit / rel, store / rel)
    (store / "mk").mkdir()
    # first kernel set: clock and frames, no orbit yet
    _meta_kernel(store, "solo_ANC_soc-flown-mk_V001_20210101_001.tm", (*_COMMON, *_FRAMES))
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    shutil.copy(testdata / "reference/stixcore/input/PktTmRaw.xml", incoming)
    stix = StixSettings(
        data_root=str(tmp_path / "data"), idb_dir=str(testdata / "idb"),
        stix_conf_dir=str(testdata / "conf"), kernel_dir=str(store),
    )  # fmt: skip
    assets = [idb_versions, spice_kernels, tm_raw, level_binary, level_0, level_1]
    with dg.instance_for_test() as instance:
        assert materialize_tm_files([incoming / "PktTmRaw.xml"], stix, instance).success
        run = dg.materialize(
            assets, instance=instance, partition_key=DAY.isoformat(),
            selection=[dg.AssetKey(["l1", "hk_maxi"])], resources={"stix": stix},
        )  # fmt: skip
        (event,) = run.asset_materializations_for_node("level_1")
        assert event.metadata["needs_reprocessing"].value is True
        assert event.metadata["spice"].value["orbit"] is None
        # lineage of the materialization: software, IDB, kernels, inputs, outputs with sha256
        meta = {k: v.value for k, v in event.metadata.items()}
        assert meta["idb_versions"] == ["2.26.34"]
        assert meta["spice"]["spice_mk"].startswith("solo_ANC_soc-flown-mk_V001")
        assert meta["software_version"]
        assert "stix_conf_version" in meta
        assert meta["inputs"] == ["solo_L0_stix-hk-maxi_0660096000_V02.fits"]
        assert len(meta["files"][0]["sha256"]) == 64
        # the catalog marks the day for reprocessing too (the file says so: no orbit coverage)
        assert stix.catalog().days_needing_reprocessing("L1") == {DAY: ["hk_maxi"]}

        def tick(cursor):
            ctx = dg.build_sensor_context(
                instance=instance, cursor=cursor, resources={"stix": stix}
            )
            return spice_kernel_sensor(ctx)

        first = tick(None)  # the current set becomes the data version; nothing is better yet
        assert first.run_requests == []
        assert [e.asset_key for e in first.asset_events] == [dg.AssetKey(["spice", "kernels"])]
        assert tick(first.cursor).skip_reason is not None  # unchanged set: nothing to do
        # the orbit arrives with a new meta-kernel
        for rel in _ORBIT:
            (store / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(kit / rel, store / rel)
        _meta_kernel(
            store, "solo_ANC_soc-flown-mk_V002_20210101_001.tm", (*_COMMON, *_FRAMES, *_ORBIT)
        )
        second = tick(first.cursor)
        assert second.cursor != first.cursor
        assert [(r.partition_key, r.asset_selection) for r in second.run_requests] == [
            (DAY.isoformat(), [dg.AssetKey(["l1", "hk_maxi"])])
        ]
        version = second.asset_events[0].tags["dagster/data_version"]
        assert "V002" in version


def test_candidates_come_from_the_catalog_the_settings_name_postgresql_included(tmp_path, pg_url):
    """With ``catalog_url`` set there is no DuckDB file: the candidates come from the database."""
    archive = tmp_path / "archive"
    archive.mkdir()
    stix = StixSettings(data_root=str(tmp_path), archive_dir=str(archive), catalog_url=pg_url)
    stix.catalog().record_products([
        _l1_file(tmp_path, "hk_maxi", DAY, needs=True),
        _l1_file(tmp_path, "ql_lightcurve", DAY + dt.timedelta(1), needs=False),
    ])  # fmt: skip
    assert not (archive / "stix_catalog.duckdb").exists()
    assert sensors._candidate_keys(stix) == {"hk_maxi": [DAY]}
