"""Product paths are stored relative to the archive root, whatever the working directory."""

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from stix_assets.core.catalog import Catalog, ProductFileRecord
from stix_assets.core.catalog.paths import ArchivePaths
from stix_assets.core.tmtc import TMFile

DAY = date(2024, 5, 1)
T0 = datetime(2024, 5, 2, 12, tzinfo=UTC)
L1_REL = "L1/2024/05/01/QL/solo_L1_stix-ql-lightcurve_20240501_V02.fits"
LB_REL = "LB/21/6/30/2024/05/01/solo_LB_stix-21-6-30_20240501_V02.fits"


def _record(path: Path | str, written_at: datetime, *, level: str = "L1", sha: str = "0" * 64):
    return ProductFileRecord(Path(path), level, "ql_lightcurve", DAY, 2, sha, written_at)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "data" / "archive"
    for rel in (L1_REL, LB_REL):
        (root / rel).parent.mkdir(parents=True)
        (root / rel).write_bytes(rel.encode())
    return root


def _stored(catalog: Catalog, table: str = "product_files", column: str = "path") -> list[str]:
    with duckdb.connect(str(catalog.path), read_only=True) as conn:
        return [r[0] for r in conn.execute(f"SELECT {column} FROM {table} ORDER BY 1").fetchall()]


def test_two_working_directories_give_one_row_per_file(archive, monkeypatch):
    monkeypatch.chdir(archive.parent.parent)  # the parent of data/
    first = Catalog("data/archive/stix_catalog.duckdb")
    first.record_lb_results([_record(f"data/archive/{LB_REL}", T0, level="LB")], {})
    first.record_products([_record(f"data/archive/{L1_REL}", T0, sha="1" * 64)])
    first.record_lb_inputs(f"data/archive/{LB_REL}", ["a.xml"])

    monkeypatch.chdir(archive / "L1")  # inside the archive, a second run
    second = Catalog("../stix_catalog.duckdb")
    second.record_products([_record(f"../{L1_REL}", T0 + timedelta(hours=1), sha="2" * 64)])
    second.record_lb_inputs(f"../{LB_REL}", ["b.xml"])

    assert _stored(second) == [L1_REL, LB_REL]
    assert _stored(second, "lb_inputs", "lb_path") == [LB_REL, LB_REL]
    files = second.partition_files("L1", DAY)
    assert files == {"ql_lightcurve": [archive / L1_REL]}
    assert all(p.is_absolute() and p.is_file() for ps in files.values() for p in ps)
    row = second.product_file(archive / L1_REL)
    assert (row["path"], row["sha256"]) == (archive / L1_REL, "2" * 64)
    assert first.product_file(f"../{L1_REL}") == row  # a relative query is taken from here too
    assert second.lb_tm_inputs(archive / LB_REL) == ["a.xml", "b.xml"]


def test_catalog_outside_the_archive_takes_the_root_explicitly(archive, tmp_path, monkeypatch):
    catalog = Catalog(tmp_path / "db" / "c.duckdb", archive_root=archive)
    assert catalog.archive_root == archive
    monkeypatch.chdir(archive)
    catalog.record_products([_record(L1_REL, T0)])
    assert _stored(catalog) == [L1_REL]
    assert catalog.partition_files("L1", DAY)["ql_lightcurve"] == [archive / L1_REL]
    # the default root is the folder that holds the catalog file
    assert Catalog(archive / "stix_catalog.duckdb").archive_root == archive
    assert "archive_root" in repr(catalog)


def test_root_reached_through_a_symbolic_link(archive, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(archive, target_is_directory=True)
    catalog = Catalog(tmp_path / "c.duckdb", archive_root=archive)
    catalog.record_products([_record(link / L1_REL, T0)])
    assert _stored(catalog) == [L1_REL]
    via_link = Catalog(tmp_path / "c.duckdb", archive_root=link)
    assert via_link.product_file(archive / L1_REL)["path"] == link / L1_REL


def test_file_outside_the_archive_is_stored_absolute(archive, tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere" / "solo_L1_x.fits"
    catalog = Catalog(archive / "stix_catalog.duckdb")
    monkeypatch.chdir(tmp_path)
    catalog.record_products([_record("elsewhere/../elsewhere/solo_L1_x.fits", T0)])
    assert _stored(catalog) == [str(outside.resolve())]
    assert catalog.product_file(outside)["path"] == outside.resolve()


def test_tm_paths_are_stored_absolute(tmp_path, monkeypatch):
    inbox = tmp_path / "incoming"
    inbox.mkdir()
    (inbox / "PktTmRaw.a.xml").write_bytes(b"tm")
    monkeypatch.chdir(tmp_path)
    tm = TMFile(
        Path("incoming/PktTmRaw.a.xml"),
        "PktTmRaw.a.xml",
        2,
        hashlib.sha256(b"tm").hexdigest(),
        "TM",
    )
    catalog = Catalog(tmp_path / "archive" / "c.duckdb")
    catalog.record_tm_file(tm, status="indexed", days_by_product={"hk_maxi": [DAY]})
    assert catalog.tm_file(tm.name)["path"] == str((inbox / tm.name).resolve())
    assert catalog.tm_paths_for_day(DAY) == [(tm.name, (inbox / tm.name).resolve())]


def test_one_row_per_path_is_enforced(archive):
    catalog = Catalog(archive / "stix_catalog.duckdb")
    catalog.record_products([_record(archive / L1_REL, T0)])
    with duckdb.connect(str(catalog.path)) as conn:
        kinds = conn.execute(
            "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'product_files'"
            " AND constraint_column_names = ['path']"
        ).fetchall()
        assert ("PRIMARY KEY",) in kinds
        with pytest.raises(duckdb.ConstraintException):
            conn.execute(
                "INSERT INTO product_files (path, level, product, version, sha256, written_at)"
                " VALUES (?, 'L1', 'x', 1, 'y', now())",
                [L1_REL],
            )


def test_stored_and_absolute_forms():
    paths = ArchivePaths.at("/data/archive")
    assert paths.key("/data/archive/L1/a.fits") == "L1/a.fits"
    assert paths.key("/data/archive/./L1/../L1/a.fits") == "L1/a.fits"
    assert paths.absolute("L1/a.fits") == Path("/data/archive/L1/a.fits")
    assert paths.absolute("/elsewhere/a.fits") == Path("/elsewhere/a.fits")


def test_legacy_forms(archive, tmp_path, monkeypatch):
    paths = ArchivePaths.at(archive)
    monkeypatch.chdir(tmp_path / "data")
    assert paths.legacy_key(f"archive/{L1_REL}") == L1_REL  # from here
    monkeypatch.chdir(tmp_path)
    assert paths.legacy_key(f"archive/{L1_REL}") == L1_REL  # from another dir: the tail
    assert paths.legacy_key(str(archive / L1_REL)) == L1_REL
    assert paths.legacy_key("data/archive/L1/missing.fits") == "L1/missing.fits"  # below the root
    assert paths.legacy_key("nowhere/missing.fits") == "nowhere/missing.fits"  # left as it is
