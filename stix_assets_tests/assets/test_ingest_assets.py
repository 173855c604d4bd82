"""tm/raw and the LB multi-asset on the kit's reference TM file, through a real instance."""

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import dagster as dg
import pytest

from stix_assets.assets._results import TM_RAW_KEY, lb_asset_key
from stix_assets.assets.ingest import idb_versions, tm_raw
from stix_assets.assets.levels import level_binary
from stix_assets.dagster_runner import materialize_tm_files
from stix_assets.resources import StixSettings
from stix_assets.sensors import tm_to_days_sensor
from stix_assets_tests.core.test_process import corrupt_copy

pytestmark = pytest.mark.realdata

ASSETS = [idb_versions, tm_raw, level_binary]
TM_NAME = "PktTmRaw.xml"
# what the reference file holds (12 packets, checked with index_tm_file and the STIXCore
# reference LB files in the kit): HK maxi and a CPD request on 2020-12-01, QL light curves on
# 2020-11-22, an SCPD request on 2020-05-07
DAYS_TOUCHED = {
    "hk_maxi": ["2020-12-01"],
    "ql_lightcurve": ["2020-11-22"],
    "xray_cpd": ["2020-12-01"],
    "xray_scpd": ["2020-05-07"],
}


@pytest.fixture
def stix(tmp_path: Path, testdata: Path) -> StixSettings:
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    shutil.copy(testdata / "reference" / "stixcore" / "input" / TM_NAME, incoming / TM_NAME)
    return StixSettings(
        data_root=str(tmp_path / "data"),
        idb_dir=str(testdata / "idb"),
        stix_conf_dir=str(testdata / "conf"),
    )


def _materialize(instance, stix, partition_key, selection, **kwargs):
    return dg.materialize(
        ASSETS,
        instance=instance,
        partition_key=partition_key,
        selection=selection,
        resources={"stix": stix},
        **kwargs,
    )


def _ingest(instance, stix, name=TM_NAME, **kwargs):
    instance.add_dynamic_partitions("tm_files", [name])
    return _materialize(instance, stix, name, [TM_RAW_KEY], **kwargs)


def test_tm_raw_records_what_the_file_holds(stix):
    with dg.instance_for_test() as instance:
        result = _ingest(instance, stix)
        assert result.success
        (event,) = result.asset_materializations_for_node("tm__raw")
        md = {k: v.value for k, v in event.metadata.items()}
        assert md["packets_by_kind"] == {"3_25_2": 9, "21_6_21": 1, "21_6_22": 1, "21_6_30": 1}
        assert md["days_touched"] == DAYS_TOUCHED
        assert md["idb_versions"] == ["2.26.34"]
        assert md["n_packets"] == 12
        assert md["quarantined"] == 0
        assert "quarantined_by_reason" not in md  # lists only when something was quarantined
        sha = hashlib.sha256((stix.incoming_path() / TM_NAME).read_bytes()).hexdigest()
        latest = instance.get_latest_materialization_event(TM_RAW_KEY).asset_materialization
        assert latest.partition == TM_NAME
        assert latest.tags["dagster/data_version"] == sha
        assert latest.tags["dagster/code_version"] == "tm-1"
        assert stix.catalog().tm_files_for_day(dt.date(2020, 12, 1), ["hk_maxi"]) == [TM_NAME]


def test_tm_raw_lists_the_quarantine_when_a_packet_is_quarantined(stix):
    incoming = stix.incoming_path()
    corrupt_copy(incoming / TM_NAME, incoming / "corrupt.PktTmRaw.xml")
    with dg.instance_for_test() as instance:
        assert _ingest(instance, stix, name="corrupt.PktTmRaw.xml").success
        (record,) = instance.fetch_materializations(TM_RAW_KEY, limit=1).records
        md = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        assert md["quarantined"] == 1
        assert md["quarantined_by_reason"] == {"invalid hex": 1}
        assert md["quarantine_examples"][0]["packet_index"] == 1


def test_tm_to_lb_through_the_bridge_sensor(stix):
    with dg.instance_for_test() as instance:
        assert _ingest(instance, stix).success
        tick = tm_to_days_sensor(dg.build_sensor_context(instance=instance))
        requested = {
            r.partition_key: sorted("/".join(k.path) for k in r.asset_selection)
            for r in tick.run_requests
        }
        assert requested == {
            "2020-05-07": ["lb/xray_scpd"],
            "2020-11-22": ["lb/ql_lightcurve"],
            "2020-12-01": ["lb/hk_maxi", "lb/xray_cpd"],
        }
        written = {}
        for request in tick.run_requests:
            result = _materialize(instance, stix, request.partition_key, request.asset_selection)
            assert result.success
            for event in result.get_asset_materialization_events():
                mat = event.materialization
                written[mat.asset_key] = mat.metadata
        assert set(written) == {lb_asset_key(p) for p in DAYS_TOUCHED}
        archive = stix.archive_root()
        catalog = stix.catalog()
        for md in written.values():
            files = md["files"].value
            assert md["n_files"].value == len(files) >= 1
            assert md["tm_inputs"].value == [TM_NAME]
            assert md["idb_versions"].value == ["2.26.34"]
            for f in files:
                path = Path(f["path"])
                assert path.is_file()
                assert path.is_relative_to(archive / "LB")
                assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
                row = catalog.product_file(path)
                assert (row["level"], row["sha256"]) == ("LB", f["sha256"])
                assert catalog.lb_tm_inputs(path) == [TM_NAME]
            assert md["n_packets"].value == sum(f["n_packets"] for f in files)
        assert written[lb_asset_key("hk_maxi")]["n_packets"].value == 9
        # nothing new for the next tick
        again = tm_to_days_sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
        assert again.run_requests == []


