"""Daily assets materialised for demo days through ``dg.materialize`` with `StixSettings`.

The demo archive gets its L1 files from `make_demo_l1` (the L1 assets are not part of this
module); the catalog is empty for L1, so the assets find the files by scanning the archive.
"""

import datetime as dt

import dagster as dg
import pytest

from stix_assets.assets.daily import (
    ANC_ASPECT_KEY,
    DAILY_ASSETS,
    DAILY_JOBS,
    DAILY_SCHEDULES,
    FLARELIST_KEY,
    LL03_KEY,
    anc_aspect,
    daily_products_schedule,
    flarelist_schedule,
    l3_flarelist,
    plots_ql_lightcurve,
)
from stix_assets.resources import StixSettings
from stix_assets_tests.core.aspect.conftest import write_sas_param_dir
from stix_assets_tests.core.test_daily_candidates import record
from stix_assets_tests.demo_copies import copy_demo_run


@pytest.fixture(scope="module")
def demo(demo_l1, tmp_path_factory):
    """A copy of the demo with its L1 files: the assets write their products into its archive."""
    return copy_demo_run(demo_l1, tmp_path_factory.mktemp("daily")).root


def _settings(root, **extra: str) -> StixSettings:
    return StixSettings(
        **extra,
        data_root=str(root.root),
        archive_dir=str(root.archive),
        idb_dir=str(root.idb_root),
        stix_conf_dir=str(root.conf_dir),
        kernel_dir=str(root.spice_kernels),
    )


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    events = [
        e.materialization for e in result.get_asset_materialization_events() if e.asset_key == key
    ]
    assert len(events) == 1
    return events[0].metadata


def test_ll03_asset(demo):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [plots_ql_lightcurve], instance=instance, partition_key="2024-05-15",
            resources={"stix": _settings(demo)},
        )  # fmt: skip
    assert result.success
    meta = _metadata(result, LL03_KEY)
    assert meta["plot"].value.startswith("![solo_LL03_stix-ql-lightcurve_20240515T000000")
    assert "data:image/png;base64," in meta["plot"].value
    assert meta["svg"].value.endswith("_20240515T000000-20240515T235959_V02C.svg")
    assert (demo.archive / "LL03/2024/05/15/QL").is_dir()


def test_anc_asset(demo, tmp_path):
    param_dir = write_sas_param_dir(tmp_path / "SAS_param")
    stix = _settings(demo, sas_param_dir=str(param_dir))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [anc_aspect], instance=instance, partition_key="2024-05-14", resources={"stix": stix}
        )
    assert result.success
    meta = _metadata(result, ANC_ASPECT_KEY)
    assert sorted(meta["sas_params"].value) == ["SAS_calib_20211005.sav", "apcoord_FM_circ.sav"]
    assert meta["rows"].value == 1350
    assert meta["path"].value.endswith(
        "ANC/2024/05/14/ASP/solo_ANC_stix-asp-ephemeris_20240514_V02U.fits"
    )
    assert meta["sas_errors"].value == {"SUN_TOO_FAR": 1350}
    row = _settings(demo).catalog().product_file(meta["path"].value)
    assert (row["level"], row["product"], row["n_rows"]) == ("ANC", "asp_ephemeris", 1350)


def test_anc_asset_with_unusable_sas_params_writes_nothing(demo, tmp_path):
    param_dir = write_sas_param_dir(tmp_path / "SAS_param")
    (param_dir / "apcoord_FM_circ.sav").write_bytes(b"SR\x00\x04 truncated")
    stix = _settings(demo, sas_param_dir=str(param_dir))
    target = demo.archive / "ANC/2024/05/15/ASP/solo_ANC_stix-asp-ephemeris_20240515_V02U.fits"
    before = target.stat().st_mtime_ns if target.exists() else None
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [anc_aspect], instance=instance, partition_key="2024-05-15",
            resources={"stix": stix}, raise_on_error=False,
        )  # fmt: skip
    assert not result.success
    assert "SAS parameters unusable: not a readable IDL save file" in str(result.all_events)
    assert "apcoord_FM_circ.sav" in str(result.all_events)
    assert (target.stat().st_mtime_ns if target.exists() else None) == before


def test_flarelist_asset(demo):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [l3_flarelist], instance=instance, partition_key="2024-05-01",
            resources={"stix": _settings(demo)},
        )  # fmt: skip
    assert result.success
    meta = _metadata(result, FLARELIST_KEY)
    assert meta["n_flares"].value == 1
    assert meta["flares"].value[0]["peak"].startswith("2024-05-15T02:")
    assert "L3/2024/05/01/FLARELIST/solo_L3_stix-flarelist-sdc_20240501T000000-20240515T" in (
        meta["path"].value
    )
    assert _settings(demo).catalog().product_file(meta["path"].value)["level"] == "L3"


def test_missing_day_fails_clearly(demo):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [plots_ql_lightcurve], instance=instance, partition_key="2024-06-01",
            resources={"stix": _settings(demo)}, raise_on_error=False,
        )  # fmt: skip
    assert not result.success
    assert "no L1 ql-lightcurve file for 2024-06-01" in str(result.all_events)


def test_daily_schedule_requests_due_days(tmp_path):
    stix = StixSettings(data_root=str(tmp_path))
    catalog = stix.catalog()
    written = dt.datetime(2024, 5, 31, tzinfo=dt.UTC)
    for day in (dt.date(2024, 5, 29), dt.date(2024, 5, 30), dt.date(2024, 5, 31)):
        record(catalog, "L1", "hk_maxi", day, written, 1350)
        record(catalog, "L1", "ql_lightcurve", day, written, 21600)
    mk = tmp_path / "spice/kernels/mk/solo_ANC_soc-flown-mk_V107_20240601_001.tm"
    mk.parent.mkdir(parents=True)
    mk.write_text("KPL/MK\n")
    with dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.UTC),
        resources={"stix": stix},
    ) as context:
        requests = daily_products_schedule(context)
    wanted = {
        # flown MK of 06-01: ANC only for data ending before 05-31 00:00 (MK date - 24 h)
        ("anc/aspect", "2024-05-30"),
        ("anc/aspect", "2024-05-29"),
        ("plots/ql_lightcurve", "2024-05-31"),
        ("plots/ql_lightcurve", "2024-05-30"),
        ("plots/ql_lightcurve", "2024-05-29"),
    }
    got = {(r.asset_selection[0].to_user_string(), r.partition_key) for r in requests}
    assert got == wanted
    assert requests[0].run_key == "daily:2024-06-01:anc/aspect:2024-05-30"  # newest first
    flare_context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2024, 6, 1, 8, 30, tzinfo=dt.UTC)
    )
    assert flarelist_schedule(flare_context).partition_key == "2024-05-01"


def test_daily_schedule_skips_without_catalog(tmp_path):
    with dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.UTC),
        resources={"stix": StixSettings(data_root=str(tmp_path))},
    ) as context:
        result = daily_products_schedule(context)
    assert isinstance(result, dg.SkipReason)
    assert "no catalog" in result.skip_message


def test_lists_load_in_definitions():
    defs = dg.Definitions(
        assets=DAILY_ASSETS, jobs=DAILY_JOBS, schedules=DAILY_SCHEDULES,
        resources={"stix": StixSettings()},
    )  # fmt: skip
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("daily_products_job")
    assert defs.resolve_schedule_def("daily_products_schedule").cron_schedule == "0 8 * * *"
