"""The routes give the same archive: ``process`` direct and ``process --dagster`` (the assets),
with the DuckDB catalog and with a PostgreSQL catalog (``--catalog postgresql://...``).

Each runs as the command a user types, on the kit's three real reference inputs, TM -> L2, with
the creation time pinned by ``SOURCE_DATE_EPOCH``; every LB, L0, L1 and CAL file must be byte for
byte the same, and each catalog must list exactly the files on disk with their sha256. The
PostgreSQL catalog must also hold the same rows as the DuckDB one (times and run ids aside).
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from stix_assets_tests.schema_check import assert_conform

SCRIPT = Path(sys.executable).with_name("stix-assets")
LEVEL_DIRS = ("LB", "L0", "L1", "CAL")

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _process(tmp_path: Path, name: str, testdata: Path, *extra: str) -> Path:
    archive = tmp_path / name
    home = tmp_path / f"{name}_dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "SOURCE_DATE_EPOCH": "1764676800",  # 2025-12-02T12:00:00Z
        "DAGSTER_HOME": str(home),
        "STIX_INCOMING_DIR": str(tmp_path / f"{name}_incoming"),
    }
    cmd = [
        str(SCRIPT), "process", "--tm-dir", str(testdata / "reference" / "stixcore" / "input"),
        "--archive", str(archive), "--idb-dir", str(testdata / "idb"),
        "--conf-dir", str(testdata / "conf"), "--spice-dir", str(testdata / "spice" / "kernels"),
        "--end-level", "L2", "--quiet", *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    return archive


def _digests(archive: Path) -> dict[str, str]:
    return {
        p.relative_to(archive).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for level in LEVEL_DIRS
        for p in sorted((archive / level).rglob("*.fits"))
    }


def _catalog(archive: Path) -> dict[str, str]:
    with duckdb.connect(str(archive / "stix_catalog.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT path, sha256 FROM product_files").fetchall()
    out = {}
    for path, sha in rows:
        full = Path(path) if Path(path).is_absolute() else archive / path
        out[full.resolve().relative_to(archive.resolve()).as_posix()] = sha
    assert len(out) == len(rows), "one catalog row per file"
    return out


@pytest.fixture(scope="module")
def direct(tmp_path_factory, testdata) -> Path:
    """The archive of the direct route with the default DuckDB catalog (shared by the tests)."""
    return _process(tmp_path_factory.mktemp("routes"), "direct", testdata)


def test_direct_and_dagster_routes_write_identical_files(tmp_path, testdata, direct):
    assets = _process(tmp_path, "assets", testdata, "--dagster")
    got, expected = _digests(assets), _digests(direct)
    assert {rel.split("/")[0] for rel in expected} >= {"LB", "L0", "L1"}
    assert sorted(got) == sorted(expected)
    assert {rel for rel in expected if got[rel] != expected[rel]} == set()
    assert_conform(direct / rel for rel in expected)  # LB, L0, L1 (and CAL) of the kit
    for archive, files in ((direct, expected), (assets, got)):
        recorded = _catalog(archive)
        on_disk = {rel: sha for rel, sha in files.items()}
        assert {rel: sha for rel, sha in recorded.items() if rel.split("/")[0] in LEVEL_DIRS} == (
            on_disk
        )


# the catalog rows a route must agree on: everything but times and run ids
_ROWS = {
    "product_files": "path, level, product, partition_day, request_id, version, sha256, size,"
    " n_rows, inputs, data_version, needs_reprocessing",
    "tm_files": "name, path, size, sha256, kind, content_version, n_versions, status, error,"
    " n_packets, n_quarantined, packets_by_kind, scet_coarse_min, scet_coarse_max",
    "tm_file_versions": "name, sha256, path, size, kind, status, n_packets, packets_by_kind",
    "tm_file_days": "tm_name, product, scet_day",
    "lb_inputs": "lb_path, tm_name",
    "quarantine": "file, packet_index, reason, packet_id, spid, hex_prefix",
}


def _rows(catalog) -> dict[str, list[tuple]]:
    with catalog.connect_readonly() as conn:
        return {  # sorted here: PostgreSQL cannot order json columns
            table: sorted(conn.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)
            for table, cols in _ROWS.items()
        }


def test_postgres_catalog_gives_the_same_archive_and_rows(tmp_path, testdata, direct, pg_url):
    from stix_assets.core.catalog import Catalog

    served = _process(tmp_path, "postgres", testdata, "--catalog", pg_url)
    assert not (served / "stix_catalog.duckdb").exists()  # the URL replaced the file
    expected, got = _digests(direct), _digests(served)
    assert sorted(got) == sorted(expected)
    assert {rel for rel in expected if got[rel] != expected[rel]} == set()
    duck = _rows(Catalog(direct / "stix_catalog.duckdb"))
    pg = _rows(Catalog(pg_url, archive_root=served))
    assert len(duck["product_files"]) == len(expected)
    for table in _ROWS:
        assert pg[table] == duck[table], table
    assert (served / "manifest" / "products.parquet").is_file()  # rebuilt from the database
