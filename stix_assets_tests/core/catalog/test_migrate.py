"""Catalogs of schema version 1 (product paths as typed) are migrated once, on first open."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from stix_assets.core.catalog import Catalog
from stix_assets.core.catalog.schema import schema_sql

L1_REL = "L1/2024/05/01/QL/solo_L1_stix-ql-lightcurve_20240501_V02.fits"
LB_REL = "LB/21/6/30/2024/05/01/solo_LB_stix-21-6-30_20240501_V02.fits"
T = [datetime(2024, 5, 2, h, tzinfo=UTC).replace(tzinfo=None) for h in range(6)]  # naive UTC


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "data" / "archive"
    for rel in (L1_REL, LB_REL):
        (root / rel).parent.mkdir(parents=True)
        (root / rel).write_bytes(rel.encode())
    return root


def _old_catalog(path: Path, products: list[tuple[str, datetime, str]], lb_inputs, tm_path=None):
    """A version-1 catalog written by hand: the tables, version '1' and rows as typed."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(schema_sql())
        conn.execute("INSERT INTO catalog_meta VALUES ('schema_version', '1')")
        for stored, written, sha in products:
            conn.execute(
                "INSERT INTO product_files (path, level, product, partition_day, version, sha256,"
                " inputs, written_at) VALUES (?, ?, 'ql_lightcurve', DATE '2024-05-01', 2, ?,"
                " ['x.xml'], ?)",
                [stored, "LB" if "LB/" in stored else "L1", sha, written],
            )
        for stored, name, at in lb_inputs:
            conn.execute("INSERT INTO lb_inputs VALUES (?, ?, ?)", [stored, name, at])
        if tm_path is not None:
            for table in ("tm_file_versions", "tm_files"):
                columns = "name, sha256, path, status, first_seen, last_seen, last_indexed"
                values = "'PktTmRaw.a.xml', 'abc', ?, 'indexed', now(), now(), now()"
                if table == "tm_files":
                    columns += ", content_version, n_versions"
                    values += ", 1, 1"
                conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({values})", [tm_path])


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_old_catalog_collapses_to_one_relative_row_per_file(archive, tmp_path, monkeypatch):
    db = archive / "stix_catalog.duckdb"
    (tmp_path / "incoming").mkdir()
    (tmp_path / "incoming" / "PktTmRaw.a.xml").write_bytes(b"tm")
    outside = "/somewhere/else/solo_L1_other.fits"
    _old_catalog(
        db,
        [
            (str(archive / L1_REL), T[1], "1" * 64),  # absolute
            (f"data/archive/{L1_REL}", T[3], "3" * 64),  # relative to tmp_path: the newest
            (f"archive/{L1_REL}", T[2], "2" * 64),  # relative to tmp_path/data
            (f"data/archive/{LB_REL}", T[0], "0" * 64),
            (outside, T[0], "9" * 64),
        ],
        [
            (str(archive / LB_REL), "a.xml", T[2]),
            (f"data/archive/{LB_REL}", "a.xml", T[1]),
            (f"archive/{LB_REL}", "b.xml", T[4]),
        ],
        tm_path="incoming/PktTmRaw.a.xml",
    )
    monkeypatch.chdir(tmp_path)
    catalog = Catalog(db)
    # a read migrates first
    assert catalog.partition_files("L1", date(2024, 5, 1)) == {
        "ql_lightcurve": [Path(outside), archive / L1_REL]
    }
    assert _rows(db, "SELECT path, sha256 FROM product_files ORDER BY path") == [
        (outside, "9" * 64),
        (L1_REL, "3" * 64),
        (LB_REL, "0" * 64),
    ]
    assert _rows(db, "SELECT * FROM lb_inputs ORDER BY tm_name") == [
        (LB_REL, "a.xml", T[1]),
        (LB_REL, "b.xml", T[4]),
    ]
    tm = str((tmp_path / "incoming" / "PktTmRaw.a.xml").resolve())
    assert _rows(db, "SELECT path FROM tm_files UNION ALL SELECT path FROM tm_file_versions") == [
        (tm,),
        (tm,),
    ]
    assert _rows(db, "SELECT value FROM catalog_meta WHERE key = 'schema_version'") == [("2",)]
    assert catalog.product_file(archive / L1_REL)["written_at"] == T[3]


def test_migration_runs_once(archive, monkeypatch):
    db = archive / "stix_catalog.duckdb"
    _old_catalog(db, [(str(archive / L1_REL), T[0], "0" * 64)], [])
    Catalog(db).flush_spool()
    assert _rows(db, "SELECT path FROM product_files") == [(L1_REL,)]
    with duckdb.connect(str(db)) as conn:  # an old-style row written after the migration
        conn.execute("UPDATE product_files SET path = ?", [str(archive / L1_REL)])
    Catalog(db).flush_spool()
    assert _rows(db, "SELECT path FROM product_files") == [(str(archive / L1_REL),)]


def test_new_catalog_starts_at_the_current_version(tmp_path):
    Catalog(tmp_path / "c.duckdb").stats()
    assert _rows(tmp_path / "c.duckdb", "SELECT * FROM catalog_meta") == [("schema_version", "2")]


def test_format_1_manifest_paths_are_mapped(archive, tmp_path, monkeypatch):
    db = archive / "stix_catalog.duckdb"
    catalog = Catalog(db)
    catalog.flush_spool()
    row = {
        "path": f"data/archive/{L1_REL}",  # relative to the old writer's working directory
        "level": "L1",
        "product": "ql_lightcurve",
        "partition_day": "2024-05-01",
        "version": 2,
        "sha256": "5" * 64,
        "written_at": T[5].isoformat(),
        "inputs": [],
    }
    at = T[5].isoformat()
    ops = [
        {"op": "products", "rows": [row], "at": at},
        {"op": "lb_inputs", "lb_path": str(archive / LB_REL), "tm_names": ["c.xml"], "at": at},
    ]
    catalog.spool_dir.mkdir()
    manifest = catalog.spool_dir / "00000000000000000001-1-old.json"
    manifest.write_text(json.dumps({"format": 1, "db": db.name, "ops": ops}))
    monkeypatch.chdir(tmp_path / "data" / "archive" / "L1")  # neither the old cwd nor the root
    assert catalog.flush_spool() == 1
    assert _rows(db, "SELECT path, sha256 FROM product_files") == [(L1_REL, "5" * 64)]
    assert catalog.lb_tm_inputs(archive / LB_REL) == ["c.xml"]
