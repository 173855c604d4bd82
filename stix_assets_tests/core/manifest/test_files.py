"""The manifest of a small real archive, read back with DuckDB and pandas."""

import json
from pathlib import Path

import duckdb
import pytest

from stix_assets.core.catalog import ProductFileRecord, write_publish_history
from stix_assets.core.manifest import (
    MANIFEST_COLUMNS,
    manifest_dir,
    read_manifest,
    write_manifest,
)
from stix_assets_tests.kit_archive import CREATED, build_kit_archive

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def archive(testdata: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("manifest-archive")
    return build_kit_archive(testdata, root)


def _catalog_files(catalog) -> dict[str, tuple]:
    with catalog.connect_readonly() as conn:
        rows = conn.execute(
            "SELECT path, level, product, version, sha256 FROM product_files"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_process_writes_the_manifest(archive):
    folder = manifest_dir(archive.archive_root)
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert names == ["cal_index.json", "cal_index.parquet", "products.json", "products.parquet"]
    # no temporaries of the atomic writes left behind
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]


def test_manifest_rows_match_the_archive_duckdb(archive):
    parquet = manifest_dir(archive.archive_root) / "products.parquet"
    rows = duckdb.sql(f"SELECT * FROM '{parquet}'").fetchall()
    columns = [c for c, _ in MANIFEST_COLUMNS]
    assert duckdb.sql(f"SELECT * FROM '{parquet}'").columns == columns
    by_path = {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
    catalog = _catalog_files(archive)
    assert set(by_path) == set(catalog)
    for path, (level, product, version, sha) in catalog.items():
        row = by_path[path]
        assert (row["level"], row["product"], row["version"], row["sha256"]) == (
            level, product, version, sha,
        )  # fmt: skip
        assert (archive.archive_root / path).is_file()
        assert row["complete"] == (not Path(path).stem.endswith("U"))
        assert row["status"] == ("U" if Path(path).stem.endswith("U") else "")
        assert row["day"] is not None  # per-request LB files: the day of their data
        assert row["superseded_by"] is None
        assert row["published_as"] is None


def test_time_ranges_come_from_the_headers(archive):
    rows = {r["file_name"]: r for r in read_manifest(archive.archive_root)}
    lc_l0 = rows["solo_L0_stix-ql-lightcurve_0628128000_V02U.fits"]
    assert lc_l0["time_scale"] == "SCET"
    assert lc_l0["date_beg"] == "0628185012:52455"
    assert lc_l0["obt_beg"] == pytest.approx(628185012.8004)
    cal_l1 = rows["solo_L1_stix-cal-energy_20191127_V03U.fits"]
    assert cal_l1["time_scale"] == "UTC"
    assert (cal_l1["date_beg"], cal_l1["date_end"]) == (
        "2019-11-27T15:35:13.000", "2019-11-27T16:55:17.000",
    )  # fmt: skip
    assert cal_l1["complete"] is False
    assert cal_l1["status"] == "U"
    lb_bsd = [r for r in rows.values() if r["level"] == "LB" and r["request_id"] == 1266516544]
    # an LB BSD file's day is that of its packets (downlinked 2020-11-30; its data start 11-22)
    assert [r["day"].isoformat() for r in lb_bsd] == ["2020-11-30"]


def test_manifest_json_equals_parquet_pandas(archive):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow", reason="pandas reads Parquet through pyarrow (test extra)")
    folder = manifest_dir(archive.archive_root)
    from_parquet = pd.read_parquet(folder / "products.parquet")
    from_json = json.loads((folder / "products.json").read_text())
    assert len(from_parquet) == len(from_json) == len(_catalog_files(archive))
    assert list(from_parquet["path"]) == [r["path"] for r in from_json]
    assert list(from_parquet["sha256"]) == [r["sha256"] for r in from_json]
    assert from_parquet["complete"].dtype == bool
    assert str(from_parquet["day"].dtype).startswith(("object", "datetime64"))


def test_manifest_json_reads_in_pandas(archive):
    pd = pytest.importorskip("pandas")
    folder = manifest_dir(archive.archive_root)
    from_json = pd.read_json(folder / "products.json", orient="records")
    from_duckdb = duckdb.sql(f"SELECT * FROM '{folder / 'products.parquet'}'").df()
    assert list(from_json["path"]) == list(from_duckdb["path"])
    assert list(from_json["version"]) == list(from_duckdb["version"])


def test_superseded_and_published(archive, tmp_path):
    rows = {r["file_name"]: r for r in read_manifest(archive.archive_root)}
    old = rows["solo_L1_stix-ql-lightcurve_20191127_V02U.fits"]
    old_path = archive.absolute_path(old["path"])
    newer = old_path.with_name("solo_L1_stix-ql-lightcurve_20191127_V03.fits")
    newer.write_bytes(old_path.read_bytes())
    archive.record_products(
        [
            ProductFileRecord(
                path=newer, level="L1", product="ql_lightcurve", partition_day=old["day"],
                version=3, sha256="f" * 64, written_at=CREATED.replace(tzinfo=None),
            )
        ]
    )  # fmt: skip
    delivered = {
        "id": "x1", "name": "solo_L1_stix-ql-lightcurve_20191127_V03.fits",
        "path": str(newer.parent), "version": 3, "p_date": 1.0, "m_date": 1.0,
        "esaname": "solo_L1_stix-ql-lightcurve_20191127_V03", "result": 10, "state": "done",
        "source_name": newer.name, "delivered_name": "solo_L1_stix-ql-lightcurve_20191127_V03.fits",
    }  # fmt: skip
    write_publish_history(archive, [{"op": "publish_upsert", "rows": [delivered]}])
    try:
        result = write_manifest(archive)
        assert result.n_headers_read == 1  # only the new file; the rest from the last manifest
        rows = {r["file_name"]: r for r in read_manifest(archive.archive_root)}
        new_key = archive.stored_path(newer)
        assert rows[old["file_name"]]["superseded_by"] == new_key
        assert rows[newer.name]["superseded_by"] is None
        assert rows[newer.name]["complete"] is True
        assert rows[newer.name]["published_as"] == delivered["delivered_name"]
        assert rows[old["file_name"]]["published_as"] is None
    finally:
        write_publish_history(archive, [{"op": "publish_delete", "ids": ["x1"]}])
        with archive.connect_readonly():
            pass
