"""Sync steps with the real tools: rsync, git, zip + SPICE, on local folders (and ssh if possible)."""

import datetime as dt
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stix_assets.core.catalog import Catalog, extracted_kernel_zips, record_kernel_zip
from stix_assets.core.config import load_settings
from stix_assets.core.sync import (
    StageDecision,
    SyncError,
    SyncLockedError,
    WaitingFile,
    extract_kernel_zips,
    find_kernel_zips,
    kernel_covered_until,
    mirror_archive,
    plan_stage,
    rsync_soc,
    rsync_tm,
    run_tm_sync,
    scan_waiting,
    stage_tm,
    sync_lock,
    sync_stix_conf,
    tm_scet_end,
)

pytestmark = pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync not installed")

HK_TM = "PktTmRaw.hk-20201201.xml"
MOC_TM = "PktTmRaw.moc_test-20191127.xml"
ZIP_NAME = "solo_ANC_soc-kernels_20210105_V01.zip"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


# -- helpers shared with the asset tests ---------------------------------------------------------
def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_remote(root: Path, tags: list[str]) -> tuple[Path, Path]:
    """A bare repository and a work tree pushing to it; one commit per tag (none: one commit)."""
    bare, work = root / "remote.git", root / "work"
    git(root, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(root, "init", "--quiet", "-b", "main", str(work))
    git(work, "remote", "add", "origin", str(bare))
    for i, tag in enumerate(tags or [None]):
        (work / "elut").mkdir(exist_ok=True)
        (work / "elut" / "elut_index.csv").write_text(f"release {i}\n")
        git(work, "add", ".")
        git(work, "commit", "--quiet", "-m", f"release {i}")
        if tag:
            git(work, "tag", tag)
    git(work, "push", "--quiet", "--tags", "origin", "main")
    return bare, work


def kernel_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def real_kernel_members(testdata: Path) -> dict[str, bytes]:
    k = testdata / "spice" / "kernels"
    return {
        "kernels/lsk/naif0012.tls": (k / "lsk" / "naif0012.tls").read_bytes(),
        "kernels/sclk/solo_ANC_soc-sclk_20200922_V01.tsc": (
            k / "sclk" / "solo_ANC_soc-sclk_20200922_V01.tsc"
        ).read_bytes(),
        "kernels/fk/solo_ANC_soc-sc-fk_V05.tf": (
            k / "fk" / "solo_ANC_soc-sc-fk_V05.tf"
        ).read_bytes(),
    }


def tree(root: Path) -> dict[str, bytes]:
    """Every file below root (relative name -> bytes), to prove nothing changed."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def readonly_dir(tmp_path):
    """A folder with one file that nobody can write: a read-only bind mount (root) or mode 0555."""
    folder = tmp_path / "nas"
    folder.mkdir()
    (folder / "old.fits").write_bytes(b"keep me")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mount = shutil.which("mount")
    done = subprocess.run(
        [mount or "mount", "--bind", str(folder), str(folder)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"running as root and cannot bind-mount read-only: {done.stderr!r}")
    subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def locked_catalog(path: Path) -> subprocess.Popen:
    """A child process holding the DuckDB file open read-write (as a long write would)."""
    code = (
        "import duckdb, sys, time\n"
        f"c = duckdb.connect({str(path)!r})\n"
        "c.execute('CREATE TABLE IF NOT EXISTS hold (x INT)')\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()


# -- TM rsync + stage and delay --------------------------------------------------------------------
@pytest.mark.realdata
def test_rsync_tm_copies_only_tm_files_and_is_idempotent(tmp_path, testdata):
    source = tmp_path / "gfts"
    (source / "sub").mkdir(parents=True)
    for name in (HK_TM, MOC_TM, "PktTcReport.xml"):
        shutil.copy2(testdata / "tm" / name, source / name)
    shutil.copy2(testdata / "tm" / HK_TM, source / "sub" / HK_TM)
    waiting = tmp_path / "waiting"
    first = rsync_tm(str(source), waiting)
    assert sorted(first.transferred) == [HK_TM, MOC_TM]
    assert sorted(p.name for p in waiting.iterdir()) == [HK_TM, MOC_TM]
    assert (waiting / HK_TM).read_bytes() == (source / HK_TM).read_bytes()
    assert rsync_tm(str(source), waiting).transferred == ()


def test_rsync_unreachable_sources_fail_clearly(tmp_path):
    with pytest.raises(SyncError, match="source folder does not exist"):
        rsync_tm(str(tmp_path / "missing"), tmp_path / "waiting")
    # a remote that refuses connections: rsync exits 255 (ssh) or 12 (stream closed), explained
    with pytest.raises(SyncError, match="Connection refused") as err:
        rsync_tm(
            "nobody@127.0.0.1:/nope",
            tmp_path / "waiting",
            ssh_options="-o BatchMode=yes -o ConnectTimeout=5 -p 1",
        )
    assert err.value.code in (12, 255)
    assert "ssh failed" in str(err.value) or "remote shell failed" in str(err.value)
    assert list((tmp_path / "waiting").iterdir()) == []


@pytest.mark.realdata
def test_scet_end_of_real_tm(testdata):
    end = tm_scet_end(testdata / "tm" / HK_TM)
    assert dt.date(2000, 1, 1) + dt.timedelta(seconds=end) == dt.date(2020, 12, 1)
    assert tm_scet_end(testdata / "tm" / "PktTcReport.xml") is None


def _waiting(name: str, age_h: float, end: dt.date | None, now: dt.datetime) -> WaitingFile:
    coarse = None if end is None else int((end - dt.date(2000, 1, 1)).total_seconds()) + 3600
    return WaitingFile(name, now - dt.timedelta(hours=age_h), 1, 1, coarse, False)


def test_plan_stage_delay_or_spice_coverage():
    now = dt.datetime(2021, 1, 10, tzinfo=dt.UTC)
    covered = dt.datetime(2021, 1, 4, tzinfo=dt.UTC)
    files = [
        _waiting("old_PktTmRaw.xml", 49, dt.date(2021, 1, 9), now),  # past the 48 h delay
        _waiting("covered_PktTmRaw.xml", 1, dt.date(2021, 1, 2), now),  # SPICE covers it
        _waiting("fresh_PktTmRaw.xml", 1, dt.date(2021, 1, 9), now),  # waits
        _waiting("unreadable_PktTmRaw.xml", 1, None, now),  # waits for the delay
        WaitingFile("done_PktTmRaw.xml", now - dt.timedelta(days=9), 1, 1, 0, True),
    ]
    plan = plan_stage(files, now=now, delay_s=48 * 3600, covered_until=covered)
    assert plan == [
        StageDecision("old_PktTmRaw.xml", "delay"),
        StageDecision("covered_PktTmRaw.xml", "spice_covered"),
    ]
    assert plan_stage(files, now=now, delay_s=48 * 3600, covered_until=None) == plan[:1]


def test_kernel_coverage_from_the_flown_meta_kernel_name(tmp_path):
    (tmp_path / "mk").mkdir()
    assert kernel_covered_until(tmp_path, margin_s=86400) is None
    (tmp_path / "mk" / "solo_ANC_soc-flown-mk_V107_20201201_001.tm").write_text("x")
    (tmp_path / "mk" / "solo_ANC_soc-flown-mk_V108_20201215_001.tm").write_text("x")
    (tmp_path / "mk" / "solo_ANC_soc-pred-mk_V108_20210301_001.tm").write_text("x")
    assert kernel_covered_until(tmp_path, margin_s=86400) == dt.datetime(
        2020, 12, 14, tzinfo=dt.UTC
    )


@pytest.mark.realdata
def test_tm_sync_stages_covered_files_at_once_and_the_rest_after_the_delay(tmp_path, testdata):
    source = tmp_path / "gfts"
    source.mkdir()
    for name in (HK_TM, MOC_TM):
        shutil.copy2(testdata / "tm" / name, source / name)
    kernels = tmp_path / "spice"
    (kernels / "mk").mkdir(parents=True)
    # flown MK of 2020-06-01: covers the 2019-11-27 file, not the 2020-12-01 one
    (kernels / "mk" / "solo_ANC_soc-flown-mk_V100_20200601_001.tm").write_text("x")
    env = {
        "STIX_DATA_ROOT": str(tmp_path / "data"),
        "STIX_TM_SOURCE": str(source),
        "STIX_KERNEL_DIR": str(kernels),
        "STIX_TM_STAGE_DELAY_S": "3600",
    }
    settings = load_settings(env=env)
    now = dt.datetime.now(dt.UTC)
    first = run_tm_sync(settings, now=now)
    incoming = tmp_path / "data" / "incoming"
    assert {d.name: d.reason for d in first.staged} == {MOC_TM: "spice_covered"}
    assert first.waiting == (HK_TM,)
    assert sorted(p.name for p in incoming.iterdir()) == [MOC_TM]
    assert (incoming / MOC_TM).read_bytes() == (source / MOC_TM).read_bytes()
    # nothing new on a second tick before the delay; the waiting folder stays the mirror
    second = run_tm_sync(settings, now=now)
    assert second.staged == ()
    assert second.rsync.transferred == ()
    assert sorted(p.name for p in (tmp_path / "data" / "waiting").iterdir()) == [HK_TM, MOC_TM]
    # after the delay the other file goes too
    later = run_tm_sync(settings, now=now + dt.timedelta(hours=2))
    assert {d.name: d.reason for d in later.staged} == {HK_TM: "delay"}
    assert sorted(p.name for p in incoming.iterdir()) == [HK_TM, MOC_TM]
    # a changed source file is fetched again and staged again (new size/mtime)
    with (source / HK_TM).open("a") as fh:
        fh.write("\n")
    again = run_tm_sync(settings, now=now + dt.timedelta(hours=4))
    assert again.rsync.transferred == (HK_TM,)
    assert [d.name for d in again.staged] == [HK_TM]
    assert (incoming / HK_TM).read_bytes() == (source / HK_TM).read_bytes()


def test_stage_is_atomic_and_keeps_times(tmp_path):
    waiting, incoming = tmp_path / "w", tmp_path / "i"
    waiting.mkdir()
    (waiting / "a_PktTmRaw.xml").write_text("<x/>")
    os.utime(waiting / "a_PktTmRaw.xml", ns=(10**18, 10**18))
    assert stage_tm(waiting, incoming, [StageDecision("a_PktTmRaw.xml", "delay")]) == [
        "a_PktTmRaw.xml"
    ]
    assert [p.name for p in incoming.iterdir()] == ["a_PktTmRaw.xml"]
    assert (incoming / "a_PktTmRaw.xml").stat().st_mtime_ns == 10**18
    assert scan_waiting(waiting, incoming)[0].staged


def test_sync_lock_prevents_overlap_across_processes(tmp_path):
    code = (
        "import sys, time\n"
        "from stix_assets.core.sync import sync_lock\n"
        f"with sync_lock({str(tmp_path)!r}, 'sync_tm'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SyncLockedError, match="another sync_tm sync is running"):
            with sync_lock(tmp_path, "sync_tm"):
                pass
        with sync_lock(tmp_path, "sync_spice_soop"):  # other jobs are not blocked
            pass
    finally:
        stop(holder)
    with sync_lock(tmp_path, "sync_tm"):  # released by the kernel when the holder died
        pass


# -- SOC rsync + kernel zips -----------------------------------------------------------------------
@pytest.mark.realdata
def test_kernel_zips_extracted_once_and_recorded_in_the_catalog(tmp_path, testdata):
    source = tmp_path / "from_soc_remote"
    (source / "kernels").mkdir(parents=True)
    kernel_zip(source / "kernels" / ZIP_NAME, real_kernel_members(testdata))
    (source / "SSTX_observation_timeline_export_M04_V01.json").write_text("{}")
    soc = tmp_path / "soc"
    fetched = rsync_soc(str(source), soc)
    assert sorted(fetched.transferred) == [
        "SSTX_observation_timeline_export_M04_V01.json",
        f"kernels/{ZIP_NAME}",
    ]
    catalog = Catalog(tmp_path / "catalog.duckdb")
    store = tmp_path / "kernels"
    zips = find_kernel_zips(soc)
    first = extract_kernel_zips(zips, store, catalog, run_id="r1")
    assert [name for name, _ in first.extracted] == [ZIP_NAME]
    assert sorted(tree(store)) == [
        "fk/solo_ANC_soc-sc-fk_V05.tf",
        "lsk/naif0012.tls",
        "sclk/solo_ANC_soc-sclk_20200922_V01.tsc",
    ]
    assert (
        tree(store)["lsk/naif0012.tls"]
        == (testdata / "spice/kernels/lsk/naif0012.tls").read_bytes()
    )
    assert set(extracted_kernel_zips(catalog)) == {ZIP_NAME}
    # exactly once: a second pass leaves the store alone (a changed file there stays changed)
    (store / "lsk" / "naif0012.tls").write_text("operator edit")
    second = extract_kernel_zips(find_kernel_zips(soc), store, catalog)
    assert second.extracted == ()
    assert second.failed == ()
    assert (store / "lsk" / "naif0012.tls").read_text() == "operator edit"
    assert not (store / ".extracted_zips").exists()  # tracked in the catalog, not a text file


def test_corrupt_zip_fails_clearly_and_changes_nothing(tmp_path):
    soc = tmp_path / "soc"
    soc.mkdir()
    good = kernel_zip(soc / ZIP_NAME, {"kernels/lsk/x.txt": b"not a kernel, not validated"})
    data = good.read_bytes()
    (soc / "solo_ANC_soc-kernels_20210106_V01.zip").write_bytes(data[: len(data) // 2])
    catalog = Catalog(tmp_path / "catalog.duckdb")
    store = tmp_path / "kernels"
    result = extract_kernel_zips(find_kernel_zips(soc), store, catalog)
    assert [name for name, _ in result.extracted] == [ZIP_NAME]
    assert [name for name, _ in result.failed] == ["solo_ANC_soc-kernels_20210106_V01.zip"]
    assert "cannot read kernel zip" in result.failed[0][1]
    assert sorted(tree(store)) == ["lsk/x.txt"]
    assert set(extracted_kernel_zips(catalog)) == {ZIP_NAME}
    # the bad zip is tried again next time (still failing), the good one is not
    again = extract_kernel_zips(find_kernel_zips(soc), store, catalog)
    assert again.extracted == ()
    assert len(again.failed) == 1


@pytest.mark.realdata
def test_kernel_spice_rejects_fails_clearly_and_changes_nothing(tmp_path, testdata):
    soc = tmp_path / "soc"
    soc.mkdir()
    members = real_kernel_members(testdata)
    members["kernels/spk/solo_ANC_soc-orbit_broken.bsp"] = b"DAF/SPK " + os.urandom(3000)
    kernel_zip(soc / ZIP_NAME, members)
    catalog = Catalog(tmp_path / "catalog.duckdb")
    store = tmp_path / "kernels"
    store.mkdir()
    (store / "lsk").mkdir()
    (store / "lsk" / "existing.tls").write_text("kept")
    result = extract_kernel_zips(find_kernel_zips(soc), store, catalog)
    assert result.extracted == ()
    ((name, message),) = result.failed
    assert name == ZIP_NAME
    assert "SPICE rejects the kernel" in message
    assert "solo_ANC_soc-orbit_broken.bsp" in message
    assert tree(store) == {"lsk/existing.tls": b"kept"}  # the good kernels of that zip not either
    assert extracted_kernel_zips(catalog) == {}


def test_locked_catalog_defers_extraction_and_spooled_records_count(tmp_path):
    soc = tmp_path / "soc"
    soc.mkdir()
    kernel_zip(soc / ZIP_NAME, {"kernels/misc/readme.txt": b"hello"})
    path = tmp_path / "catalog.duckdb"
    Catalog(path).flush_spool()  # create it
    holder = locked_catalog(path)
    try:
        catalog = Catalog(path, lock_timeout_s=0.2, read_timeout_s=0.2)
        result = extract_kernel_zips(find_kernel_zips(soc), tmp_path / "kernels", catalog)
        assert result.deferred
        assert result.extracted == ()
        assert result.failed == ()
        assert not (tmp_path / "kernels").exists()
        outcome = record_kernel_zip(
            catalog, name="solo_ANC_x_2021.zip", size=1, mtime_ns=2, sha256="00", files=["a"]
        )
        assert outcome.spooled
    finally:
        stop(holder)
    # the spooled record is known before any writer ingested it (no second extraction)
    assert extracted_kernel_zips(Catalog(path)) == {"solo_ANC_x_2021.zip": (1, 2)}


# -- STIX-CONF -------------------------------------------------------------------------------------
def test_stix_conf_checks_out_the_latest_tag(tmp_path):
    bare, work = make_remote(tmp_path, ["v1.0.0", "v1.1.0"])
    clone = tmp_path / "STIX-CONF"
    first = sync_stix_conf(clone, remote=str(bare))
    assert (first.tag, first.previous_tag, first.changed) == ("v1.1.0", None, True)
    assert (clone / "VERSION.TXT").read_text() == "v1.1.0\n"
    assert (clone / "elut" / "elut_index.csv").read_text() == "release 1\n"
    assert sync_stix_conf(clone, remote=str(bare)).changed is False
    (work / "elut" / "elut_index.csv").write_text("release 2\n")
    git(work, "commit", "--quiet", "-am", "release 2")
    git(work, "tag", "v1.2.0")
    git(work, "push", "--quiet", "--tags", "origin", "main")
    third = sync_stix_conf(clone)
    assert (third.tag, third.previous_tag, third.changed) == ("v1.2.0", "v1.1.0", True)
    assert (clone / "VERSION.TXT").read_text() == "v1.2.0\n"
    assert (clone / "elut" / "elut_index.csv").read_text() == "release 2\n"


def test_stix_conf_remote_without_tags_fails_and_changes_nothing(tmp_path):
    bare, _ = make_remote(tmp_path, [])
    clone = tmp_path / "STIX-CONF"
    git(tmp_path, "clone", "--quiet", str(bare), str(clone))
    before = tree(clone)
    head = git(clone, "rev-parse", "HEAD")
    with pytest.raises(SyncError, match="no tags"):
        sync_stix_conf(clone)
    assert git(clone, "rev-parse", "HEAD") == head
    assert {k: v for k, v in tree(clone).items() if not k.startswith(".git/")} == {
        k: v for k, v in before.items() if not k.startswith(".git/")
    }
    assert not (clone / "VERSION.TXT").exists()


def test_stix_conf_unreachable_remote_and_missing_clone(tmp_path):
    bare, _ = make_remote(tmp_path, ["v1.0.0"])
    clone = tmp_path / "STIX-CONF"
    sync_stix_conf(clone, remote=str(bare))
    shutil.rmtree(bare)
    with pytest.raises(SyncError, match="git fetch failed"):
        sync_stix_conf(clone)
    assert (clone / "VERSION.TXT").read_text() == "v1.0.0\n"
    with pytest.raises(SyncError, match="no remote is configured"):
        sync_stix_conf(tmp_path / "nothing")


# -- archive mirror --------------------------------------------------------------------------------
def test_archive_mirror_deletes_and_skips_the_catalog(tmp_path):
    archive, nas = tmp_path / "archive", tmp_path / "nas"
    (archive / "L1" / "2021" / "01" / "01").mkdir(parents=True)
    (archive / "L1" / "2021" / "01" / "01" / "a.fits").write_bytes(b"A")
    (archive / "stix_catalog.duckdb").write_bytes(b"db")
    nas.mkdir()
    (nas / "gone.fits").write_bytes(b"old")
    result = mirror_archive(archive, nas)
    assert tree(nas) == {"L1/2021/01/01/a.fits": b"A"}
    assert result.rsync.deleted == ("gone.fits",)
    assert "L1/2021/01/01/a.fits" in result.rsync.transferred
    assert mirror_archive(archive, nas).rsync.transferred == ()


def test_archive_mirror_refuses_empty_archive_and_readonly_target(tmp_path, readonly_dir):
    archive = tmp_path / "archive"
    archive.mkdir()
    with pytest.raises(SyncError, match="missing or empty"):
        mirror_archive(archive, readonly_dir)
    (archive / "a.fits").write_bytes(b"A")
    with pytest.raises(SyncError, match="not writable"):
        mirror_archive(archive, readonly_dir)
    assert tree(readonly_dir) == {"old.fits": b"keep me"}
    with pytest.raises(SyncError, match="does not exist"):
        mirror_archive(archive, tmp_path / "unmounted")


# -- rsync over ssh to localhost -------------------------------------------------------------------


def test_rsync_tm_over_ssh_to_localhost(tmp_path, ssh_localhost):
    host, options = ssh_localhost
    source = tmp_path / "gfts"
    source.mkdir()
    (source / "a_PktTmRaw.xml").write_text("<r/>")
    (source / "notes.txt").write_text("x")
    waiting = tmp_path / "waiting"
    result = rsync_tm(f"{host}:{source}", waiting, ssh_options=options)
    assert result.transferred == ("a_PktTmRaw.xml",)
    assert sorted(p.name for p in waiting.iterdir()) == ["a_PktTmRaw.xml"]
    with pytest.raises(SyncError, match="rsync failed") as err:
        rsync_tm(f"{host}:{tmp_path / 'missing'}", waiting, ssh_options=options)
    assert err.value.code == 23
