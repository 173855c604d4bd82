"""The settings model: TOML + STIX_* environment + defaults, with the source of every value."""

from pathlib import Path

import pytest

from stix_assets.core.config import FIELDS, ConfigError, env_name, is_remote, load_settings


def test_defaults_derive_from_the_data_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={})
    root = tmp_path / "stix-data"
    assert s.data_root == root
    assert s.sources["data_root"] == "default"
    assert s.waiting_dir == root / "waiting"
    assert s.sources["waiting_dir"] == "derived"
    assert s.catalog_path == root / "archive" / "stix_catalog.duckdb"
    assert s.tm_sync_cron == "*/15 * * * *"
    assert s.stix_conf_sync_cron == "10 */4 * * *"
    assert s.tm_source is None
    assert s.publish_include_levels[0] == "L0"
    with pytest.raises(ConfigError, match=r"\[sync\] tm_source .* STIX_TM_SOURCE"):
        s.path("tm_source")


def test_override_beats_env_beats_toml_beats_default(tmp_path):
    toml = tmp_path / "conf" / "stix-assets.toml"
    toml.parent.mkdir()
    toml.write_text(
        '[paths]\ndata_root = "data"\narchive_dir = "/srv/fits"\n'
        '[sync]\ntm_source = "stixcore@147.86.8.26:/home/solmoc/from_edds/tm"\n'
        "tm_stage_delay_s = 7200\n"
        '[schedules]\ntm_sync = "*/5  * * * *"\n'
        '[publish]\ninclude_levels = ["L1"]\nsort_files = true\n'
    )
    env = {"STIX_CONFIG": str(toml), "STIX_ARCHIVE_DIR": str(tmp_path / "env-archive")}
    s = load_settings(env=env, overrides={"idb_dir": str(tmp_path / "idb"), "data_root": None})
    assert s.config_file == toml
    assert s.data_root == tmp_path / "conf" / "data"
    assert s.sources["data_root"] == "toml"
    assert s.archive_dir == tmp_path / "env-archive"
    assert s.sources["archive_dir"] == "env"
    assert s.catalog_path == tmp_path / "env-archive" / "stix_catalog.duckdb"
    assert s.idb_dir == tmp_path / "idb"
    assert s.sources["idb_dir"] == "override"
    assert s.tm_source == "stixcore@147.86.8.26:/home/solmoc/from_edds/tm"
    assert s.tm_stage_delay_s == 7200.0
    assert s.tm_sync_cron == "*/5 * * * *"
    assert s.publish_include_levels == ["L1"]
    assert s.publish_sort_files is True
    rows = {r["name"]: r for r in s.as_table()}
    assert rows["archive_dir"]["env"] == "STIX_ARCHIVE_DIR"
    assert rows["tm_source"]["source"] == "toml"
    assert len(rows) == len(FIELDS)


def test_env_lists_bools_and_numbers(tmp_path):
    s = load_settings(
        env={
            "STIX_PUBLISH_INCLUDE_PRODUCTS": "ql, hk",
            "STIX_PUBLISH_UPDATE_RID_LUT": "yes",
            "STIX_RSYNC_TIMEOUT_S": "60",
            "STIX_TM_SOURCE": str(tmp_path / "local"),
        }
    )
    assert s.publish_include_products == ["ql", "hk"]
    assert s.publish_update_rid_lut is True
    assert s.rsync_timeout_s == 60
    assert s.tm_source == tmp_path / "local"


def test_bad_files_and_values_are_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[paths]\ndata_rot = '/x'\n")
    with pytest.raises(ConfigError, match=r"unknown setting \[paths\] data_rot"):
        load_settings(config_file=bad)
    bad.write_text("[paths\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_file=bad)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="cron"):
        load_settings(env={"STIX_TM_SYNC_CRON": "every 15 minutes"})
    with pytest.raises(ConfigError, match="tm_stage_delay_s"):
        load_settings(env={"STIX_TM_STAGE_DELAY_S": "two days"})


def test_demo_root_config_keys_are_accepted(tmp_path):
    toml = tmp_path / "stix-demo.toml"
    toml.write_text(
        '[paths]\ntm_inbox = "incoming"\nidb_root = "idb"\nspice_kernels = "spice/kernels"\n'
        'archive = "archive"\ncatalog = "archive/stix_catalog.duckdb"\n'
        '[idb]\nfallback_version = "9.9.9"\n'
    )
    s = load_settings(config_file=toml)
    assert s.incoming_dir == tmp_path / "incoming"
    assert s.kernel_dir == tmp_path / "spice" / "kernels"
    assert s.idb_fallback_version == "9.9.9"


def test_example_config_in_deploy_loads():
    example = Path(__file__).parents[2] / "deploy" / "stix-assets.toml"
    s = load_settings(config_file=example)
    assert {r["source"] for r in s.as_table()} >= {"toml"}


def test_remote_detection():
    assert is_remote("stixcore@147.86.8.26:/home/solsoc/from_soc")
    assert is_remote("nas05:/stix")
    assert not is_remote("/data/stix/SOLSOC")
    assert not is_remote("relative/dir")
    assert env_name("tm_source") == "STIX_TM_SOURCE"
