"""The code location as an artefact: it loads, and its graph matches the reviewed snapshot."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from stix_assets.assets.levels import L0_PRODUCTS
from stix_assets.core.products.registry import PRODUCTS
from stix_assets.definitions import defs
from stix_assets.resources import StixSettings

REPO = Path(__file__).resolve().parents[1]
TM_RAW = dg.AssetKey(["tm", "raw"])
IDB = dg.AssetKey(["idb", "versions"])


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


@pytest.mark.parametrize(
    "name",
    [
        "ingest_job", "lb_job", "l0_job", "l1_job", "publish_job", "sync_tm_job", "sync_spice_soop_job",
        "sync_stix_conf_job", "sync_archive_mirror_job", "retention_job",
    ],
)  # fmt: skip
def test_jobs_resolve(name):
    assert defs.resolve_job_def(name).name == name


def test_sensors_resolve_and_run_by_default():
    for name in [
        "tm_inbox_sensor",
        "tm_to_days_sensor",
        "stix_automation_sensor",
        "bsd_l1_days_sensor",
    ]:
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.minimum_interval_seconds == 30
    spice = defs.resolve_sensor_def("spice_kernel_sensor")
    assert spice.default_status == dg.DefaultSensorStatus.RUNNING


def test_schedules_resolve():
    names = {s.name for s in defs.schedules}
    assert names == {
        "sync_tm_schedule", "sync_spice_soop_schedule", "sync_stix_conf_schedule",
        "sync_archive_mirror_schedule", "publish_schedule", "daily_products_schedule",
        "flarelist_schedule", "completeness_report_job_schedule", "retention_schedule",
    }  # fmt: skip


def _snapshot() -> dict[str, tuple]:
    graph = defs.resolve_asset_graph()
    snap = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        parts = type(node.partitions_def).__name__ if node.partitions_def else None
        snap[key.to_user_string()] = (node.group_name, parts, node.code_version)
    return snap


def test_asset_graph_snapshot():
    expected = {
        "idb/versions": ("external", "DailyPartitionsDefinition", None),
        "tm/raw": ("ingest", "DynamicPartitionsDefinition", "tm-1"),
    }
    for p in PRODUCTS:
        expected[f"lb/{p.key}"] = ("level_binary", "DailyPartitionsDefinition", "lb-2")
    for p in L0_PRODUCTS:
        expected[f"l0/{p.key}"] = (
            "level_0", "DailyPartitionsDefinition", f"l0-{p.processing_version}"
        )  # fmt: skip
        expected[f"l1/{p.key}"] = (
            "level_1", "DailyPartitionsDefinition", f"l1-{p.processing_version}"
        )  # fmt: skip
    expected["spice/kernels"] = ("external", None, None)
    expected["l2/cal_energy"] = ("level_2", "DailyPartitionsDefinition", "l2-2")
    expected["anc/aspect"] = ("daily_products", "DailyPartitionsDefinition", "anc-3")
    expected["reports/completeness"] = ("reports", "DailyPartitionsDefinition", None)
    expected["conf/energy_tables"] = ("external", "DailyPartitionsDefinition", None)
    expected["plots/ql_lightcurve"] = ("daily_products", "DailyPartitionsDefinition", "ll03-2")
    expected["l3/flarelist"] = ("daily_products", "MonthlyPartitionsDefinition", "flarelist-2")
    expected.update(
        {
            "conf/stix_conf": ("conf", None, None),
            "soar/delivery": ("publish", "DailyPartitionsDefinition", None),
            "sync/archive_mirror": ("sync", None, None),
            "sync/spice_soop": ("sync", None, None),
            "sync/stix_conf": ("sync", None, None),
            "sync/tm": ("sync", None, None),
        }
    )
    assert _snapshot() == expected


def test_every_level_asset_has_checks():
    checked = {key.asset_key for c in defs.asset_checks or [] for key in c.check_keys}
    for p in PRODUCTS:
        assert dg.AssetKey(["lb", p.key]) in checked
    for p in L0_PRODUCTS:
        assert dg.AssetKey(["l0", p.key]) in checked
        assert dg.AssetKey(["l1", p.key]) in checked


def test_lb_specs_follow_the_registry():
    graph = defs.resolve_asset_graph()
    for p in PRODUCTS:
        node = graph.get(dg.AssetKey(["lb", p.key]))
        assert p.description in node.description
        assert node.owners == ["team:stix"]
        assert node.parent_keys == {TM_RAW}
        mapping = graph.get_partition_mapping(node.key, TM_RAW)
        assert isinstance(mapping, dg.AllPartitionMapping)  # never an inferred identity
    assert graph.get(TM_RAW).parent_keys == {IDB}
    assert isinstance(graph.get_partition_mapping(TM_RAW, IDB), dg.AllPartitionMapping)


def test_l0_days_depend_on_the_idb_of_the_same_day():
    graph = defs.resolve_asset_graph()
    assert graph.get(IDB).is_observable
    for p in L0_PRODUCTS:
        key = dg.AssetKey(["l0", p.key])
        assert IDB in graph.get(key).parent_keys
        assert isinstance(graph.get_partition_mapping(key, IDB), dg.IdentityPartitionMapping)


def test_partitions():
    graph = defs.resolve_asset_graph()
    assert graph.get(TM_RAW).partitions_def.name == "tm_files"
    daily = graph.get(dg.AssetKey(["lb", "ql_lightcurve"])).partitions_def
    assert daily.start.date().isoformat() == "2018-01-01"
    assert daily.timezone == "UTC"
    assert daily.end_offset == 1


def test_dagster_cli_validates_the_code_location(tmp_path):
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(dagster), "definitions", "validate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stix_assets" in proc.stdout + proc.stderr


def test_example_instance_config_loads(tmp_path):
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 4
        assert config.pool_config.default_pool_limit == 1
        assert instance.managed_python_loggers == ["stix_assets"]
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"


# -- settings -----------------------------------------------------------------------------------
def test_settings_defaults_derive_from_the_data_root(tmp_path, monkeypatch):
    for var in ["DATA_ROOT", "INCOMING_DIR", "ARCHIVE_DIR", "IDB_DIR", "CATALOG_PATH"]:
        monkeypatch.delenv(f"STIX_{var}", raising=False)
    monkeypatch.delenv("STIX_SETTLE_TIME_S", raising=False)
    monkeypatch.chdir(tmp_path)
    stix = StixSettings()
    root = tmp_path / "stix-data"
    assert stix.data_root_path() == root
    assert stix.incoming_path() == root / "incoming"
    assert stix.archive_root() == root / "archive"
    assert stix.idb_root() == root / "idb"
    assert stix.catalog_file() == root / "archive" / "stix_catalog.duckdb"
    assert stix.settle_time() == 30.0
    assert stix.force_version() is None


def test_settings_config_wins_over_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STIX_DATA_ROOT", str(tmp_path / "env"))
    monkeypatch.setenv("STIX_IDB_DIR", str(tmp_path / "idb-env"))
    monkeypatch.setenv("STIX_IDB_FORCE_VERSION", "2.26.34")
    stix = StixSettings(idb_dir=str(tmp_path / "idb-config"))
    assert stix.incoming_path() == tmp_path / "env" / "incoming"
    assert stix.idb_root() == tmp_path / "idb-config"
    assert stix.force_version() == "2.26.34"


def test_settings_reject_partition_keys_that_are_paths(tmp_path):
    stix = StixSettings(incoming_dir=str(tmp_path))
    assert stix.tm_path("a_PktTmRaw.xml") == tmp_path / "a_PktTmRaw.xml"
    with pytest.raises(ValueError, match="bare file name"):
        stix.tm_path("../etc/a_PktTmRaw.xml")


def test_level_assets_backfill_in_batches_of_a_month():
    # reprocessing is a backfill of ranges: a month per run (docs/decisions.md, "Backfill batches")
    for key in ["lb/ql_lightcurve", "l0/ql_lightcurve", "l1/ql_lightcurve", "l2/cal_energy"]:
        policy = defs.resolve_assets_def(dg.AssetKey.from_user_string(key)).backfill_policy
        assert policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=31), key


def test_level_automation_leaves_backfilled_days_to_the_backfill():
    # updates made by a backfill or `stix-assets reprocess` do not start the next level
    for key in ["l0/hk_maxi", "l1/hk_maxi", "l2/cal_energy"]:
        graph = defs.resolve_asset_graph()
        text = str(graph.get(dg.AssetKey.from_user_string(key)).automation_condition)
        assert "AllNewUpdatesHaveRunTagsCondition" in text, key
        assert "'dagster/backfill'" in text
        assert "'stix/reprocess'" in text
        assert "BackfillInProgressAutomationCondition" in text
