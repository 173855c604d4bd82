"""Data-quality computations over product files and tables: what the asset checks verify.

Every check is a pure function over arrays (``count_sequence_gaps``, ``find_time_gaps``, ...) plus a
``check_*`` function that reads the files of one partition and returns a `QualityResult`. The
Dagster layer (`stix_assets.checks`) only picks the files and wraps the result; the CLI can call the
same functions. STIXCore has no equivalent (its pipeline only logs).

Statements verified, and their severity when they fail:

===========================================  =======  =============================================
statement                                    sev.     computed from
===========================================  =======  =============================================
no packets lost (sequence-count gaps)        WARN     LB CONTROL, per APID over all files of a day
no duplicated packets (repeated count)       WARN     same
BSD sequences complete after N days          WARN     LB CONTROL of per-request files
no time gaps longer than a threshold         WARN     DATA ``time``/``timedel`` (L0 and later)
times strictly increasing                    ERROR    DATA ``time``
no decompression overflow                    WARN     DATA ``<x>`` vs CONTROL ``compression_scheme_<x>_skm``
flown (not predicted) orbit kernels          WARN     primary ``SPICE_MK`` (L1 and later)
product newer than each of its inputs        WARN     catalog ``written_at`` vs input times
===========================================  =======  =============================================

Sequence counts are 14-bit and per APID (domain doc 1.2); several products share one APID (all
QL families are APID 1500 on the demo and in flight, HK mini and maxi share 1444), so loss and
duplication are counted over every LB file of the day, in SCET order, and reported for the APIDs
a product uses. A step of the count (modulo 16384) of 1 is normal, 0 is a duplicate, ``d > 1``
means ``d - 1`` lost packets; a step of half the range or more is a backward jump (re-ordering or
an on-board counter reset) and is counted apart, not as a loss. Packets with the same SCET are
kept in sequence-count order (LB order), which is wrong only at a roll-over inside one tick.
"""

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import fitsio
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stix_assets.core.archive import SECONDS_PER_DAY
from stix_assets.core.catalog import Catalog
from stix_assets.core.compression import decompress
from stix_assets.core.fits import read_fits
from stix_assets.core.spice import meta_kernel_date
from stix_assets.core.time import SCET_EPOCH, parse_scet_string
from stix_assets.core.tmtc.sequences import split_sequences

__all__ = [
    "ERROR",
    "SEQUENCE_COUNT_MODULO",
    "WARN",
    "ApidStats",
    "LbPackets",
    "ProductTimes",
    "QualityResult",
    "TimeGaps",
    "check_decompression_overflow",
    "check_no_duplicate_packets",
    "check_no_lost_packets",
    "check_no_stale_products",
    "check_orbit_kernels",
    "check_sequences_complete",
    "check_time_gaps",
    "check_times_increasing",
    "count_sequence_gaps",
    "day_sequence_stats",
    "duplicate_packets_result",
    "find_stale_products",
    "find_time_gaps",
    "lost_packets_result",
    "non_monotonic_times",
    "orbit_kind",
    "partition_files",
    "product_apids",
    "product_times",
    "read_lb_packets",
    "saturated_mask",
    "skm_max_value",
    "summarise_sequences",
    "touched_products",
]

logger = logging.getLogger(__name__)

WARN = "WARN"
ERROR = "ERROR"
SEQUENCE_COUNT_MODULO = 1 << 14
_HALF_RANGE = SEQUENCE_COUNT_MODULO // 2
_LISTED = 10  # examples kept in metadata; metadata lives in the event log forever
_LB_COLUMNS = (
    "process_id",
    "packet_category",
    "sequence_flag",
    "sequence_count",
    "scet_coarse",
    "scet_fine",
)


@dataclass(frozen=True, slots=True)
class QualityResult:
    """Outcome of one check on one partition.

    Attributes
    ----------
    passed : the statement holds
    severity : ``"WARN"`` or ``"ERROR"``: how bad a failure is (kept when it passes)
    summary : one line for the UI
    metadata : plain JSON-able values (counts, first examples, files)
    """

    passed: bool
    severity: str
    summary: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _not_applicable(severity: str, why: str, **metadata: Any) -> QualityResult:
    return QualityResult(True, severity, why, {"applicable": False, **metadata})