def test_lb_rerun_with_same_inputs_keeps_the_data_version(stix):
    with dg.instance_for_test() as instance:
        assert _ingest(instance, stix).success
        key = lb_asset_key("hk_maxi")
        versions = []
        for _ in range(2):
            assert _materialize(instance, stix, "2020-12-01", [key]).success
            event = instance.get_latest_materialization_event(key).asset_materialization
            versions.append(event.tags["dagster/data_version"])
            assert event.metadata["n_new_packets"].value == (9 if len(versions) == 1 else 0)
        assert versions[0] == versions[1]


def test_lb_product_without_packets_that_day_is_skipped(stix):
    with dg.instance_for_test() as instance:
        assert _ingest(instance, stix).success
        keys = [lb_asset_key("hk_maxi"), lb_asset_key("ql_lightcurve")]
        result = _materialize(instance, stix, "2020-12-01", keys)
        assert result.success
        got = {e.materialization.asset_key for e in result.get_asset_materialization_events()}
        assert got == {lb_asset_key("hk_maxi")}


def test_unreadable_tm_file_fails_the_run_and_is_recorded(stix):
    (stix.incoming_path() / "empty_PktTmRaw.xml").write_bytes(b"")
    with dg.instance_for_test() as instance:
        result = _ingest(instance, stix, "empty_PktTmRaw.xml", raise_on_error=False)
        assert not result.success
        failure = result.failure_data_for_node("tm__raw")
        assert "empty_PktTmRaw.xml cannot be ingested" in failure.user_failure_data.description
        row = stix.catalog().tm_file("empty_PktTmRaw.xml")
        assert row["status"] == "failed"
        assert "empty file" in row["error"]


def test_dagster_runner_materializes_files_and_their_days(stix, testdata, tmp_path):
    source = testdata / "reference" / "stixcore" / "input"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(source / "PktTmRaw.moc_test-20191127.xml", outside)
    paths = [stix.incoming_path() / TM_NAME, outside / "PktTmRaw.moc_test-20191127.xml"]
    with dg.instance_for_test() as instance:
        summary = materialize_tm_files(paths, stix, instance)
        assert summary.success
        assert [r.partition_key for r in summary.tm_runs] == [TM_NAME, paths[1].name]
        days = {r.partition_key: r.assets for r in summary.lb_runs}
        quicklook = ["cal_energy", "ql_background", "ql_flareflag", "ql_lightcurve"]
        quicklook += ["ql_spectra", "ql_tmstatusflarelist", "ql_variance"]
        assert days["2019-11-27"] == tuple(f"lb/{p}" for p in sorted(quicklook))
        assert days["2020-12-01"] == ("lb/hk_maxi", "lb/xray_cpd")
        assert len(days) == 4
        assert (stix.incoming_path() / paths[1].name).is_file()  # staged in the TM store
        assert set(instance.get_dynamic_partitions("tm_files")) == {TM_NAME, paths[1].name}
        runs = instance.get_runs()
        assert len(runs) == len(summary.tm_runs) + len(summary.lb_runs) + len(summary.l0_runs)
        # L0 follows each LB day and, for daily products, both neighbouring days
        l0_days = {r.partition_key for r in summary.l0_runs}
        assert {"2019-11-26", "2019-11-27", "2019-11-28", "2020-12-01"} <= l0_days
        assert list((stix.archive_root() / "L0").rglob("solo_L0_stix-ql-lightcurve_*.fits"))
        assert str(summary) == "2/2 TM files ingested, 4/4 LB days written, 10/10 L0 days written"


def test_dagster_runner_reports_a_failed_file_and_goes_on(stix, tmp_path):
    bad = tmp_path / "bad_PktTmRaw.xml"
    bad.write_text("not xml at all")
    with dg.instance_for_test() as instance:
        summary = materialize_tm_files([bad, stix.incoming_path() / TM_NAME], stix, instance)
        assert not summary.success
        assert [r.partition_key for r in summary.failed] == ["bad_PktTmRaw.xml"]
        assert len(summary.lb_runs) == 3


