"""Packets lost or duplicated (LB sequence counts) and BSD sequences left incomplete."""

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import fitsio
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stix_assets.core.quality.base import LISTED, WARN, QualityResult, not_applicable
from stix_assets.core.time import SECONDS_PER_DAY, day_index, nominal_scet
from stix_assets.core.tmtc.sequences import split_sequences

__all__ = [
    "SEQUENCE_COUNT_MODULO",
    "ApidStats",
    "LbPackets",
    "check_no_duplicate_packets",
    "check_no_lost_packets",
    "check_sequences_complete",
    "count_sequence_gaps",
    "day_sequence_stats",
    "duplicate_packets_result",
    "lost_packets_result",
    "product_apids",
    "read_lb_packets",
    "summarise_sequences",
]

logger = logging.getLogger(__name__)


SEQUENCE_COUNT_MODULO = 1 << 14
_HALF_RANGE = SEQUENCE_COUNT_MODULO // 2
_LB_COLUMNS = (
    "process_id",
    "packet_category",
    "sequence_flag",
    "sequence_count",
    "scet_coarse",
    "scet_fine",
)


@dataclass(frozen=True, slots=True)
class ApidStats:
    """Sequence-count bookkeeping of one APID over one day.

    Attributes
    ----------
    apid : application process id (``process_id * 16 + packet_category``)
    n_packets : packets seen
    n_lost : packets missing inside the day (sum of count steps minus one)
    n_duplicated : packets repeating the count of the packet before
    n_backward : backward jumps (re-ordering or counter reset), not counted as loss
    gaps : first gaps as ``(count before, count after, lost, scet_coarse after)``
    duplicates : first duplicates as ``(count, scet_coarse)``
    """

    apid: int
    n_packets: int
    n_lost: int
    n_duplicated: int
    n_backward: int
    gaps: tuple[tuple[int, int, int, int], ...] = ()
    duplicates: tuple[tuple[int, int], ...] = ()

    def as_metadata(self) -> dict[str, Any]:
        """Plain values."""
        return {
            "apid": self.apid,
            "packets": self.n_packets,
            "lost": self.n_lost,
            "duplicated": self.n_duplicated,
            "backward_jumps": self.n_backward,
            "first_gaps": [list(g) for g in self.gaps],
            "first_duplicates": [list(d) for d in self.duplicates],
        }


def count_sequence_gaps(
    apid: ArrayLike, sequence_count: ArrayLike, scet_coarse: ArrayLike, scet_fine: ArrayLike
) -> dict[int, ApidStats]:
    """Lost and duplicated packets per APID from 14-bit sequence counts, in SCET order.

    Parameters
    ----------
    apid, sequence_count, scet_coarse, scet_fine : one value per packet, any order

    Returns
    -------
    dict APID -> `ApidStats`

    Examples
    --------
    >>> s = count_sequence_gaps([5] * 4, [16382, 16383, 2, 2], [1, 2, 3, 4], [0] * 4)
    >>> s[5].n_lost, s[5].n_duplicated
    (2, 1)
    """
    apid = np.asarray(apid, dtype=np.int64)
    count = np.asarray(sequence_count, dtype=np.int64)
    coarse = np.asarray(scet_coarse, dtype=np.int64)
    fine = np.asarray(scet_fine, dtype=np.int64)
    order = np.lexsort((count, fine, coarse, apid))
    apid, count, coarse = apid[order], count[order], coarse[order]
    out: dict[int, ApidStats] = {}
    for value in np.unique(apid).tolist():
        sel = apid == value
        c, t = count[sel], coarse[sel]
        step = np.diff(c) % SEQUENCE_COUNT_MODULO
        gap = (step > 1) & (step < _HALF_RANGE)
        dup = step == 0
        gi, di = np.flatnonzero(gap)[:LISTED], np.flatnonzero(dup)[:LISTED]
        out[value] = ApidStats(
            apid=value,
            n_packets=int(sel.sum()),
            n_lost=int(np.sum(step[gap] - 1)),
            n_duplicated=int(dup.sum()),
            n_backward=int(np.sum(step >= _HALF_RANGE)),
            gaps=tuple(
                (int(c[i]), int(c[i + 1]), int(step[i] - 1), int(t[i + 1])) for i in gi.tolist()
            ),
            duplicates=tuple((int(c[i + 1]), int(t[i + 1])) for i in di.tolist()),
        )
    return out


