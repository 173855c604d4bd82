"""Two ``process`` runs on one archive at once, from different working directories.

Each run pins a different creation time, so the two runs write different bytes for the same file;
whoever renames last wins on disk, and the catalog must say so: one row per file, each with the
sha256 of the bytes in place, no row for a file that is not there.
"""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

SCRIPT = Path(sys.executable).with_name("stix-assets")
LEVEL_DIRS = ("LB", "L0", "L1")

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _start(cwd: Path, archive: str, files: list[Path], kit: dict[str, Path], epoch: int):
    tm_list = cwd / "inputs.txt"
    tm_list.write_text("".join(f"{p}\n" for p in files))
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    cmd = [
        str(SCRIPT), "process", "--input-files", str(tm_list), "--archive", archive,
        "--idb-dir", str(kit["idb"]), "--conf-dir", str(kit["conf"]),
        "--spice-dir", str(kit["spice"]), "--end-level", "L1", "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_overlapping_runs_from_two_directories_keep_the_catalog_exact(
    replicated_tm, kit_dirs, tmp_path
):
    first, second = tmp_path / "ops", tmp_path / "elsewhere" / "deep"
    first.mkdir()
    second.mkdir(parents=True)
    a = _start(first, "archive", replicated_tm, kit_dirs, 1764676800)
    time.sleep(0.5)
    b = _start(second, "../../ops/archive", replicated_tm[2:6], kit_dirs, 1764680400)
    for proc in (a, b):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:] + out[-2000:]
    archive = first / "archive"
    on_disk = {
        p.relative_to(archive).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for level in LEVEL_DIRS
        for p in (archive / level).rglob("*.fits")
    }
    with duckdb.connect(str(archive / "stix_catalog.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT path, sha256 FROM product_files").fetchall()
    recorded = {}
    for path, sha in rows:
        full = Path(path) if Path(path).is_absolute() else archive / path
        recorded[full.resolve().relative_to(archive.resolve()).as_posix()] = sha
    assert len(recorded) == len(rows), "one catalog row per file"
    assert recorded == on_disk
    assert not list(archive.rglob(".tmp-*")), "no temporary file left behind"