# -- packets lost / duplicated (LB) -------------------------------------------------------------
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
        gi, di = np.flatnonzero(gap)[:_LISTED], np.flatnonzero(dup)[:_LISTED]
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
        day = (scet_day - SCET_EPOCH).days
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
        return _not_applicable(WARN, "no files in this partition", n_files=0)
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
        return _not_applicable(WARN, "no files in this partition", n_files=0)
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


# -- BSD sequences --------------------------------------------------------------------------------
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
        "first_overdue": [list(o) for o in overdue[:_LISTED]],
    }


def _scet_now(now: datetime) -> float:
    """SCET seconds of a UTC instant, approximated (SCET 0 = 2000-01-01T00:00 UTC)."""
    epoch = datetime(SCET_EPOCH.year, SCET_EPOCH.month, SCET_EPOCH.day, tzinfo=UTC)
    return (now.astimezone(UTC) - epoch).total_seconds()


def check_sequences_complete(
    product_files: Sequence[Path | str], *, now: datetime, max_age_days: float = 7.0
) -> QualityResult:
    """Check that no BSD packet sequence is still incomplete ``max_age_days`` after it was sent (WARN).

    Age is measured from the SCET of the sequence's last packet, read as UTC (within a minute).
    Younger incomplete sequences are reported as waiting and do not fail the check.
    """
    if not product_files:
        return _not_applicable(WARN, "no files in this partition", n_files=0)
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
            "files": per_file[:_LISTED],
        },
    )


# -- time axis (L0 and later) -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TimeGaps:
    """Gaps between consecutive time bins longer than a threshold.

    Attributes
    ----------
    n_gaps : number of gaps
    total_s : summed gap length (s)
    longest_s : longest gap (s)
    gaps : first gaps as ``(start, end)`` in the input's time unit (s)
    """

    n_gaps: int
    total_s: float
    longest_s: float
    gaps: tuple[tuple[float, float], ...]


def find_time_gaps(
    time_s: ArrayLike,
    timedel_s: ArrayLike,
    *,
    max_gap_s: float,
    window: tuple[float, float] | None = None,
) -> TimeGaps:
    """Gaps longer than ``max_gap_s`` between the end of a bin and the start of the next.

    Parameters
    ----------
    time_s : bin centres (s), any order
    timedel_s : bin durations (s)
    max_gap_s : longest tolerated gap (s)
    window : ``(start, end)`` the data should cover; uncovered edges count as gaps

    Examples
    --------
    >>> find_time_gaps([2, 6, 30], [4, 4, 4], max_gap_s=10).gaps
    ((8.0, 28.0),)
    """
    t = np.asarray(time_s, dtype=np.float64)
    dt = np.broadcast_to(np.asarray(timedel_s, dtype=np.float64), t.shape)
    order = np.argsort(t, kind="stable")
    start, end = (t - dt / 2)[order], (t + dt / 2)[order]
    if window is not None:
        start = np.concatenate([[window[0]], start, [window[1]]])
        end = np.concatenate([[window[0]], end, [window[1]]])
    covered_to = np.maximum.accumulate(end)
    lengths = start[1:] - covered_to[:-1]
    big = np.flatnonzero(lengths > max_gap_s)
    return TimeGaps(
        n_gaps=len(big),
        total_s=float(lengths[big].sum()),
        longest_s=float(lengths[big].max()) if len(big) else 0.0,
        gaps=tuple((float(covered_to[i]), float(start[i + 1])) for i in big[:_LISTED].tolist()),
    )


def non_monotonic_times(time_s: ArrayLike) -> dict[str, Any]:
    """Where a time series (in file order) steps back or repeats.

    >>> non_monotonic_times([1, 2, 2, 1.5, 3])["backward"]
    1
    """
    step = np.diff(np.asarray(time_s, dtype=np.float64))
    back, same = np.flatnonzero(step < 0), np.flatnonzero(step == 0)
    return {
        "backward": len(back),
        "repeated": len(same),
        "first_rows": sorted((back + 1).tolist() + (same + 1).tolist())[:_LISTED],
    }


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    primary: Mapping[str, Any]
    control: NDArray[np.void] | None
    data: NDArray[np.void] | None


def _read_table(path: Path | str) -> _Table:
    content = read_fits(path)
    return _Table(
        Path(path).name,
        content.primary,
        content.tables.get("CONTROL"),
        content.tables.get("DATA"),
    )


