"""The time axis of L0 and later files: gaps longer than a threshold, times not increasing."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stix_assets.core.quality.base import (
    ERROR,
    LISTED,
    WARN,
    QualityResult,
    QualityTable,
    not_applicable,
    read_table,
)
from stix_assets.core.time import (
    SECONDS_PER_DAY,
    parse_scet_string,
    scet_day_start,
    scet_float,
)

__all__ = [
    "TimeGaps",
    "check_time_gaps",
    "check_times_increasing",
    "find_time_gaps",
    "non_monotonic_times",
]

logger = logging.getLogger(__name__)


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
        gaps=tuple((float(covered_to[i]), float(start[i + 1])) for i in big[:LISTED].tolist()),
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
        "first_rows": sorted((back + 1).tolist() + (same + 1).tolist())[:LISTED],
    }


def _scet_seconds(text: str) -> float:
    coarse, fine = parse_scet_string(text)
    return float(scet_float(coarse, fine))


def _data_time(table: QualityTable) -> NDArray[np.float64] | None:
    """DATA bin centres (s) on the file's own scale (SCET for L0, seconds after DATE-BEG)."""
    data = table.data
    if data is None or "time" not in (data.dtype.names or ()):
        return None
    unit_cs = np.issubdtype(data["time"].dtype, np.integer)
    rel = data["time"].astype(np.float64) / (100.0 if unit_cs else 1.0)
    beg = str(table.primary.get("DATE-BEG", ""))
    return rel + (_scet_seconds(beg) if ":" in beg and "T" not in beg else 0.0)


def _data_timedel(table: QualityTable) -> NDArray[np.float64]:
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
        return not_applicable(WARN, "no files in this partition", n_files=0)
    window = None
    if scet_day is not None:
        start = scet_day_start(scet_day)
        window = (float(start), float(start + SECONDS_PER_DAY))
    per_file = []
    for path in files:
        table = read_table(path)
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
        table = read_table(path)
        t = _data_time(table)
        if t is None:
            continue
        per_file.append({"file": table.name, "rows": len(t), **non_monotonic_times(t)})
    if not per_file:
        return not_applicable(ERROR, "no time axis in this partition", n_files=len(files))
    bad = [f for f in per_file if f["backward"] or f["repeated"]]
    return QualityResult(
        passed=not bad,
        severity=ERROR,
        summary=f"{len(bad)} of {len(per_file)} files with times not strictly increasing",
        metadata={"files": per_file[:LISTED], "bad_files": len(bad)},
    )
