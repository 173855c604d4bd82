"""A catalog file that cannot be used is named as such: locked, unreadable, unwritable, full."""

import datetime as dt
import os
import subprocess
import sys

import pytest

from stix_assets.core.catalog import Catalog, ProductFileRecord
from stix_assets.core.errors import CatalogBusyError, CatalogUnreadableError, CatalogWriteError

DAY = dt.date(2021, 1, 16)


def _record(cat: Catalog, name: str) -> None:
    cat.record_products(
        [
            ProductFileRecord(
                path=cat.archive_root / "L0" / name, level="L0", product="ql_lightcurve",
                partition_day=DAY, version=2, sha256="0" * 64,
                written_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC),
            )
        ]
    )  # fmt: skip


def _names(cat: Catalog) -> list[str]:
    return sorted(p.name for ps in cat.partition_files("L0", DAY).values() for p in ps)


def _fill(folder) -> None:
    """Write a filler file until the file system is full."""
    with (folder / "filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass


def test_random_bytes_are_an_unreadable_catalog(tmp_path):
    path = tmp_path / "stix_catalog.duckdb"
    path.write_bytes(os.urandom(20_000))
    cat = Catalog(path)
    for use in (cat.check, lambda: _names(cat), lambda: _record(cat, "a.fits")):
        with pytest.raises(CatalogUnreadableError, match="not a DuckDB database file") as info:
            use()
        assert info.value.path == str(path)


def test_a_truncated_catalog_is_unreadable(tmp_path):
    whole = Catalog(tmp_path / "whole.duckdb")
    _record(whole, "a.fits")
    cut = tmp_path / "cut.duckdb"
    cut.write_bytes(whole.path.read_bytes()[:5000])
    with pytest.raises(CatalogUnreadableError, match=r"catalog unreadable: .*cut\.duckdb"):
        Catalog(cut).check()


def test_a_catalog_on_a_read_only_file_system_reads_and_refuses_writes(mounts):
    disk = mounts.tmpfs(8192)
    cat = Catalog(disk / "stix_catalog.duckdb")
    _record(cat, "a.fits")
    mounts.remount(disk, "ro")
    cat = Catalog(disk / "stix_catalog.duckdb")
    assert _names(cat) == ["a.fits"]
    with pytest.raises(CatalogWriteError, match=r"read-only file system \(EROFS\)"):
        _record(cat, "b.fits")
    with pytest.raises(CatalogWriteError, match=r"read-only file system \(EROFS\)"):
        cat.check()


def test_a_catalog_on_a_full_disk_says_disk_full_and_leaves_no_spool_litter(mounts):
    disk = mounts.tmpfs(8192)
    cat = Catalog(disk / "stix_catalog.duckdb")
    _record(cat, "a.fits")
    _fill(disk)
    with pytest.raises(CatalogWriteError, match=r"disk full \(ENOSPC\)"):
        _record(cat, "b.fits")
    assert not cat.spool_dir.exists() or not list(cat.spool_dir.iterdir()), "not spooled"
    (disk / "filler").unlink()
    _record(cat, "b.fits")
    assert _names(cat) == ["a.fits", "b.fits"]


def test_a_locked_catalog_names_the_process_that_holds_it(tmp_path):
    cat = Catalog(tmp_path / "stix_catalog.duckdb", read_timeout_s=0.2)
    _record(cat, "a.fits")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.read()", str(cat.path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CatalogBusyError, match=rf"held by PID {holder.pid}\)") as info:
            cat.check()
        assert info.value.holder_pid == holder.pid
    finally:
        holder.stdin.close()
        holder.wait(60)
        holder.stdout.close()
