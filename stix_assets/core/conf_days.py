"""Which STIX-CONF tables apply to each UTC day: the per-day data version of ``conf/energy_tables``.

L1 takes its ENERGIES table from ``detector/science_echan_index.csv`` and CAL its on-board ELUT
from ``elut/elut_index.csv``, each a list of dated validity periods. A day's data version names
every table whose period overlaps the day, each with the start of its file's sha256, for example
``"sci:ScienceEnergyChannels_1000.csv@1f0c3a9e2b7d;elut:elut_table_2020-10-05.csv@..."``, a table
valid for part of the day with its hours (``...@sha[00:04:35-24:00:00]``). A new
STIX-CONF tag therefore changes the data version of exactly the days whose tables changed (a new
period, a moved boundary, an edited file), and only those L1 days become stale.
"""

import datetime as dt
import hashlib
from pathlib import Path

from stix_assets.core.energies import CHANNEL_INDEX
from stix_assets.core.idb.days import changed_days

__all__ = ["ELUT_INDEX", "changed_days", "day_table_versions"]

ELUT_INDEX = Path("elut", "elut_index.csv")
_SHA_CHARS = 12


def _periods(index: Path) -> list[tuple[dt.datetime, dt.datetime | None, Path]]:
    """(start, end or None, file) of every row of a dated STIX-CONF index."""
    if not index.is_file():
        return []
    rows = []
    for line in index.read_text(encoding="utf-8").splitlines()[1:]:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[1]:
            continue
        start = dt.datetime.fromisoformat(parts[1])
        end = None if parts[2] == "none" else dt.datetime.fromisoformat(parts[2])
        rows.append((start, end, index.parent / parts[3]))
    return rows


def _sha(path: Path, cache: dict[Path, str]) -> str:
    if path not in cache:
        cache[path] = (
            hashlib.sha256(path.read_bytes()).hexdigest()[:_SHA_CHARS]
            if path.is_file()
            else "missing"
        )
    return cache[path]


def _clip(
    start: dt.datetime, stop: dt.datetime | None, begin: dt.datetime, end: dt.datetime
) -> str:
    """``""`` for a table valid all day, else ``[HH:MM:SS-HH:MM:SS]`` (a moved boundary counts)."""
    lo, hi = max(start, begin), end if stop is None else min(stop, end)
    if lo == begin and hi == end:
        return ""
    return f"[{lo:%H:%M:%S}-{'24:00:00' if hi == end else f'{hi:%H:%M:%S}'}]"


def day_table_versions(conf_dir: Path | str, first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """Return the STIX-CONF table data version of every UTC day from ``first`` to ``last``.

    Parameters
    ----------
    conf_dir : the STIX-CONF checkout
    first, last : UTC days (inclusive)

    Returns
    -------
    ``{utc_day: "sci:file@sha[+file@sha];elut:file@sha"}`` in day order ("none" where no table
    applies).
    """
    conf_dir = Path(conf_dir)
    cache: dict[Path, str] = {}
    kinds = {"sci": _periods(conf_dir / CHANNEL_INDEX), "elut": _periods(conf_dir / ELUT_INDEX)}
    out: dict[dt.date, str] = {}
    day = first
    while day <= last:
        begin = dt.datetime.combine(day, dt.time())
        end = begin + dt.timedelta(days=1)
        parts = []
        for kind, periods in kinds.items():
            files = [
                f"{p.name}@{_sha(p, cache)}{_clip(start, stop, begin, end)}"
                for start, stop, p in periods
                if start < end and (stop is None or stop > begin)
            ]
            parts.append(f"{kind}:{'+'.join(files) or 'none'}")
        out[day] = ";".join(parts)
        day += dt.timedelta(days=1)
    return out
