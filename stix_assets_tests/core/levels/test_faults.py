"""A level-day that fails leaves the archive and the catalog agreeing (issue 10).

A full disk in the middle of a level-day, or a catalog that refuses the record after the renames:
the level-day keeps its previous files and rows, the level-days done before keep their new ones,
no temporary file stays, and a later run completes.
"""

import datetime as dt
import errno
import hashlib
from pathlib import Path

import duckdb
import pytest

from stix_assets.core import fits
from stix_assets.core.catalog import Catalog
from stix_assets.core.errors import CatalogWriteError, DiskFullError
from stix_assets.core.idb import IdbStore
from stix_assets.core.process import CATALOG_NAME, process_tm_files

pytestmark = pytest.mark.realdata

FIRST = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
SECOND = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
DAY_STAMP = "_0659318400_"  # an L0 day with seven quick-look files in the reference inputs
LEVEL_DIRS = ("LB", "L0", "L1", "CAL")


@pytest.fixture
def run(reference_root, idb_root, testdata, tmp_path):
    store = IdbStore(idb_root)
    inputs = sorted((reference_root / "input").glob("*.xml"))

    def run(created: dt.datetime, catalog: Catalog | None = None):
        return process_tm_files(
            inputs, tmp_path / "archive", store, catalog, end_level="L0", created=created,
            software_version="test", conf_dir=testdata / "conf",
        )  # fmt: skip

    return run


def on_disk(archive: Path) -> dict[str, str]:
    return {
        p.relative_to(archive).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for level in LEVEL_DIRS
        for p in (archive / level).rglob("*.fits")
    }


def assert_archive_and_catalog_agree(archive: Path) -> dict[str, str]:
    """Every recorded file is in place with its sha256; no product file is unrecorded."""
    with duckdb.connect(str(archive / CATALOG_NAME), read_only=True) as con:
        recorded = dict(con.execute("SELECT path, sha256 FROM product_files").fetchall())
    files = on_disk(archive)
    assert recorded == files
    assert not list(archive.rglob(".tmp-*")), "no temporary file left behind"
    return files


def _day_files(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if k.startswith("L0/") and DAY_STAMP in k}


def test_disk_full_in_the_middle_of_a_level_day_keeps_its_previous_files(
    run, tmp_path, monkeypatch
):
    archive = tmp_path / "archive"
    run(FIRST)
    before = assert_archive_and_catalog_agree(archive)
    assert len(_day_files(before)) >= 3
    written = []
    real_append = fits._append_table

    def append_until_the_disk_is_full(f, table, comment):
        name = Path(f._filename).name
        if "solo_L0_" in name and DAY_STAMP in name and name not in written:
            written.append(name)
            if len(written) == 3:  # two files of the level-day are written, the third fails
                raise OSError(errno.ENOSPC, "No space left on device", f._filename)
        real_append(f, table, comment)

    monkeypatch.setattr(fits, "_append_table", append_until_the_disk_is_full)
    with pytest.raises(DiskFullError, match=r"disk full \(ENOSPC\): cannot write solo_L0_") as info:
        run(SECOND)
    assert info.value.path.endswith(written[2].split(".tmp-")[1].split(".fits")[0] + ".fits")
    after = assert_archive_and_catalog_agree(archive)
    assert _day_files(after) == _day_files(before), "the failed level-day is as before"
    assert after.keys() == before.keys()
    assert after != before, "the level-days done before the failure are new"
    monkeypatch.undo()
    run(SECOND)  # space freed: the run completes
    again = assert_archive_and_catalog_agree(archive)
    assert again.keys() == before.keys()
    assert _day_files(again) != _day_files(before)


def test_a_record_refused_after_the_renames_puts_the_previous_files_back(run, tmp_path):
    archive = tmp_path / "archive"
    run(FIRST)
    before = assert_archive_and_catalog_agree(archive)

    class RefusingCatalog(Catalog):
        def record_products(self, records):
            if any(DAY_STAMP in Path(r.path).name for r in records):
                raise CatalogWriteError("read-only file system (EROFS)", path=self.path)
            return super().record_products(records)

    refusing = RefusingCatalog(archive / CATALOG_NAME)
    with pytest.raises(CatalogWriteError, match=r"catalog cannot be written: read-only"):
        run(SECOND, refusing)
    after = assert_archive_and_catalog_agree(archive)
    assert _day_files(after) == _day_files(before)
    assert after.keys() == before.keys()
