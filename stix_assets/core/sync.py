"""Sync steps that replace the STIXCore cron lines: rsync, stage-and-delay, kernel zips, git, mirror.

Each step calls the real tool (``rsync``, ``git``) in a subprocess and is idempotent: running it
twice gives the same folders. Overlap with itself is prevented by `sync_lock` (``flock`` on a
file per job), so a manual ``stix-assets sync`` and a scheduled run never interleave.

========================  ==================================================================
old cron line             function
========================  ==================================================================
TM rsync (15 min)         `rsync_tm`: ``*PktTmRaw*.xml`` of the source into the waiting folder
stage and delay (30 min)  `plan_stage` + `stage_tm`: waiting -> incoming (see `plan_stage`)
SOC rsync + unzip         `rsync_soc` + `extract_kernel_zips` (catalog-tracked, validated)
STIX-CONF (4 h)           `sync_stix_conf`: fetch tags, check out the latest, ``VERSION.TXT``
NAS mirror (6 h)          `mirror_archive`: ``rsync -a -L --delete`` archive -> NAS
========================  ==================================================================

Failures raise `SyncError` with a message an operator can act on (rsync exit codes are turned
into text); nothing is changed beyond what the failing tool itself did.
"""

import errno
import fcntl
import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stix_assets.core.catalog import (
    Catalog,
    CatalogBusyError,
    extracted_kernel_zips,
    record_kernel_zip,
)
from stix_assets.core.config import Settings, is_remote
from stix_assets.core.errors import SpiceKernelError, StixError, TMFileError
from stix_assets.core.spice import _member_target, latest_meta_kernels
from stix_assets.core.time import SCET_EPOCH
from stix_assets.core.tmtc import decode_tm_file, is_tm_file_name

__all__ = [
    "KERNEL_ZIP_PATTERN",
    "RSYNC_EXIT_CODES",
    "KernelZipResult",
    "MirrorResult",
    "RsyncResult",
    "SpiceSoopResult",
    "StageDecision",
    "StixConfResult",
    "SyncError",
    "SyncLockedError",
    "TmSyncResult",
    "WaitingFile",
    "check_writable",
    "extract_kernel_zips",
    "find_kernel_zips",
    "kernel_covered_until",
    "mirror_archive",
    "plan_stage",
    "rsync",
    "rsync_soc",
    "rsync_tm",
    "run_archive_mirror",
    "run_spice_soop_sync",
    "run_stix_conf_sync",
    "run_tm_sync",
    "scan_waiting",
    "stage_tm",
    "sync_lock",
    "sync_stix_conf",
    "tm_scet_end",
]

logger = logging.getLogger(__name__)

RSYNC_EXIT_CODES = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files or folders",
    5: "error starting client-server protocol",
    10: "error in socket I/O (host unreachable or connection refused?)",
    11: "error in file I/O (target full or read-only?)",
    12: "error in rsync protocol data stream (remote shell failed or connection dropped?)",
    20: "received SIGUSR1 or SIGINT",
    23: "partial transfer due to error (missing source, unreadable file or unwritable target?)",
    24: "partial transfer: source files vanished",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "ssh failed (host unreachable, authentication refused or host key unknown?)",
}
"""rsync exit status -> explanation (rsync(1) EXIT VALUES; 255 comes from ssh)."""

_MIRROR_EXCLUDES = ("*.duckdb", "*.duckdb.wal", "*.spool/", ".*.tmp")