@dataclass(frozen=True, slots=True)
class LbPackets:
    """Header columns of the packets of some LB files (one value per packet)."""

    apid: NDArray[np.int64]
    sequence_flag: NDArray[np.int64]
    sequence_count: NDArray[np.int64]
    scet_coarse: NDArray[np.int64]
    scet_fine: NDArray[np.int64]
    file_index: NDArray[np.int64]
    files: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.apid)

    def take(self, mask: NDArray[np.bool_]) -> "LbPackets":
        """The packets where ``mask`` is true."""
        return LbPackets(
            self.apid[mask],
            self.sequence_flag[mask],
            self.sequence_count[mask],
            self.scet_coarse[mask],
            self.scet_fine[mask],
            self.file_index[mask],
            self.files,
        )


def read_lb_packets(paths: Iterable[Path | str]) -> LbPackets:
    """Read the CONTROL header columns of LB files (not the packet hex)."""
    files = tuple(Path(p) for p in paths)
    parts: dict[str, list[NDArray]] = {c: [] for c in (*_LB_COLUMNS, "file_index")}
    for i, path in enumerate(files):
        control = fitsio.read(str(path), ext="CONTROL", columns=list(_LB_COLUMNS))
        for col in _LB_COLUMNS:
            parts[col].append(np.asarray(control[col], dtype=np.int64))
        parts["file_index"].append(np.full(len(control), i, dtype=np.int64))
    cols = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in parts.items()}
    return LbPackets(
        apid=cols["process_id"] * 16 + cols["packet_category"],
        sequence_flag=cols["sequence_flag"],
        sequence_count=cols["sequence_count"],
        scet_coarse=cols["scet_coarse"],
        scet_fine=cols["scet_fine"],
        file_index=cols["file_index"],
        files=files,
    )


