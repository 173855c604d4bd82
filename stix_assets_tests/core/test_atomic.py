import errno
import fcntl
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from stix_assets.core.atomic import (
    TMP_PREFIX,
    StagedWrites,
    atomic_path,
    locked_folder,
    remove_stale_temporaries,
)
from stix_assets.core.errors import ArchiveReadOnlyError, ArchiveWriteError, DiskFullError
from stix_assets.core.filesystem import check_writable_folder
from stix_assets.core.fits import TableHdu, write_fits


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


# -- faults: each failure named, nothing half-written -------------------------------------------
def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("code", "error", "match"),
    [
        (
            errno.ENOSPC,
            DiskFullError,
            r"disk full \(ENOSPC\): cannot write x\.fits, .* free \(path=",
        ),
        (errno.EDQUOT, DiskFullError, r"disk quota exceeded \(EDQUOT\)"),
        (errno.EROFS, ArchiveReadOnlyError, r"read-only file system \(EROFS\)"),
    ],
)
def test_a_write_refused_by_the_file_system_is_named_and_leaves_nothing(
    tmp_path, code, error, match
):
    with pytest.raises(error, match=match) as info:  # noqa: PT012 (the body is the writer)
        with atomic_path(tmp_path / "x.fits") as tmp:
            tmp.write_bytes(b"half")
            raise OSError(code, os.strerror(code))
    assert info.value.path == str(tmp_path / "x.fits")
    assert _files(tmp_path) == []


def test_an_os_error_a_read_can_give_is_not_renamed(tmp_path):
    with pytest.raises(PermissionError):
        with atomic_path(tmp_path / "x.fits"):
            raise PermissionError(errno.EACCES, "source unreadable")
    assert _files(tmp_path) == []


def test_staged_writes_rename_nothing_until_commit(tmp_path):
    (tmp_path / "a.fits").write_bytes(b"old a")
    with StagedWrites() as staged:
        for name in ("a.fits", "b.fits"):
            with atomic_path(tmp_path / name) as tmp:
                tmp.write_bytes(b"new " + name.encode())
        assert (tmp_path / "a.fits").read_bytes() == b"old a"
        assert not (tmp_path / "b.fits").exists()
        assert [p.name for p in staged.pending] == ["a.fits", "b.fits"]
        staged.commit()
        assert (tmp_path / "b.fits").read_bytes() == b"new b.fits"
    assert (tmp_path / "a.fits").read_bytes() == b"new a.fits"
    assert _files(tmp_path) == ["a.fits", "b.fits"]  # the kept previous a.fits is gone


def test_staged_writes_fail_before_commit_leave_the_folder_as_it_was(tmp_path):
    (tmp_path / "a.fits").write_bytes(b"old a")

    def level_day():
        with StagedWrites():
            with atomic_path(tmp_path / "b.fits") as tmp:
                tmp.write_bytes(b"new b")
            with atomic_path(tmp_path / "a.fits") as tmp:
                raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFullError, match=r"cannot write a\.fits"):
        level_day()
    assert _files(tmp_path) == ["a.fits"]
    assert (tmp_path / "a.fits").read_bytes() == b"old a"


def test_staged_writes_fail_after_commit_put_the_previous_files_back(tmp_path):
    (tmp_path / "a.fits").write_bytes(b"old a")

    def level_day():
        with StagedWrites() as staged:
            for name in ("a.fits", "b.fits"):
                with atomic_path(tmp_path / name) as tmp:
                    tmp.write_bytes(b"new")
            staged.commit()
            raise RuntimeError("catalog refused the record")

    with pytest.raises(RuntimeError, match="refused"):
        level_day()
    assert _files(tmp_path) == ["a.fits"]
    assert (tmp_path / "a.fits").read_bytes() == b"old a"


def test_a_file_written_twice_in_one_group_keeps_the_last_write(tmp_path):
    with StagedWrites():
        for content in (b"first", b"second"):
            with atomic_path(tmp_path / "a.fits") as tmp:
                tmp.write_bytes(content)
    assert _files(tmp_path) == ["a.fits"]
    assert (tmp_path / "a.fits").read_bytes() == b"second"


def _is_locked(folder) -> bool:
    fd = os.open(folder, os.O_RDONLY)  # another open file: flock conflicts even in one process
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_folder_lock_in_a_group_is_held_until_the_group_ends(tmp_path):
    with locked_folder(tmp_path):
        assert _is_locked(tmp_path)
    assert not _is_locked(tmp_path)
    with StagedWrites():
        with locked_folder(tmp_path), locked_folder(tmp_path):  # again: no self-deadlock
            pass
        assert _is_locked(tmp_path)
    assert not _is_locked(tmp_path)


def test_check_writable_folder_names_what_is_wrong(tmp_path):
    assert check_writable_folder(tmp_path / "archive") == tmp_path / "archive"
    assert (tmp_path / "archive").is_dir()
    with pytest.raises(ArchiveWriteError, match=r"its parent folder .*nope does not exist"):
        check_writable_folder(tmp_path / "nope" / "archive")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArchiveWriteError, match="not a folder"):
        check_writable_folder(tmp_path / "file")


def test_check_writable_folder_on_a_read_only_mount(mounts):
    disk = mounts.tmpfs(64)
    (disk / "archive").mkdir()
    mounts.remount(disk, "ro")
    for folder in (disk / "archive", disk / "new"):
        with pytest.raises(ArchiveReadOnlyError, match=r"read-only file system \(EROFS\)"):
            check_writable_folder(folder)


def test_write_fits_on_a_full_disk_says_disk_full(mounts):
    disk = mounts.tmpfs(64)
    table = TableHdu("DATA", np.zeros(20_000, dtype=[("counts", ">f8")]))  # 160 kB
    with pytest.raises(DiskFullError, match=r"disk full \(ENOSPC\): cannot write big\.fits"):
        write_fits(disk / "big.fits", [], [table], checksum_comment="t")
    assert _files(disk) == []
    small = TableHdu("DATA", np.zeros(10, dtype=[("counts", ">f8")]))
    write_fits(disk / "small.fits", [], [small], checksum_comment="t")  # space is back
    assert _files(disk) == ["small.fits"]
