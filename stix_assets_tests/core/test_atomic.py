import os
import subprocess
import sys
import time

import pytest

from stix_assets.core.atomic import TMP_PREFIX, atomic_path, remove_stale_temporaries


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_atomic_path_names_its_writer_and_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "x.fits"
    seen = []

    def killed_writer():
        with atomic_path(target) as tmp:
            seen.append(tmp.name)
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        killed_writer()
    assert seen[0].startswith(f"{TMP_PREFIX}x.fits.")
    assert f".{os.getpid()}." in seen[0]
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    assert list(tmp_path.iterdir()) == [target]


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    host = os.uname().nodename.split(".")[0]
    dead = tmp_path / f"{TMP_PREFIX}a.fits.{host}.{_dead_pid()}.abc123"
    alive = tmp_path / f"{TMP_PREFIX}b.fits.{host}.{os.getpid()}.def456"
    foreign_old = tmp_path / f"{TMP_PREFIX}c.fits.otherhost.1.ghi789"
    foreign_new = tmp_path / f"{TMP_PREFIX}d.fits.otherhost.1.jkl012"
    for p in (dead, alive, foreign_old, foreign_new):
        p.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(foreign_old, (old, old))
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([dead, foreign_old])
    assert alive.exists()
    assert foreign_new.exists()
