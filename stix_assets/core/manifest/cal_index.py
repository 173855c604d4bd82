"""Which CAL (energy calibration) file holds for a time: ``manifest/cal_index.parquet``.

STIX's rule: the calibration of a time T is the CAL file made with the same on-board energy
lookup table (ELUT) as the data at T, and of those the one closest in time to T. A CAL file's
ELUT is the ``ob_elut_name`` column of its CONTROL table (`stix_assets.core.products.l2`). Here
"closest" is the smallest distance from T to the file's ``DATE-BEG``..``DATE-END`` span (0 when T
lies inside it); ties go to the file whose centre is nearer, then to the later file. Only the
newest version of each CAL file takes part (superseded rows are left out of the index).
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CAL_INDEX_COLUMNS",
    "CalEntry",
    "cal_entries",
    "cal_file_for",
    "elut_in_force",
    "read_elut_name",
]

logger = logging.getLogger(__name__)

_EPOCH = datetime(2000, 1, 1)  # noqa: DTZ001 (naive UTC, as the index)

CAL_INDEX_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", "VARCHAR"),  # relative to the archive root
    ("file_name", "VARCHAR"),
    ("elut", "VARCHAR"),  # ob_elut_name of the CONTROL table
    ("date_beg", "TIMESTAMP"),  # UTC
    ("date_end", "TIMESTAMP"),
    ("version", "INTEGER"),
    ("sha256", "VARCHAR"),
)
"""Column name and DuckDB type of every CAL index row."""


@dataclass(frozen=True, slots=True)
class CalEntry:
    """One CAL file of the index.

    Attributes
    ----------
    path : relative to the archive root
    elut : name of the on-board ELUT the calibration was made with
    date_beg, date_end : UTC span of the calibration spectrum (naive datetimes)
    version : processing version
    """

    path: str
    elut: str
    date_beg: datetime
    date_end: datetime
    version: int = 0

    def distance_s(self, when: datetime) -> float:
        """Seconds from ``when`` to the span (0 inside it)."""
        if when < self.date_beg:
            return (self.date_beg - when).total_seconds()
        if when > self.date_end:
            return (when - self.date_end).total_seconds()
        return 0.0

    def centre_distance_s(self, when: datetime) -> float:
        """Seconds from ``when`` to the centre of the span."""
        centre = self.date_beg + (self.date_end - self.date_beg) / 2
        return abs((when - centre).total_seconds())


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo is not None else when


def read_elut_name(path: Path) -> str | None:
    """The ``ob_elut_name`` of a CAL file's CONTROL table (first row), or None."""
    from astropy.io import fits  # here: a manifest of an archive without CAL files never needs it

    try:
        with fits.open(path, memmap=False) as hdul:
            control = hdul["CONTROL"].data
            if control is None or "ob_elut_name" not in control.names or len(control) == 0:
                return None
            value = control["ob_elut_name"][0]
    except (OSError, KeyError) as err:
        logger.warning("cal index unreadable file=%s error=%s", path.name, err)
        return None
    if isinstance(value, bytes | np.bytes_):
        value = value.decode("ascii", errors="replace")
    return str(value).strip() or None


def cal_entries(
    manifest: Iterable[Mapping[str, Any]],
    archive_root: Path,
    *,
    previous: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the CAL index: the current CAL files of the manifest with their ELUT.

    Parameters
    ----------
    manifest : rows of `stix_assets.core.manifest.manifest_rows`
    archive_root : the archive (manifest paths are relative to it)
    previous : previous CAL index rows keyed by (path, sha256), reused without reading the file

    Returns
    -------
    list of dicts with the keys of `CAL_INDEX_COLUMNS`, sorted by ``date_beg``; files without an
    ELUT or a UTC time range are left out (and logged)
    """
    previous = previous or {}
    out = []
    for row in manifest:
        if row["level"] != "CAL" or row["superseded_by"] or row["time_scale"] != "UTC":
            continue
        cached = previous.get((row["path"], row["sha256"]))
        elut = cached["elut"] if cached else read_elut_name(Path(archive_root) / row["path"])
        if elut is None:
            logger.warning("cal index no elut file=%s", row["file_name"])
            continue
        out.append(
            {
                "path": row["path"],
                "file_name": row["file_name"],
                "elut": elut,
                "date_beg": datetime.fromisoformat(row["date_beg"]),
                "date_end": datetime.fromisoformat(row["date_end"]),
                "version": row["version"],
                "sha256": row["sha256"],
            }
        )
    return sorted(out, key=lambda r: (r["date_beg"], r["path"]))


def _as_entries(index: Iterable[CalEntry | Mapping[str, Any]]) -> list[CalEntry]:
    out = []
    for e in index:
        if isinstance(e, CalEntry):
            beg, end = _naive_utc(e.date_beg), _naive_utc(e.date_end)
            out.append(CalEntry(e.path, e.elut, beg, end, e.version))
            continue
        beg, end = e["date_beg"], e["date_end"]
        out.append(
            CalEntry(
                path=str(e["path"]),
                elut=str(e["elut"]),
                date_beg=_naive_utc(datetime.fromisoformat(beg) if isinstance(beg, str) else beg),
                date_end=_naive_utc(datetime.fromisoformat(end) if isinstance(end, str) else end),
                version=int(e.get("version") or 0),
            )
        )
    return out


def elut_in_force(when: datetime, index: Iterable[CalEntry | Mapping[str, Any]]) -> str | None:
    """The ELUT of the latest CAL file that starts at or before ``when`` (else the earliest).

    A stand-in for the ELUT of the data at ``when`` when the caller does not know it: on-board
    ELUTs change by upload, so the last calibration before ``when`` was made with the one in
    force (unless an upload happened in between; pass the ELUT when it is known).
    """
    entries = sorted(_as_entries(index), key=lambda e: (e.date_beg, e.path))
    if not entries:
        return None
    when = _naive_utc(when)
    before = [e for e in entries if e.date_beg <= when]
    return (before[-1] if before else entries[0]).elut


def cal_file_for(
    time: datetime, elut: str | None, index: Sequence[CalEntry | Mapping[str, Any]]
) -> CalEntry | None:
    """The CAL file for ``time`` by STIX's rule: same ELUT, closest in time.

    Parameters
    ----------
    time : the time to calibrate (UTC; naive is taken as UTC)
    elut : ELUT name of the data at ``time`` (``ob_elut_name``, e.g. ``elut_table_20200519``);
        None takes `elut_in_force`
    index : CAL index rows (dicts with ``path``, ``elut``, ``date_beg``, ``date_end``) or
        `CalEntry` values

    Returns
    -------
    CalEntry or None when no CAL file has that ELUT

    Examples
    --------
    >>> a = CalEntry("a.fits", "elut_1", datetime(2021, 1, 1), datetime(2021, 1, 1, 1))
    >>> b = CalEntry("b.fits", "elut_2", datetime(2021, 1, 16), datetime(2021, 1, 16, 1))
    >>> cal_file_for(datetime(2021, 1, 16), "elut_1", [a, b]).path
    'a.fits'
    """
    entries = _as_entries(index)
    when = _naive_utc(time)
    if elut is None:
        elut = elut_in_force(when, entries)
    same = [e for e in entries if e.elut == elut]
    if not same:
        return None
    return min(
        same,
        key=lambda e: (
            e.distance_s(when),
            e.centre_distance_s(when),
            -(e.date_beg - _EPOCH).total_seconds(),
        ),
    )
