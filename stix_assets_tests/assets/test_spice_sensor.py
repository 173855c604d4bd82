"""spice_kernel_sensor: a new kernel set triggers exactly the L1 days it covers better."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest

from stix_assets.assets.ingest import idb_versions, tm_raw
from stix_assets.assets.levels import level_0, level_1, level_binary, spice_kernels
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