def day_sequence_stats(
    day_files: Sequence[Path | str], *, scet_day: date | None = None
) -> dict[int, ApidStats]:
    """`count_sequence_gaps` over every LB file of a day.

    Parameters
    ----------
    day_files : every LB file of the day (all products: they share APIDs)
    scet_day : keep only packets of this SCET day (per-request files span days)
    """
    packets = read_lb_packets(day_files)
    if scet_day is not None:
        day = day_index(scet_day)
        packets = packets.take(packets.scet_coarse // SECONDS_PER_DAY == day)
    return count_sequence_gaps(
        packets.apid, packets.sequence_count, packets.scet_coarse, packets.scet_fine
    )


def product_apids(product_files: Sequence[Path | str]) -> list[int]:
    """APIDs of the packets in some LB files."""
    return sorted(set(read_lb_packets(product_files).apid.tolist()))


def lost_packets_result(
    stats: Mapping[int, ApidStats],
    apids: Sequence[int],
    *,
    max_lost: int = 0,
    missing_products: Collection[str] = (),
) -> QualityResult:
    """Check that at most ``max_lost`` packets of ``apids`` are missing (WARN).

    ``missing_products`` are products the day's TM files touched that have no LB file yet. Their
    packets share APIDs with others and would look lost, so while any is missing an apparent loss
    does not fail the check (the summary says it is undetermined).
    """
    if not apids:
        return not_applicable(WARN, "no files in this partition", n_files=0)
    chosen = [stats[a] for a in apids if a in stats]
    lost = sum(s.n_lost for s in chosen)
    undetermined = bool(lost > max_lost and missing_products)
    summary = f"{lost} packets lost over {len(chosen)} APID(s)"
    if undetermined:
        summary = (
            f"{lost} packets apparently lost; undetermined while products of the day are not "
            f"at LB yet: {', '.join(sorted(missing_products))}"
        )
    return QualityResult(
        passed=lost <= max_lost or undetermined,
        severity=WARN,
        summary=summary,
        metadata={
            "lost": lost,
            "max_lost": max_lost,
            "undetermined": undetermined,
            "missing_products": sorted(missing_products),
            "apids": [s.as_metadata() for s in chosen],
        },
    )


def duplicate_packets_result(stats: Mapping[int, ApidStats], apids: Sequence[int]) -> QualityResult:
    """Check that no packet of ``apids`` repeats the sequence count before it (WARN)."""
    if not apids:
        return not_applicable(WARN, "no files in this partition", n_files=0)
    chosen = [stats[a] for a in apids if a in stats]
    dup = sum(s.n_duplicated for s in chosen)
    return QualityResult(
        passed=dup == 0,
        severity=WARN,
        summary=f"{dup} duplicated packets over {len(chosen)} APID(s)",
        metadata={"duplicated": dup, "apids": [s.as_metadata() for s in chosen]},
    )


def check_no_lost_packets(
    product_files: Sequence[Path | str],
    day_files: Sequence[Path | str],
    *,
    scet_day: date | None = None,
    max_lost: int = 0,
) -> QualityResult:
    """Check that no packet of the product's APIDs is missing inside the day (WARN).

    Parameters
    ----------
    product_files : LB files of the product (they decide which APIDs are checked)
    day_files : every LB file of the day (all products sharing those APIDs)
    scet_day : keep only packets of this SCET day (per-request files span days)
    max_lost : tolerated number of lost packets
    """
    stats = day_sequence_stats(day_files, scet_day=scet_day)
    return lost_packets_result(stats, product_apids(product_files), max_lost=max_lost)


def check_no_duplicate_packets(
    product_files: Sequence[Path | str],
    day_files: Sequence[Path | str],
    *,
    scet_day: date | None = None,
) -> QualityResult:
    """Check that no packet of the product's APIDs repeats the sequence count before it (WARN)."""
    stats = day_sequence_stats(day_files, scet_day=scet_day)
    return duplicate_packets_result(stats, product_apids(product_files))


def summarise_sequences(
    flags: ArrayLike,
    counts: ArrayLike,
    scet_coarse: ArrayLike,
    *,
    now_scet: float,
    max_age_days: float,
) -> dict[str, Any]:
    """Complete, waiting and overdue packet sequences of one request (time-ordered packets).

    A sequence is overdue when it is incomplete and its last packet is older than
    ``max_age_days`` at ``now_scet`` (SCET seconds): the missing packets should have arrived.
    """
    flags, counts = np.asarray(flags), np.asarray(counts)
    coarse = np.asarray(scet_coarse, dtype=np.int64)
    splits = split_sequences(flags, counts)
    incomplete = [s for s in splits if not s.complete]
    age_s = [now_scet - float(coarse[s.rows[-1]]) for s in incomplete]
    overdue = [
        (int(coarse[s.rows[0]]), len(s.rows))
        for s, a in zip(incomplete, age_s, strict=True)
        if a > max_age_days * SECONDS_PER_DAY
    ]
    return {
        "sequences": len(splits),
        "complete": len(splits) - len(incomplete),
        "waiting": len(incomplete) - len(overdue),
        "overdue": len(overdue),
        "first_overdue": [list(o) for o in overdue[:LISTED]],
    }


def _scet_now(now: datetime) -> float:
    """SCET seconds of a UTC instant, approximated (SCET 0 = 2000-01-01T00:00 UTC)."""
    return nominal_scet(now)


def check_sequences_complete(
    product_files: Sequence[Path | str], *, now: datetime, max_age_days: float = 7.0
) -> QualityResult:
    """Check that no BSD packet sequence is still incomplete ``max_age_days`` after it was sent (WARN).

    Age is measured from the SCET of the sequence's last packet, read as UTC (within a minute).
    Younger incomplete sequences are reported as waiting and do not fail the check.
    """
    if not product_files:
        return not_applicable(WARN, "no files in this partition", n_files=0)
    packets = read_lb_packets(product_files)
    now_scet = _scet_now(now)
    per_file = []
    for i, path in enumerate(packets.files):
        p = packets.take(packets.file_index == i)
        summary = summarise_sequences(
            p.sequence_flag,
            p.sequence_count,
            p.scet_coarse,
            now_scet=now_scet,
            max_age_days=max_age_days,
        )
        per_file.append({"file": path.name, **summary})
    overdue = sum(f["overdue"] for f in per_file)
    waiting = sum(f["waiting"] for f in per_file)
    return QualityResult(
        passed=overdue == 0,
        severity=WARN,
        summary=f"{overdue} sequences incomplete after {max_age_days:g} days, {waiting} waiting",
        metadata={
            "overdue": overdue,
            "waiting": waiting,
            "max_age_days": max_age_days,
            "files": per_file[:LISTED],
        },
    )
