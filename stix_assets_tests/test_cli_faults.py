"""``stix-assets process`` on a bad archive or catalog: one ``stix-assets: error:`` line, exit 1.

The archive and the catalog are checked before any TM file is read, so these runs need no kit
(the inputs named do not even exist), except the full disk, which processes the reference TM.
"""

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

SCRIPT = Path(sys.executable).with_name("stix-assets")

pytestmark = pytest.mark.slow  # CLI subprocesses


def run_cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def process(tmp_path: Path, archive: Path, *extra: object) -> subprocess.CompletedProcess:
    """A run whose inputs are never reached when the archive or catalog is bad."""
    return run_cli(
        "process", "--tm", tmp_path / "never-read.PktTmRaw.xml", "--archive", archive,
        "--idb-dir", tmp_path, *extra,
    )  # fmt: skip


def assert_one_error_line(proc: subprocess.CompletedProcess, pattern: str) -> str:
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert re.match(r"stix-assets: error: " + pattern, lines[0]), lines[0]
    return lines[0]


def test_an_archive_whose_parent_is_missing(tmp_path):
    archive = tmp_path / "nope" / "archive"
    proc = process(tmp_path, archive)
    assert_one_error_line(
        proc, rf"ArchiveWriteError: cannot write the archive: missing, and its parent folder "
        rf"{re.escape(str(archive.parent))} does not exist",
    )  # fmt: skip
    assert not archive.parent.exists()


def test_an_archive_that_is_a_file(tmp_path):
    (tmp_path / "archive").write_text("x")
    proc = process(tmp_path, tmp_path / "archive")
    assert_one_error_line(proc, r"ArchiveWriteError: cannot write the archive: not a folder")


def test_a_read_only_archive(tmp_path, mounts):
    disk = mounts.tmpfs(256)
    (disk / "archive").mkdir()
    mounts.remount(disk, "ro")
    proc = process(tmp_path, disk / "archive")
    assert_one_error_line(
        proc, r"ArchiveReadOnlyError: cannot write the archive: read-only file system \(EROFS\) "
        rf"\(path={re.escape(str(disk / 'archive'))}\)",
    )  # fmt: skip


def test_a_corrupt_catalog(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    junk = os.urandom(20_000)
    (archive / "stix_catalog.duckdb").write_bytes(junk)
    proc = process(tmp_path, archive)
    assert_one_error_line(
        proc, r"CatalogUnreadableError: catalog unreadable: not a DuckDB database file "
        r"\(corrupt, or another kind of file\) \(path=.*stix_catalog\.duckdb\)",
    )  # fmt: skip
    assert (archive / "stix_catalog.duckdb").read_bytes() == junk


def test_a_locked_catalog(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    catalog = archive / "stix_catalog.duckdb"
    duckdb.connect(str(catalog)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.read()", str(catalog)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = process(tmp_path, archive)
    finally:
        holder.stdin.close()
        holder.wait(60)
        holder.stdout.close()
    assert_one_error_line(
        proc, rf"CatalogBusyError: catalog locked by another process \(held by PID {holder.pid}\)"
    )


def _agree(archive: Path, catalog: Path) -> dict[str, str]:
    """Every recorded file in place with its sha256, no unrecorded product file, no temporary."""
    with duckdb.connect(str(catalog), read_only=True) as con:
        recorded = dict(con.execute("SELECT path, sha256 FROM product_files").fetchall())
    files = {
        p.relative_to(archive).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (archive / "LB").rglob("*.fits")
    }
    assert recorded == files
    assert not list(archive.rglob(".tmp-*"))
    return files


@pytest.mark.realdata
def test_a_full_disk(tmp_path, mounts, reference_root, idb_root):
    disk = mounts.tmpfs(4096)
    archive, catalog = disk / "archive", tmp_path / "stix_catalog.duckdb"

    def lb_run(created: dt.datetime) -> subprocess.CompletedProcess:
        epoch = str(int(created.timestamp()))
        return run_cli(
            "process", "--tm-dir", reference_root / "input", "--archive", archive,
            "--catalog", catalog, "--idb-dir", idb_root, "--log-level", "ERROR", "--quiet",
            env={"SOURCE_DATE_EPOCH": epoch},
        )  # fmt: skip

    assert lb_run(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)).returncode == 0
    before = _agree(archive, catalog)
    with (disk / "filler").open("wb", buffering=0) as fh:  # fill the disk
        for chunk in (65536, 512):
            try:
                while True:
                    fh.write(b"\0" * chunk)
            except OSError:
                pass
    proc = lb_run(dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    line = assert_one_error_line(
        proc,
        r"DiskFullError: disk full \(ENOSPC\): cannot write solo_LB_\S+\.fits, \d+ B free \(path=",
    )
    assert str(archive / "LB") in line
    assert _agree(archive, catalog) == before, "the failed level-day kept its files"
    (disk / "filler").unlink()
    assert lb_run(dt.datetime(2026, 12, 2, tzinfo=dt.UTC)).returncode == 0
    after = _agree(archive, catalog)
    assert after.keys() == before.keys()
    assert after != before