def _scet_seconds(text: str) -> float:
    coarse, fine = parse_scet_string(text)
    return coarse + fine / 65536.0


def _data_time(table: _Table) -> NDArray[np.float64] | None:
    """DATA bin centres (s) on the file's own scale (SCET for L0, seconds after DATE-BEG)."""
    data = table.data
    if data is None or "time" not in (data.dtype.names or ()):
        return None
    unit_cs = np.issubdtype(data["time"].dtype, np.integer)
    rel = data["time"].astype(np.float64) / (100.0 if unit_cs else 1.0)
    beg = str(table.primary.get("DATE-BEG", ""))
    return rel + (_scet_seconds(beg) if ":" in beg and "T" not in beg else 0.0)


def _data_timedel(table: _Table) -> NDArray[np.float64]:
    data = table.data
    assert data is not None
    unit_cs = np.issubdtype(data["timedel"].dtype, np.integer)
    return data["timedel"].astype(np.float64) / (100.0 if unit_cs else 1.0)


def check_time_gaps(
    files: Sequence[Path | str], *, max_gap_s: float = 120.0, scet_day: date | None = None
) -> QualityResult:
    """Check that the time bins of each file leave no gap longer than ``max_gap_s`` (WARN).

    With ``scet_day`` (L0 files, SCET time axis) a late start or early end of the day counts as a
    gap too.
    """
    if not files:
        return _not_applicable(WARN, "no files in this partition", n_files=0)
    window = None
    if scet_day is not None:
        start = (scet_day - SCET_EPOCH).days * SECONDS_PER_DAY
        window = (float(start), float(start + SECONDS_PER_DAY))
    per_file = []
    for path in files:
        table = _read_table(path)
        t = _data_time(table)
        if t is None or len(t) == 0:
            continue
        is_scet = ":" in str(table.primary.get("DATE-BEG", ""))
        gaps = find_time_gaps(
            t, _data_timedel(table), max_gap_s=max_gap_s, window=window if is_scet else None
        )
        per_file.append(
            {
                "file": table.name,
                "gaps": gaps.n_gaps,
                "gap_total_s": round(gaps.total_s, 3),
                "longest_gap_s": round(gaps.longest_s, 3),
                "first_gaps": [[round(a, 3), round(b, 3)] for a, b in gaps.gaps],
            }
        )
    n = sum(f["gaps"] for f in per_file)
    longest = max((f["longest_gap_s"] for f in per_file), default=0.0)
    return QualityResult(
        passed=n == 0,
        severity=WARN,
        summary=f"{n} gaps longer than {max_gap_s:g} s (longest {longest:g} s)",
        metadata={"gaps": n, "max_gap_s": max_gap_s, "longest_gap_s": longest, "files": per_file},
    )


def check_times_increasing(files: Sequence[Path | str]) -> QualityResult:
    """Check that DATA times strictly increase in every file (ERROR)."""
    per_file = []
    for path in files:
        table = _read_table(path)
        t = _data_time(table)
        if t is None:
            continue
        per_file.append({"file": table.name, "rows": len(t), **non_monotonic_times(t)})
    if not per_file:
        return _not_applicable(ERROR, "no time axis in this partition", n_files=len(files))
    bad = [f for f in per_file if f["backward"] or f["repeated"]]
    return QualityResult(
        passed=not bad,
        severity=ERROR,
        summary=f"{len(bad)} of {len(per_file)} files with times not strictly increasing",
        metadata={"files": per_file[:_LISTED], "bad_files": len(bad)},
    )


# -- decompression overflow -----------------------------------------------------------------------
def skm_max_value(s: int, k: int, m: int) -> int:
    """Largest magnitude a compressed byte of scheme (S, K, M) decompresses to.

    >>> skm_max_value(0, 0, 7)
    127
    """
    top = (1 << (k + m)) - 1
    return int(decompress(top, s=0, k=k, m=m)[0])


