"""Sync assets materialized through Dagster with the real rsync and git."""

import dagster as dg
import pytest

from stix_assets.assets.sync import (
    STIX_CONF_KEY,
    SYNC_ASSETS,
    sync_archive_mirror,
    sync_spice_soop,
    sync_stix_conf,
    sync_tm,
)
from stix_assets.core.sync import sync_lock
from stix_assets.resources import StixSettings
from stix_assets_tests.core.test_sync import ZIP_NAME, git, kernel_zip, make_remote


def _stix(tmp_path, **kw) -> StixSettings:
    return StixSettings(data_root=str(tmp_path / "data"), **kw)


def test_sync_tm_asset_fetches_and_stages(tmp_path):
    source = tmp_path / "gfts"
    source.mkdir()
    (source / "a_PktTmRaw.xml").write_text("<r/>")
    stix = _stix(tmp_path, tm_source=str(source), tm_stage_delay_s=0.0)
    with dg.instance_for_test() as instance:
        result = dg.materialize([sync_tm], instance=instance, resources={"stix": stix})
        assert result.success
        mat = instance.get_latest_materialization_event(dg.AssetKey(["sync", "tm"]))
    meta = mat.asset_materialization.metadata
    assert meta["n_transferred"].value == 1
    assert meta["staged"].value == {"a_PktTmRaw.xml": "delay"}
    assert (tmp_path / "data" / "incoming" / "a_PktTmRaw.xml").read_text() == "<r/>"


def test_sync_tm_asset_skips_when_the_job_lock_is_held(tmp_path):
    source = tmp_path / "gfts"
    source.mkdir()
    stix = _stix(tmp_path, tm_source=str(source))
    with sync_lock(tmp_path / "data" / "locks", "sync_tm"), dg.instance_for_test() as instance:
        result = dg.materialize([sync_tm], instance=instance, resources={"stix": stix})
        mat = instance.get_latest_materialization_event(dg.AssetKey(["sync", "tm"]))
    assert result.success
    assert "another sync_tm sync is running" in mat.asset_materialization.metadata["skipped"].value
    assert not (tmp_path / "data" / "waiting").exists()


def test_unreachable_or_unconfigured_source_fails_the_run_clearly(tmp_path):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [sync_tm], instance=instance, resources={"stix": _stix(tmp_path)}, raise_on_error=False
        )
        assert not result.success
        failure = result.failure_data_for_node("sync__tm")
        assert "tm_source is not configured" in failure.error.message
        stix = _stix(tmp_path, tm_source=str(tmp_path / "nowhere"))
        result = dg.materialize(
            [sync_tm], instance=instance, resources={"stix": stix}, raise_on_error=False
        )
        assert "SyncError: sync source folder does not exist" in (
            result.failure_data_for_node("sync__tm").error.message
        )


def test_spice_soop_asset_extracts_and_fails_on_corrupt_zip(tmp_path):
    source = tmp_path / "from_soc"
    source.mkdir()
    kernel_zip(source / ZIP_NAME, {"kernels/misc/readme.txt": b"hello"})
    stix = _stix(tmp_path, soc_source=str(source))
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [sync_spice_soop], instance=instance, resources={"stix": stix}
        ).success
        mat = instance.get_latest_materialization_event(dg.AssetKey(["sync", "spice_soop"]))
        assert mat.asset_materialization.metadata["zips_extracted"].value == [ZIP_NAME]
        assert (tmp_path / "data" / "spice" / "kernels" / "misc" / "readme.txt").exists()
        (source / "solo_ANC_soc-kernels_20210107_V01.zip").write_bytes(b"PK\x03\x04 broken")
        result = dg.materialize(
            [sync_spice_soop], instance=instance, resources={"stix": stix}, raise_on_error=False
        )
        assert not result.success
        message = result.failure_data_for_node("sync__spice_soop").error.message
        assert "kernel zips rejected: solo_ANC_soc-kernels_20210107_V01.zip" in message


def test_stix_conf_asset_sets_the_data_version_to_the_tag(tmp_path):
    bare, work = make_remote(tmp_path, ["v0.1.9"])
    stix = _stix(tmp_path, stix_conf_remote=str(bare))
    with dg.instance_for_test() as instance:
        assert dg.materialize([sync_stix_conf], instance=instance, resources={"stix": stix}).success
        record = instance.get_latest_data_version_record(STIX_CONF_KEY)
        assert record is not None
        mat = instance.get_latest_materialization_event(STIX_CONF_KEY)
        assert mat.asset_materialization.tags["dagster/data_version"] == "v0.1.9"
        git(work, "tag", "v0.1.10")
        git(work, "push", "--quiet", "--tags", "origin", "main")
        assert dg.materialize([sync_stix_conf], instance=instance, resources={"stix": stix}).success
        mat = instance.get_latest_materialization_event(STIX_CONF_KEY)
        assert mat.asset_materialization.tags["dagster/data_version"] == "v0.1.10"
    assert (tmp_path / "data" / "STIX-CONF" / "VERSION.TXT").read_text() == "v0.1.10\n"


def test_stix_conf_without_tags_fails_and_records_no_version(tmp_path):
    bare, _ = make_remote(tmp_path, [])
    stix = _stix(tmp_path, stix_conf_remote=str(bare))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [sync_stix_conf], instance=instance, resources={"stix": stix}, raise_on_error=False
        )
        assert not result.success
        assert "no tags" in result.failure_data_for_node("sync_stix_conf").error.message
        assert instance.get_latest_materialization_event(STIX_CONF_KEY) is None


def test_archive_mirror_asset(tmp_path):
    archive = tmp_path / "data" / "archive"
    archive.mkdir(parents=True)
    (archive / "a.fits").write_bytes(b"A")
    nas = tmp_path / "nas"
    nas.mkdir()
    stix = _stix(tmp_path, mirror_target=str(nas))
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [sync_archive_mirror], instance=instance, resources={"stix": stix}
        ).success
    assert (nas / "a.fits").read_bytes() == b"A"


def test_sync_assets_have_their_own_pools():
    pools = {}
    for asset in SYNC_ASSETS:
        for node in asset.node_def.iterate_node_defs():
            pools[node.name] = node.pool
    assert pools == {
        "sync__tm": "sync_tm",
        "sync__spice_soop": "sync_spice_soop",
        "sync_stix_conf": "sync_stix_conf",
        "sync__archive_mirror": "sync_archive_mirror",
    }


@pytest.fixture(autouse=True)
def _no_stix_env(monkeypatch):
    for var in ("STIX_CONFIG", "STIX_DATA_ROOT", "STIX_TM_SOURCE", "STIX_SOC_SOURCE"):
        monkeypatch.delenv(var, raising=False)
