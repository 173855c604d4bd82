"""Completeness of a date range: per day and product, what is expected, present and complete.

A (day, product) is **expected** at LB when a TM file touched that SCET day for the product
(``tm_file_days``), and at L0 and L1 when the product also has those levels
(`stix_assets.core.levels.products_at`) and is daily (a BSD request's L0/L1 day is its data
start, which no TM day predicts: such files show as present where they are); SCET and UTC days are taken as the same date (they
differ by under a minute). A **present** day has current (not superseded) files in the manifest
rows (`stix_assets.core.manifest.manifest_rows`). It is **complete** when none of those files is
unverified (``U``), none waits for flown kernels (``needs_reprocessing``) and no TM file of the
day has quarantined packets. Asset-check results live in the Dagster instance, not in the
catalog, and are not part of this table (``stix-assets status`` shows failing checks).

TM coverage of a day is the union of the SCET spans (``scet_coarse_min``..``max``) of the TM
files that touched it, clipped to the day; gaps longer than ``gap_threshold_s`` are listed. A
TM file's span says when its first and last packets were made, not that every second between
has packets, so a gap inside one file is not seen.
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stix_assets.core.catalog import Catalog
from stix_assets.core.levels.windows import products_at
from stix_assets.core.products.registry import PRODUCTS
from stix_assets.core.time import SECONDS_PER_DAY, scet_day_start

__all__ = [
    "COMPLETENESS_LEVELS",
    "STATE_CODES",
    "CompletenessCell",
    "DayCoverage",
    "completeness",
    "completeness_table",
    "day_coverage",
]

COMPLETENESS_LEVELS = ("LB", "L0", "L1")
"""The levels the table has a column for."""

STATE_CODES = {
    "complete": "C",
    "unverified": "U",
    "kernels": "K",
    "quarantine": "Q",
    "missing": "M",
    "unexpected": "+",
    "none": ".",
}
"""One letter per cell state (the compact table and the heat map legend)."""


@dataclass(frozen=True, slots=True)
class CompletenessCell:
    """One (day, level, product) of the table.

    Attributes
    ----------
    day, level, product : the cell
    expected : TM touched the day for this product (and the product exists at this level)
    n_files : current files (not superseded)
    n_unverified : of those, named ``U``
    n_needs_reprocessing : of those, made with kernels that do not cover them
    n_superseded : older versions still in the catalog
    n_published : current files delivered to SOAR
    quarantined : a TM file of the day has quarantined packets
    """

    day: dt.date
    level: str
    product: str
    expected: bool
    n_files: int
    n_unverified: int
    n_needs_reprocessing: int
    n_superseded: int
    n_published: int
    quarantined: bool

    @property
    def state(self) -> str:
        """``missing``, ``quarantine``, ``kernels``, ``unverified``, ``complete`` or others."""
        if self.n_files == 0:
            return "missing" if self.expected else "none"
        if self.quarantined:
            return "quarantine"
        if self.n_needs_reprocessing:
            return "kernels"
        if self.n_unverified:
            return "unverified"
        return "complete" if self.expected else "unexpected"

    def as_dict(self) -> dict[str, Any]:
        """Plain values (``--json``)."""
        return {
            "day": self.day.isoformat(),
            "level": self.level,
            "product": self.product,
            "state": self.state,
            "expected": self.expected,
            "files": self.n_files,
            "unverified": self.n_unverified,
            "needs_reprocessing": self.n_needs_reprocessing,
            "superseded": self.n_superseded,
            "published": self.n_published,
            "quarantined": self.quarantined,
        }


@dataclass(frozen=True, slots=True)
class DayCoverage:
    """TM coverage of one SCET day.

    Attributes
    ----------
    day : the day
    tm_files : names of the TM files that touched it
    ranges : covered (start, end) seconds of the day, merged
    gaps : uncovered (start, end) seconds longer than the threshold
    """

    day: dt.date
    tm_files: tuple[str, ...]
    ranges: tuple[tuple[int, int], ...]
    gaps: tuple[tuple[int, int], ...]

    @property
    def covered_s(self) -> int:
        """Seconds of the day inside a TM file's span."""
        return sum(e - b for b, e in self.ranges)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (``--json``); times as ``HH:MM:SS`` of the day."""
        return {
            "day": self.day.isoformat(),
            "tm_files": list(self.tm_files),
            "covered_s": self.covered_s,
            "ranges": [[_hms(b), _hms(e)] for b, e in self.ranges],
            "gaps": [[_hms(b), _hms(e)] for b, e in self.gaps],
        }


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def day_coverage(
    day: dt.date, spans: Mapping[str, tuple[int, int]], *, gap_threshold_s: int = 600
) -> DayCoverage:
    """Covered ranges and gaps of ``day`` from the SCET spans of its TM files.

    Parameters
    ----------
    day : SCET day
    spans : TM file name -> (first, last) SCET coarse second of its packets
    gap_threshold_s : shorter gaps are not listed (s)

    Examples
    --------
    >>> from stix_assets.core.time import scet_day_start
    >>> d = dt.date(2021, 1, 16)
    >>> c = day_coverage(d, {"a": (scet_day_start(d) + 3600, scet_day_start(d) + 7200)})
    >>> c.ranges, c.gaps
    (((3600, 7200),), ((0, 3600), (7200, 86400)))
    """
    start = scet_day_start(day)
    clipped = sorted(
        (max(b - start, 0), min(e - start + 1, SECONDS_PER_DAY))
        for b, e in spans.values()
        if e >= start and b < start + SECONDS_PER_DAY
    )
    ranges: list[tuple[int, int]] = []
    for b, e in clipped:
        if ranges and b <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], e))
        else:
            ranges.append((b, e))
    edges = [0, *(x for r in ranges for x in r), SECONDS_PER_DAY]
    gaps = [
        (edges[i], edges[i + 1])
        for i in range(0, len(edges), 2)
        if edges[i + 1] - edges[i] > gap_threshold_s
    ]
    return DayCoverage(day, tuple(sorted(spans)), tuple(ranges), tuple(gaps))


def _catalog_facts(
    catalog: Catalog, start: dt.date, end: dt.date
) -> tuple[list[tuple[str, str, dt.date]], dict[str, tuple[int, int]], set[str]]:
    """(tm_name, product, day) rows, TM spans and quarantined TM names, in one read."""
    with catalog.connect_readonly() as conn:
        touched = conn.execute(
            "SELECT tm_name, product, scet_day FROM tm_file_days WHERE scet_day BETWEEN ? AND ?",
            [start, end],
        ).fetchall()
        spans = conn.execute(
            "SELECT name, scet_coarse_min, scet_coarse_max FROM tm_files"
            " WHERE scet_coarse_min IS NOT NULL"
        ).fetchall()
        quarantined = conn.execute("SELECT DISTINCT file FROM quarantine").fetchall()
    return (
        [(t, p, d) for t, p, d in touched],
        {n: (int(b), int(e)) for n, b, e in spans},
        {q[0] for q in quarantined},
    )


def _cells(
    days: Sequence[dt.date],
    expected: Mapping[tuple[dt.date, str, str], bool],
    files: Mapping[tuple[dt.date, str, str], list[Mapping[str, Any]]],
    quarantined_days: set[dt.date],
) -> list[CompletenessCell]:
    wanted = set(days)
    keys = sorted(set(expected) | set(files), key=lambda k: (k[0], k[2], k[1]))
    out = []
    for day, level, product in keys:
        if day not in wanted:
            continue
        rows = files.get((day, level, product), [])
        current = [r for r in rows if not r["superseded_by"]]
        out.append(
            CompletenessCell(
                day=day, level=level, product=product,
                expected=expected.get((day, level, product), False),
                n_files=len(current),
                n_unverified=sum(1 for r in current if not r["complete"]),
                n_needs_reprocessing=sum(1 for r in current if r["needs_reprocessing"]),
                n_superseded=len(rows) - len(current),
                n_published=sum(1 for r in current if r["published_as"]),
                quarantined=day in quarantined_days,
            )
        )  # fmt: skip
    return out


def completeness(
    catalog: Catalog,
    start: dt.date,
    end: dt.date,
    *,
    manifest: Iterable[Mapping[str, Any]],
    gap_threshold_s: int = 600,
) -> tuple[list[CompletenessCell], list[DayCoverage]]:
    """The day x product completeness table of ``start``..``end`` (both included).

    Parameters
    ----------
    catalog : the archive's catalog (TM files, their days and quarantine)
    start, end : first and last day
    manifest : rows of `stix_assets.core.manifest.manifest_rows` (or ``read_manifest``)
    gap_threshold_s : shortest TM gap listed (s)

    Returns
    -------
    cells : one `CompletenessCell` per (day, level, product) expected or present, by day and
        product
    coverage : one `DayCoverage` per day of the range
    """
    if end < start:
        raise ValueError(f"empty day range {start}..{end}")
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    touched, spans, bad_tm = _catalog_facts(catalog, start, end)
    at_level = {level: set(products_at(level)) for level in COMPLETENESS_LEVELS}
    # a BSD request's L0/L1 day is its data start, not the day its TM touched: only LB expected
    per_request = {p.key for p in PRODUCTS if p.per_request}
    at_level = {lvl: ps - per_request if lvl != "LB" else ps for lvl, ps in at_level.items()}
    expected: dict[tuple[dt.date, str, str], bool] = {}
    tm_by_day: dict[dt.date, set[str]] = {}
    for tm, product, day in touched:
        tm_by_day.setdefault(day, set()).add(tm)
        for level in COMPLETENESS_LEVELS:
            if product in at_level[level]:
                expected[(day, level, product)] = True
    files: dict[tuple[dt.date, str, str], list[Mapping[str, Any]]] = {}
    for row in manifest:
        if row["level"] in COMPLETENESS_LEVELS and row["day"] is not None:
            files.setdefault((row["day"], row["level"], row["product"]), []).append(row)
    quarantined_days = {d for d, names in tm_by_day.items() if names & bad_tm}
    cells = _cells(days, expected, files, quarantined_days)
    coverage = [
        day_coverage(
            d,
            {n: spans[n] for n in tm_by_day.get(d, ()) if n in spans},
            gap_threshold_s=gap_threshold_s,
        )
        for d in days
    ]
    return cells, coverage


def completeness_table(
    catalog: Catalog, start: dt.date, end: dt.date, *, gap_threshold_s: int = 600
) -> dict[str, Any]:
    """`completeness` as plain values, from the catalog and the current manifest.

    The manifest rows are rebuilt from the catalog (headers of files not in the last written
    manifest are read), so the table never lags behind the catalog.

    Returns
    -------
    dict with ``start``, ``end``, ``cells`` (`CompletenessCell.as_dict`), ``coverage``
    (`DayCoverage.as_dict`) and ``totals`` (cells per state)
    """
    from stix_assets.core.manifest import manifest_rows, read_manifest

    previous = {(r["path"], r["sha256"]): r for r in read_manifest(catalog.archive_root)}
    rows = manifest_rows(catalog, previous=previous)
    cells, coverage = completeness(
        catalog, start, end, manifest=rows, gap_threshold_s=gap_threshold_s
    )
    totals: dict[str, int] = {}
    for c in cells:
        totals[c.state] = totals.get(c.state, 0) + 1
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "cells": [c.as_dict() for c in cells],
        "coverage": [c.as_dict() for c in coverage],
        "totals": totals,
    }