def saturated_mask(
    values: ArrayLike, skm: ArrayLike, *, skip: Iterable[tuple[int, int, int]] = ()
) -> NDArray[np.bool_]:
    """Values at the top of their compression scheme (the on-board value may have been larger).

    Parameters
    ----------
    values : (n, ...) decompressed values
    skm : (n, 3) scheme of each row
    skip : schemes whose rows are never flagged (e.g. trigger scaling (0, 0, 7), K + M = 0)

    Returns
    -------
    bool array shaped like ``values``
    """
    v = np.abs(np.asarray(values).astype(np.int64))
    schemes = np.asarray(skm, dtype=np.int64).reshape(-1, 3)
    limit = np.full(len(schemes), np.iinfo(np.int64).max, dtype=np.int64)
    skipped = {tuple(x) for x in skip}
    for s, k, m in {tuple(x) for x in schemes.tolist()}:
        if (s, k, m) in skipped or k + m == 0 or k + m > 8 or (1 << k) - 2 + m + 1 > 62:
            continue
        limit[np.all(schemes == (s, k, m), axis=1)] = skm_max_value(s, k, m)
    return v >= limit.reshape((-1,) + (1,) * (v.ndim - 1))


_TRIGGER_SCALED = (0, 0, 7)  # triggers unscaled after decompression (skm.TRIGGER_SCALED_SKM)


def _overflow_in(table: _Table) -> dict[str, int]:
    control, data = table.control, table.data
    if control is None or data is None or "control_index" not in (data.dtype.names or ()):
        return {}
    out: dict[str, int] = {}
    index = control["index"].astype(np.int64) if "index" in control.dtype.names else None
    for name in control.dtype.names or ():
        if not (name.startswith("compression_scheme_") and name.endswith("_skm")):
            continue
        column = name[len("compression_scheme_") : -len("_skm")]
        if column not in (data.dtype.names or ()):
            continue
        ci = data["control_index"].astype(np.int64)
        rows = np.searchsorted(index, ci) if index is not None else ci
        skm = np.asarray(control[name]).reshape(len(control), 3)[np.clip(rows, 0, len(control) - 1)]
        skip = [_TRIGGER_SCALED] if column == "triggers" else []
        out[column] = int(saturated_mask(data[column], skm, skip=skip).sum())
    return out


def check_decompression_overflow(files: Sequence[Path | str]) -> QualityResult:
    """Check that no decompressed value sits at the maximum of its S/K/M scheme (WARN)."""
    per_file = []
    for path in files:
        table = _read_table(path)
        found = _overflow_in(table)
        if found:
            per_file.append({"file": table.name, **found})
    if not per_file:
        return _not_applicable(WARN, "no compressed columns in this partition", n_files=len(files))
    total = sum(v for f in per_file for k, v in f.items() if k != "file")
    return QualityResult(
        passed=total == 0,
        severity=WARN,
        summary=f"{total} values at the top of their compression scheme",
        metadata={"saturated": total, "files": per_file[:_LISTED]},
    )


# -- SPICE kernels (L1 and later) --------------------------------------------------------------------
def orbit_kind(spice_mk: str, utc_day: date) -> str | None:
    """Orbit kernels a product of ``utc_day`` was made with, from its ``SPICE_MK`` value.

    ``"flown"`` when a flown meta-kernel dated after the day was loaded (STIXCore's criterion, as
    `stix_assets.core.ephemeris.DayCoverage.before_flown_mk`), ``"predicted"`` otherwise, ``None``
    when no meta-kernel is named.

    >>> orbit_kind("solo_ANC_soc-pred-mk_V1_20240601_001.tm, "
    ...            "solo_ANC_soc-flown-mk_V1_20240520_001.tm", date(2024, 5, 25))
    'predicted'
    """
    names = [n.strip() for n in spice_mk.replace(";", ",").split(",") if n.strip()]
    if not names:
        return None
    flown = [meta_kernel_date(n) for n in names if "-flown-" in n.lower()]
    return "flown" if any(d is not None and utc_day < d for d in flown) else "predicted"


def check_orbit_kernels(files: Sequence[Path | str], *, utc_day: date) -> QualityResult:
    """Check that the products of a UTC day were made with flown, not predicted, orbit kernels (WARN)."""
    kinds: dict[str, str | None] = {}
    for path in files:
        header = fitsio.read_header(str(path), ext=0)
        value = header.get("SPICE_MK")
        kinds[Path(path).name] = None if value is None else orbit_kind(str(value), utc_day)
    known = {k: v for k, v in kinds.items() if v is not None}
    if not known:
        return _not_applicable(WARN, "no SPICE_MK in this partition", n_files=len(files))
    predicted = sorted(k for k, v in known.items() if v == "predicted")
    return QualityResult(
        passed=not predicted,
        severity=WARN,
        summary=f"{len(predicted)} of {len(known)} files made with predicted orbit kernels",
        metadata={"predicted": len(predicted), "files_predicted": predicted[:_LISTED]},
    )