class SyncError(StixError):
    """A sync step failed: unreachable source, tool error, bad repository, unwritable target."""

    def __init__(
        self, message: str, *, step: str, location: str | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.step = step
        self.location = location
        self.code = code

    def _fields(self) -> dict[str, object]:
        return {"step": self.step, "location": self.location, "code": self.code}


class SyncLockedError(SyncError):
    """Another run of the same sync job holds its lock."""


# -- locking ---------------------------------------------------------------------------------------
@contextmanager
def sync_lock(lock_dir: Path, job: str, *, wait_s: float = 0.0) -> Iterator[Path]:
    """Hold the exclusive ``flock`` of ``<lock_dir>/<job>.lock`` for the block.

    The lock is released by the kernel when the process dies, so a crashed run never leaves a
    stale lock behind.

    Raises
    ------
    SyncLockedError
        If another process holds the lock for longer than ``wait_s`` seconds.
    """
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{job}.lock"
    deadline = time.monotonic() + wait_s
    with path.open("a+") as fh:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncLockedError(
                        f"another {job} sync is running", step=job, location=str(path)
                    ) from None
                time.sleep(0.05)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            yield path
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# -- rsync -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RsyncResult:
    """What one rsync call changed (parsed from ``--itemize-changes``)."""

    transferred: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata (lists cut at 50)."""
        return {
            "n_transferred": len(self.transferred),
            "n_deleted": len(self.deleted),
            "transferred": list(self.transferred[:50]),
            "deleted": list(self.deleted[:50]),
        }


def _parse_itemized(stdout: str) -> RsyncResult:
    moved, deleted = [], []
    for line in stdout.splitlines():
        flags, _, name = line.partition(" ")
        if flags == "*deleting":
            deleted.append(name.strip())
        elif len(flags) == 11 and flags[0] in "<>ch" and flags[1] == "f":
            moved.append(name)
    return RsyncResult(tuple(moved), tuple(deleted))


def rsync(
    source: str,
    target: str,
    options: Sequence[str],
    *,
    step: str,
    timeout_s: int = 300,
    ssh_options: str = "",
) -> RsyncResult:
    """Run ``rsync --itemize-changes <options> <source> <target>`` and parse what it did.

    ``ssh_options`` are given to ``ssh`` (``-e``) when either side is ``[user@]host:path``.

    Raises
    ------
    SyncError
        With the rsync exit status explained (`RSYNC_EXIT_CODES`) and rsync's last error line.
    """
    rsync_bin = shutil.which("rsync")
    if rsync_bin is None:
        raise SyncError("rsync is not installed (apt-get install rsync)", step=step)
    args = [rsync_bin, "--itemize-changes", f"--timeout={int(timeout_s)}", *options]
    if ssh_options and (is_remote(source) or is_remote(target)):
        args += ["-e", "ssh " + ssh_options]
    args += [source, target]
    logger.debug("rsync step=%s args=%s", step, shlex.join(args))
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = RSYNC_EXIT_CODES.get(done.returncode, "unknown rsync error")
        detail = _last_line(done.stderr)
        raise SyncError(
            f"rsync failed: {reason}: {detail}", step=step, location=source, code=done.returncode
        )
    return _parse_itemized(done.stdout)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "rsync error" not in ln]
    return lines[0] if lines else text.strip()


def _as_folder(location: str | Path) -> str:
    """The rsync spelling of "the contents of this folder" (a trailing slash)."""
    text = str(location)
    return text if text.endswith("/") else text + "/"


def _check_local_source(source: str | Path, step: str) -> None:
    if not is_remote(str(source)) and not Path(source).is_dir():
        raise SyncError("sync source folder does not exist", step=step, location=str(source))


def rsync_tm(
    source: str | Path, waiting_dir: Path, *, timeout_s: int = 300, ssh_options: str = ""
) -> RsyncResult:
    """Copy the ``*PktTmRaw*.xml`` files of ``source`` (not its sub-folders) into ``waiting_dir``.

    rsync writes each file under a temporary name and renames it, so a half-copied file never
    carries a TM name. Files already in the waiting folder with the same size and time are skipped.
    """
    _check_local_source(source, "tm")
    Path(waiting_dir).mkdir(parents=True, exist_ok=True)
    options = ["-a", "--include=*PktTmRaw*.xml", "--exclude=*"]
    return rsync(
        _as_folder(source),
        _as_folder(waiting_dir),
        options,
        step="tm",
        timeout_s=timeout_s,
        ssh_options=ssh_options,
    )


def rsync_soc(
    source: str | Path, soc_dir: Path, *, timeout_s: int = 300, ssh_options: str = ""
) -> RsyncResult:
    """Mirror the SOC exchange folder (kernel zips, SOOP files) into ``soc_dir`` (no deletes)."""
    _check_local_source(source, "spice_soop")
    Path(soc_dir).mkdir(parents=True, exist_ok=True)
    return rsync(
        _as_folder(source),
        _as_folder(soc_dir),
        ["-a"],
        step="spice_soop",
        timeout_s=timeout_s,
        ssh_options=ssh_options,
    )


# -- stage and delay -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WaitingFile:
    """A TM file in the waiting folder.

    Attributes
    ----------
    name : file name
    arrival : when it arrived or last changed there (later of mtime and ctime, UTC)
    size, mtime_ns : identify the content version (rsync keeps the source mtime)
    scet_end : last on-board time of its packets (SCET coarse, MSB masked), None if unknown
    staged : True if the incoming folder already holds this version (same size and mtime)
    """

    name: str
    arrival: datetime
    size: int
    mtime_ns: int
    scet_end: int | None
    staged: bool


@dataclass(frozen=True, slots=True)
class StageDecision:
    """One file the stage step moves on, and why (``"delay"`` or ``"spice_covered"``)."""

    name: str
    reason: str


def tm_scet_end(path: Path) -> int | None:
    """Last SCET coarse time of the TM packets in ``path``; None for no packets or a bad file."""
    try:
        _, batch, _ = decode_tm_file(path)
    except TMFileError as err:
        logger.warning("tm file unreadable for staging file=%s error=%s", path.name, err)
        return None
    if len(batch) == 0:
        return None
    return int(batch.headers["scet_coarse"].max())


def kernel_covered_until(kernel_dir: Path, *, margin_s: float) -> datetime | None:
    """UTC time up to which the kernel store is taken to cover TM: flown MK date - margin.

    The date in the latest flown meta-kernel's name is when SOC issued the reconstructed
    (flown) attitude and orbit, so data ending ``margin_s`` before it is covered. STIXCore's daily
    pipeline uses the same rule (with 24 h) before it computes aspect solutions. None when there is
    no dated flown meta-kernel.
    """
    flown, _ = latest_meta_kernels(Path(kernel_dir))
    if flown is None or flown.mk_date is None:
        return None
    start = datetime(flown.mk_date.year, flown.mk_date.month, flown.mk_date.day, tzinfo=UTC)
    return start - timedelta(seconds=margin_s)


def _scet_utc(coarse: int) -> datetime:
    """Approximate UTC of a SCET coarse time (SCET counts seconds from 2000-01-01; no SCLK)."""
    return datetime(SCET_EPOCH.year, 1, 1, tzinfo=UTC) + timedelta(seconds=int(coarse))


def scan_waiting(waiting_dir: Path, incoming_dir: Path) -> list[WaitingFile]:
    """List the TM files of the waiting folder with their SCET end and staging state."""
    out = []
    if not Path(waiting_dir).is_dir():
        return out
    for path in sorted(Path(waiting_dir).iterdir()):
        if not (is_tm_file_name(path.name) and path.is_file()):
            continue
        st = path.stat()
        staged = _same_version(path, Path(incoming_dir) / path.name)
        arrival = datetime.fromtimestamp(max(st.st_mtime, st.st_ctime), tz=UTC)
        scet_end = None if staged else tm_scet_end(path)
        out.append(WaitingFile(path.name, arrival, st.st_size, st.st_mtime_ns, scet_end, staged))
    return out


def _same_version(src: Path, dst: Path) -> bool:
    try:
        a, b = src.stat(), dst.stat()
    except FileNotFoundError:
        return False
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def plan_stage(
    files: Sequence[WaitingFile],
    *,
    now: datetime,
    delay_s: float,
    covered_until: datetime | None,
) -> list[StageDecision]:
    """Decide which waiting TM files go to the incoming folder now.

    A file goes when (a) it has been in the waiting folder (unchanged) for ``delay_s`` seconds, the
    old cron's stage-and-delay rule, or (b) earlier, when the SPICE store already covers it: its
    last packet time is before ``covered_until`` (`kernel_covered_until`). Files already staged in
    this version are left alone; a file whose packets cannot be read waits for the delay.
    """
    out = []
    for f in files:
        if f.staged:
            continue
        if (now - f.arrival).total_seconds() >= delay_s:
            out.append(StageDecision(f.name, "delay"))
        elif covered_until is not None and f.scet_end is not None:
            if _scet_utc(f.scet_end) < covered_until:
                out.append(StageDecision(f.name, "spice_covered"))
    return out


def stage_tm(
    waiting_dir: Path, incoming_dir: Path, decisions: Sequence[StageDecision]
) -> list[str]:
    """Put the chosen files into the incoming folder, atomically; return their names.

    The waiting folder stays the mirror of the source (as the old cron's ``rsync -a`` copy did),
    so the next TM rsync does not fetch the file again. The incoming file is a hard link to the
    waiting file (a copy across file systems) made under a hidden temporary name and renamed into
    place, so the inbox sensor never sees a partial file. Size and mtime are kept.
    """
    incoming_dir = Path(incoming_dir)
    incoming_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for decision in decisions:
        src = Path(waiting_dir) / decision.name
        tmp = incoming_dir / f".{decision.name}.staging"
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
        except OSError as err:
            if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            shutil.copy2(src, tmp)
        os.replace(tmp, incoming_dir / decision.name)
        logger.info("tm file staged file=%s reason=%s", decision.name, decision.reason)
        done.append(decision.name)
    return done


# -- kernel zips ----------------------------------------------------------------------------------
KERNEL_ZIP_PATTERN = "solo_ANC*20*zip"
"""The old cron's ``find -name`` pattern of SOC kernel zips."""
_KERNEL_SUFFIXES = {".bc", ".bsp", ".bpc", ".tf", ".ti", ".tpc", ".tls", ".tsc"}
_VALIDATE_SCRIPT = """
import sys, spiceypy
for path in sys.argv[1:]:
    try:
        spiceypy.furnsh(path)
    except Exception as err:
        print(path + "\\t" + " ".join(str(err).split()))
        sys.exit(3)
    spiceypy.kclear()
"""


@dataclass(frozen=True, slots=True)
class KernelZipResult:
    """What one extraction pass did.

    Attributes
    ----------
    extracted : ``(zip name, kernel files relative to the kernel root)`` per extracted zip
    failed : ``(zip name, message)`` per zip that was rejected (nothing of it was written)
    deferred : True if the catalog was locked, so no zip was looked at (next run does it)
    spooled : True if an extraction record went to the catalog spool
    """

    extracted: tuple[tuple[str, tuple[str, ...]], ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    deferred: bool = False
    spooled: bool = False

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            "zips_extracted": [name for name, _ in self.extracted],
            "kernels_written": sorted(f for _, files in self.extracted for f in files)[:200],
            "zips_failed": {name: msg for name, msg in self.failed},
            "extraction_deferred": self.deferred,
            "catalog_spooled": self.spooled,
        }


def find_kernel_zips(soc_dir: Path) -> list[Path]:
    """Every ``solo_ANC*20*zip`` below ``soc_dir`` (recursive, as ``find`` did), sorted by name."""
    if not Path(soc_dir).is_dir():
        return []
    return sorted(Path(soc_dir).rglob(KERNEL_ZIP_PATTERN), key=lambda p: (p.name, str(p)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unpack(zip_path: Path, scratch: Path) -> list[Path]:
    """Unpack a zip into ``scratch`` (``kernels/`` prefix dropped) after checking every CRC."""
    out = []
    try:
        with zipfile.ZipFile(zip_path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise SpiceKernelError(f"corrupt member {bad} in kernel zip", path=str(zip_path))
            for info in archive.infolist():
                rel = _member_target(info.filename)
                if rel is None:
                    continue
                (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, (scratch / rel).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                out.append(rel)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise SpiceKernelError(f"cannot read kernel zip: {err}", path=str(zip_path)) from err
    return out


def _validate_kernels(scratch: Path, files: Sequence[Path]) -> None:
    """Load each kernel with SPICE in a child process (the pool of this process is untouched).

    Raises
    ------
    SpiceKernelError
        Naming the first kernel SPICE rejects.
    """
    for rel in files:
        if rel.suffix.lower() == ".tm" and "KERNELS_TO_LOAD" not in (scratch / rel).read_text(
            encoding="ascii", errors="replace"
        ):
            raise SpiceKernelError("meta-kernel without KERNELS_TO_LOAD", path=str(rel))
    kernels = [str(scratch / r) for r in files if r.suffix.lower() in _KERNEL_SUFFIXES]
    if not kernels:
        return
    done = subprocess.run(
        [sys.executable, "-c", _VALIDATE_SCRIPT, *kernels],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        path, _, why = done.stdout.strip().partition("\t")
        rel = Path(path).relative_to(scratch) if path.startswith(str(scratch)) else path
        raise SpiceKernelError(
            f"SPICE rejects the kernel: {why or _last_line(done.stderr)}", path=str(rel)
        )


def _extract_validated(zip_path: Path, root: Path) -> list[str]:
    """Unpack, validate, then move every kernel into place; a bad zip leaves nothing behind."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unzip-", dir=root) as scratch_dir:
        scratch = Path(scratch_dir)
        files = _unpack(zip_path, scratch)
        _validate_kernels(scratch, files)
        for rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / rel, root / rel)
    return [r.as_posix() for r in files]


def extract_kernel_zips(
    zips: Sequence[Path], kernel_dir: Path, catalog: Catalog, *, run_id: str | None = None
) -> KernelZipResult:
    """Extract every kernel zip the catalog does not know yet, each exactly once.

    A zip is known when the catalog (table ``kernel_zips``, pending spool records included) has
    its name with the same size and mtime; a re-delivered zip (new size or mtime) is extracted
    again. Each zip is unpacked into a scratch folder, its CRCs checked, every kernel loaded by
    SPICE in a child process, and only then moved into the kernel store and recorded. A zip that
    fails is reported in ``failed`` and changes nothing; the others are still extracted. A locked
    catalog defers the whole pass (``deferred``) instead of failing.
    """
    try:
        known = extracted_kernel_zips(catalog)
    except CatalogBusyError as err:
        logger.warning("kernel zip extraction deferred: catalog busy error=%s", err)
        return KernelZipResult(deferred=True)
    extracted, failed, spooled = [], [], False
    for zip_path in zips:
        st = zip_path.stat()
        if known.get(zip_path.name) == (st.st_size, st.st_mtime_ns):
            continue
        try:
            files = _extract_validated(zip_path, Path(kernel_dir))
        except SpiceKernelError as err:
            logger.error("kernel zip rejected zip=%s error=%s", zip_path.name, err)
            failed.append((zip_path.name, str(err)))
            continue
        outcome = record_kernel_zip(
            catalog,
            name=zip_path.name,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            sha256=_sha256(zip_path),
            files=files,
            run_id=run_id,
        )
        spooled = spooled or outcome.spooled
        known[zip_path.name] = (st.st_size, st.st_mtime_ns)
        extracted.append((zip_path.name, tuple(files)))
        logger.info("kernel zip extracted zip=%s files=%d", zip_path.name, len(files))
    return KernelZipResult(tuple(extracted), tuple(failed), False, spooled)


# -- archive mirror --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MirrorResult:
    """What the archive mirror changed."""

    target: str
    rsync: RsyncResult = field(default_factory=RsyncResult)

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {"target": self.target, **self.rsync.as_metadata()}


def check_writable(folder: Path, *, step: str) -> None:
    """Create and remove a probe file in ``folder``.

    Raises
    ------
    SyncError
        If the folder is missing or not writable (read-only mount, permissions, immutable).
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".stix-write-probe-", dir=folder)
    except OSError as err:
        raise SyncError(
            f"target folder is not writable: {err.strerror}", step=step, location=str(folder)
        ) from err
    os.close(fd)
    os.unlink(probe)


def mirror_archive(
    archive_dir: Path,
    target: str | Path,
    *,
    timeout_s: int = 300,
    ssh_options: str = "",
) -> MirrorResult:
    """``rsync -a -L --delete`` of the FITS archive to the NAS mirror (the catalog excluded).

    A local target must exist and be writable (checked with a probe file before rsync runs, so
    a read-only mount fails without touching anything). An empty or missing archive is refused:
    with ``--delete`` it would wipe the mirror (an unmounted archive looks empty).

    Raises
    ------
    SyncError
        For a missing or empty archive, an unwritable target or an rsync failure.
    """
    archive_dir = Path(archive_dir)
    if not archive_dir.is_dir() or not any(archive_dir.iterdir()):
        raise SyncError(
            "archive folder is missing or empty; refusing to mirror it with --delete",
            step="archive_mirror",
            location=str(archive_dir),
        )
    if not is_remote(str(target)):
        if not Path(target).is_dir():
            raise SyncError(
                "mirror target folder does not exist (NAS not mounted?)",
                step="archive_mirror",
                location=str(target),
            )
        check_writable(Path(target), step="archive_mirror")
    options = ["-a", "-L", "--delete", *(f"--exclude={p}" for p in _MIRROR_EXCLUDES)]
    result = rsync(
        _as_folder(archive_dir),
        _as_folder(target),
        options,
        step="archive_mirror",
        timeout_s=timeout_s,
        ssh_options=ssh_options,
    )
    return MirrorResult(str(target), result)


# -- STIX-CONF -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StixConfResult:
    """The STIX-CONF clone after a sync: the tag checked out, its commit and what it was before."""

    tag: str
    commit: str
    previous_tag: str | None
    changed: bool

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            "tag": self.tag,
            "commit": self.commit,
            "previous_tag": self.previous_tag,
            "changed": self.changed,
        }


def _git(clone: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise SyncError("git is not installed", step="stix_conf")
    done = subprocess.run(
        [git, "-C", str(clone), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
    )
    if done.returncode != 0:
        raise SyncError(
            f"git {args[0]} failed: {_last_line(done.stderr)}",
            step="stix_conf",
            location=str(clone),
            code=done.returncode,
        )
    return done.stdout.strip()


def _read_version(clone: Path) -> str | None:
    try:
        return (clone / "VERSION.TXT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def sync_stix_conf(clone: Path, *, remote: str | None = None) -> StixConfResult:
    """Fetch the tags of the STIX-CONF clone, check out the latest tag, write ``VERSION.TXT``.

    "Latest" is the highest tag in version order (``git tag --sort=-v:refname``). The old cron took
    the tag of the most recently committed tagged commit (``git describe --tags $(git rev-list
    --tags --max-count=1)``), which is ambiguous for commits with equal times and picks an old
    release when a tag is put on an older commit later. A missing clone is cloned from ``remote``.
    ``VERSION.TXT`` holds the tag and a newline, as ``echo $latestTag > VERSION.TXT`` wrote it,
    and is replaced atomically only after a successful checkout.

    Raises
    ------
    SyncError
        If the clone is missing and no remote is given, the remote cannot be fetched, it has no
        tags (nothing is changed then) or the checkout fails (local changes in the clone).
    """
    clone = Path(clone)
    if not (clone / ".git").exists():
        if not remote:
            raise SyncError(
                "STIX-CONF clone does not exist and no remote is configured",
                step="stix_conf",
                location=str(clone),
            )
        clone.parent.mkdir(parents=True, exist_ok=True)
        _git(clone.parent, "clone", "--quiet", "--no-checkout", remote, str(clone))
    previous = _read_version(clone)
    _git(clone, "fetch", "--quiet", "--tags")
    tags = _git(clone, "tag", "--list", "--sort=-v:refname").split()
    if not tags:
        raise SyncError(
            "STIX-CONF remote has no tags; clone left unchanged", step="stix_conf", location=remote
        )
    tag = tags[0]
    commit = _git(clone, "rev-list", "--max-count=1", tag)
    head = _git(clone, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") if previous else ""
    if head != commit or previous != tag:
        _git(clone, "-c", "advice.detachedHead=false", "checkout", "--quiet", tag)
        tmp = clone / ".VERSION.TXT.tmp"
        tmp.write_text(tag + "\n", encoding="utf-8")
        os.replace(tmp, clone / "VERSION.TXT")
        logger.info("stix-conf checked out tag=%s previous=%s", tag, previous)
    return StixConfResult(tag=tag, commit=commit, previous_tag=previous, changed=previous != tag)


# -- whole jobs (the assets and ``stix-assets sync`` call these) -----------------------------------
@dataclass(frozen=True, slots=True)
class TmSyncResult:
    """One TM sync: what rsync fetched, what was staged (and why), what still waits."""

    rsync: RsyncResult
    staged: tuple[StageDecision, ...]
    waiting: tuple[str, ...]
    covered_until: datetime | None

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            **self.rsync.as_metadata(),
            "staged": {d.name: d.reason for d in self.staged[:200]},
            "n_staged": len(self.staged),
            "n_waiting": len(self.waiting),
            "waiting": list(self.waiting[:50]),
            "spice_covered_until": self.covered_until.isoformat() if self.covered_until else None,
        }


@dataclass(frozen=True, slots=True)
class SpiceSoopResult:
    """One SPICE/SOOP sync: the SOC rsync and the kernel zips extracted."""

    rsync: RsyncResult
    zips: KernelZipResult

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {**self.rsync.as_metadata(), **self.zips.as_metadata()}


def run_tm_sync(settings: Settings, *, now: datetime | None = None) -> TmSyncResult:
    """TM rsync into the waiting folder, then stage and delay into the incoming folder.

    ``now`` is the time the delay is measured against, default the time after the rsync.
    """
    s = settings
    fetched = rsync_tm(
        s.path("tm_source"),
        s.waiting_dir,
        timeout_s=s.rsync_timeout_s,
        ssh_options=s.ssh_options,
    )
    files = scan_waiting(s.waiting_dir, s.incoming_dir)
    covered = kernel_covered_until(s.kernel_dir, margin_s=s.kernel_margin_s)
    now = now or datetime.now(UTC)
    decisions = plan_stage(files, now=now, delay_s=s.tm_stage_delay_s, covered_until=covered)
    stage_tm(s.waiting_dir, s.incoming_dir, decisions)
    moved = {d.name for d in decisions}
    waiting = tuple(f.name for f in files if not f.staged and f.name not in moved)
    return TmSyncResult(fetched, tuple(decisions), waiting, covered)


def run_spice_soop_sync(
    settings: Settings, catalog: Catalog, *, run_id: str | None = None
) -> SpiceSoopResult:
    """SOC exchange rsync, then extraction of the new kernel zips (see `extract_kernel_zips`)."""
    s = settings
    fetched = rsync_soc(
        s.path("soc_source"), s.soc_dir, timeout_s=s.rsync_timeout_s, ssh_options=s.ssh_options
    )
    zips = extract_kernel_zips(find_kernel_zips(s.soc_dir), s.kernel_dir, catalog, run_id=run_id)
    return SpiceSoopResult(fetched, zips)


def run_stix_conf_sync(settings: Settings) -> StixConfResult:
    """Latest STIX-CONF tag checked out in the configured clone (see `sync_stix_conf`)."""
    return sync_stix_conf(settings.stix_conf_dir, remote=settings.stix_conf_remote)


def run_archive_mirror(settings: Settings) -> MirrorResult:
    """The archive mirrored to the NAS target (see `mirror_archive`)."""
    return mirror_archive(
        settings.archive_dir,
        settings.path("mirror_target"),
        timeout_s=settings.rsync_timeout_s,
        ssh_options=settings.ssh_options,
    )
