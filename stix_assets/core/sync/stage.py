"""Stage and delay: TM files move from the waiting folder to the inbox.

A file moves after the configured delay, or at once when the flown SPICE kernels already cover it.
"""

import errno
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stix_assets.core.errors import TMFileError
from stix_assets.core.spice import latest_meta_kernels
from stix_assets.core.time import nominal_utc
from stix_assets.core.tmtc import decode_tm_file, is_tm_file_name

__all__ = [
    "StageDecision",
    "WaitingFile",
    "kernel_covered_until",
    "plan_stage",
    "scan_waiting",
    "stage_tm",
    "tm_scet_end",
]

logger = logging.getLogger(__name__)


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
    return nominal_utc(int(coarse))


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