def test_dagster_runner_refuses_a_different_file_of_the_same_name(stix, tmp_path):
    other = tmp_path / TM_NAME
    other.write_text("<other/>")
    with dg.instance_for_test() as instance, pytest.raises(FileExistsError, match="other content"):
        materialize_tm_files([other], stix, instance)


def test_inbox_sensor_skips_files_ingested_by_the_cli_route(stix, tmp_path):
    # the demo and `process --dagster` ingest without the sensor; a later daemon must not redo it
    from stix_assets.sensors import tm_inbox_sensor

    settled = StixSettings(data_root=stix.data_root, idb_dir=stix.idb_dir, settle_time_s=0.0)
    with dg.instance_for_test() as instance:
        assert _ingest(instance, settled).success
        ctx = dg.build_sensor_context(instance=instance, resources={"stix": settled})
        tick = tm_inbox_sensor(ctx)
        assert not tick.run_requests
        # a re-delivered file with other content is ingested again
        path = settled.incoming_path() / TM_NAME
        path.write_bytes(path.read_bytes() + b"\n")
        tick = tm_inbox_sensor(
            dg.build_sensor_context(instance=instance, resources={"stix": settled})
        )
        assert [r.partition_key for r in tick.run_requests] == [TM_NAME]


def test_days_sensor_skips_days_written_after_their_tm_records(stix):
    # the runner (CLI --dagster, demo) writes LB itself; the bridge sensor's first tick later
    # sees the same tm/raw records and must not request those days again
    with dg.instance_for_test() as instance:
        summary = materialize_tm_files([stix.incoming_path() / TM_NAME], stix, instance)
        assert summary.success
        assert summary.lb_runs
        tick = tm_to_days_sensor(dg.build_sensor_context(instance=instance))
        assert not tick.run_requests
        assert tick.cursor is not None


def test_reprocess_days_rebuilds_a_range_level_by_level(stix):
    from stix_assets.dagster_runner import reprocess_days

    with dg.instance_for_test() as instance:
        assert materialize_tm_files([stix.incoming_path() / TM_NAME], stix, instance).success
        day = dt.date(2020, 11, 22)
        summary = reprocess_days(
            day, day, stix, instance, levels=["LB", "L0"], products=["ql_lightcurve"]
        )
        assert summary.success
        assert [r.assets for r in summary.lb_runs] == [("lb/ql_lightcurve",)]
        assert [r.assets for r in summary.l0_runs] == [("l0/ql_lightcurve",)]
        events = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["l0", "ql_lightcurve"])), limit=5
        ).records
        # identical inputs: the re-run has the same content-derived data version
        versions = {e.asset_materialization.tags["dagster/data_version"] for e in events}
        assert len(events) == 2
        assert len(versions) == 1


def test_automation_carries_an_old_day_from_l0_to_l1(stix):
    # STIX reprocesses old days all the time: an updated L0 day of 2020 must reach L1, which
    # Dagster's eager() (latest day only) would not do
    from stix_assets.assets.levels import level_0, level_1, spice_kernels

    assets = [idb_versions, spice_kernels, tm_raw, level_binary, level_0, level_1]
    defs = dg.Definitions(assets=assets, resources={"stix": stix})
    day = "2020-12-01"
    with dg.instance_for_test() as instance:
        summary = materialize_tm_files(
            [stix.incoming_path() / TM_NAME], stix, instance, end_level="L0"
        )
        assert summary.success
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # the first evaluation only takes stock
        rerun = dg.materialize(
            assets, instance=instance, partition_key=day,
            selection=[dg.AssetKey(["l0", "hk_maxi"])], resources={"stix": stix},
        )  # fmt: skip
        assert rerun.success
        second = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=first.cursor
        )
        requested = second.get_requested_partitions(dg.AssetKey(["l1", "hk_maxi"]))
        # the UTC day and its neighbours read that SCET day's L0 file
        assert {"2020-11-30", day, "2020-12-02"} <= set(requested)
        assert second.get_requested_partitions(dg.AssetKey(["l1", "ql_lightcurve"])) == set()


def test_dagster_runner_survives_a_dangling_defs_state_storage(stix):
    """Dagster's current defs-state storage left pointing at a collected instance (as a context
    entered elsewhere and never exited leaves it) must not break the runner's runs."""
    import gc

    from dagster._core.storage.defs_state.base import DefsStateStorage, _current_storage

    with dg.instance_for_test() as other:
        dangling = DefsStateStorage.get()
    del other
    gc.collect()
    with dg.instance_for_test() as instance:
        _current_storage.set(dangling)  # what the leaked context leaves behind
        summary = materialize_tm_files([stix.incoming_path() / TM_NAME], stix, instance,
                                       end_level="TM")  # fmt: skip
        assert summary.success