# -- products older than their inputs -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProductTimes:
    """When a product file was written and when each of its inputs last changed (UTC, naive)."""

    name: str
    written_at: datetime
    inputs: Mapping[str, datetime | None]


def find_stale_products(
    products: Sequence[ProductTimes], *, tolerance_s: float = 1.0
) -> dict[str, Any]:
    """Products with an input that changed after the product was written.

    Inputs with an unknown time are listed as unknown, not as stale.
    """
    slack = timedelta(seconds=tolerance_s)
    stale, unknown = [], set()
    for p in products:
        newer = sorted(n for n, t in p.inputs.items() if t is not None and t > p.written_at + slack)
        unknown.update(n for n, t in p.inputs.items() if t is None)
        if newer:
            stale.append({"file": p.name, "newer_inputs": newer[:_LISTED]})
    return {"stale": stale, "unknown_inputs": sorted(unknown)[:_LISTED], "n_unknown": len(unknown)}


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).replace(tzinfo=None)
    except FileNotFoundError:
        return None


def product_times(catalog: Catalog, paths: Sequence[Path | str]) -> list[ProductTimes]:
    """`ProductTimes` of product files from the catalog.

    A product's time is its ``written_at`` (else its file's mtime). An input is a TM file name (its
    file's mtime, else the catalog's ``last_indexed``) or a product file name (the newest
    ``written_at`` of that name, else its mtime).
    """
    sql_products = "SELECT path, written_at, inputs FROM product_files WHERE list_contains(?, path)"
    wanted = [str(p) for p in paths]
    with catalog.connect_readonly() as conn:
        rows = conn.execute(sql_products, [wanted]).fetchall()
        names = sorted({n for _, _, inputs in rows for n in inputs or []})
        tm = conn.execute(
            "SELECT name, path, last_indexed FROM tm_files WHERE list_contains(?, name)", [names]
        ).fetchall()
        prods = conn.execute(
            "SELECT regexp_extract(path, '[^/]+$') AS name, max(written_at), any_value(path)"
            " FROM product_files WHERE list_contains(?, regexp_extract(path, '[^/]+$'))"
            " GROUP BY ALL",
            [names],
        ).fetchall()
    times: dict[str, datetime | None] = {}
    for name, path, indexed in tm:
        times[name] = (_mtime(Path(path)) if path else None) or indexed
    for name, written, path in prods:
        times.setdefault(name, written or _mtime(Path(path)))
    found = {str(p): (w, inputs or []) for p, w, inputs in rows}
    out = []
    for p in wanted:
        written, inputs = found.get(p, (None, []))
        written = written or _mtime(Path(p))
        if written is None:
            continue
        out.append(ProductTimes(Path(p).name, written, {n: times.get(n) for n in inputs}))
    return out


def check_no_stale_products(
    catalog: Catalog, files: Sequence[Path | str], *, tolerance_s: float = 1.0
) -> QualityResult:
    """Check that no product file is older than one of its inputs (WARN)."""
    if not files:
        return _not_applicable(WARN, "no files in this partition", n_files=0)
    found = find_stale_products(product_times(catalog, files), tolerance_s=tolerance_s)
    n = len(found["stale"])
    return QualityResult(
        passed=n == 0,
        severity=WARN,
        summary=f"{n} of {len(files)} files older than an input",
        metadata={"stale_files": n, "n_files": len(files), **found},
    )


# -- which files a partition holds ---------------------------------------------------------------------
def touched_products(catalog: Catalog, scet_day: date) -> set[str]:
    """Products that the indexed TM files touched on a SCET day (catalog ``tm_file_days``)."""
    return catalog.touched_products(scet_day)


def partition_files(
    catalog: Catalog, level: str, partition_day: date, products: Sequence[str] | None = None
) -> dict[str, list[Path]]:
    """Files of a level's partition, per product key, from the catalog ``product_files``.

    Daily files match on ``partition_day``. Per-request (BSD) files have none; they belong to
    the day when a TM file that touched that day for the product is among their inputs (LB), or
    among the inputs of an LB file they were made from (L0 and later).
    """
    return catalog.partition_files(level, partition_day, products)
