"""Products older than their inputs, and which files a partition holds."""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from stix_assets.core.catalog import Catalog
from stix_assets.core.quality.base import LISTED, WARN, QualityResult, not_applicable

__all__ = [
    "ProductTimes",
    "check_no_stale_products",
    "find_stale_products",
    "partition_files",
    "product_times",
    "touched_products",
]

logger = logging.getLogger(__name__)


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
            stale.append({"file": p.name, "newer_inputs": newer[:LISTED]})
    return {"stale": stale, "unknown_inputs": sorted(unknown)[:LISTED], "n_unknown": len(unknown)}


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
    sql_products = (
        "SELECT path, written_at, inputs FROM product_files WHERE path = ANY(?::VARCHAR[])"
    )
    wanted = {str(p): catalog.stored_path(p) for p in paths}  # as given -> as stored
    with catalog.connect_readonly() as conn:
        rows = conn.execute(sql_products, [sorted(set(wanted.values()))]).fetchall()
        names = sorted({n for _, _, inputs in rows for n in inputs or []})
        tm = conn.execute(
            "SELECT name, path, last_indexed FROM tm_files WHERE name = ANY(?::VARCHAR[])",
            [names],
        ).fetchall()
        prods = conn.execute(
            "SELECT regexp_replace(path, '^.*/', '') AS name, max(written_at), min(path)"
            " FROM product_files WHERE regexp_replace(path, '^.*/', '') = ANY(?::VARCHAR[])"
            " GROUP BY 1",
            [names],
        ).fetchall()
    times: dict[str, datetime | None] = {}
    for name, path, indexed in tm:
        times[name] = (_mtime(Path(path)) if path else None) or indexed
    for name, written, path in prods:
        times.setdefault(name, written or _mtime(catalog.absolute_path(path)))
    found = {p: (w, inputs or []) for p, w, inputs in rows}
    out = []
    for p, stored in wanted.items():
        written, inputs = found.get(stored, (None, []))
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
        return not_applicable(WARN, "no files in this partition", n_files=0)
    found = find_stale_products(product_times(catalog, files), tolerance_s=tolerance_s)
    n = len(found["stale"])
    return QualityResult(
        passed=n == 0,
        severity=WARN,
        summary=f"{n} of {len(files)} files older than an input",
        metadata={"stale_files": n, "n_files": len(files), **found},
    )


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
