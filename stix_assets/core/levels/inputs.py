"""The input files of a level-day, from the catalog (the archive's mirror), never from a run.

Each function reads the upstream partitions that `stix_assets.core.levels.windows` names for the
level and keeps the files that exist on disk.
"""

import datetime as dt
from collections.abc import Collection
from pathlib import Path

from stix_assets.core.catalog import Catalog
from stix_assets.core.levels.windows import INPUT_WINDOWS, products_at
from stix_assets.core.products.l0_writer import l0_start_day
from stix_assets.core.products.registry import product_by_key
from stix_assets.core.steps import timed

__all__ = ["tm_inputs", "upstream_files"]


@timed("catalog")
def tm_inputs(
    catalog: Catalog, scet_day: dt.date, products: Collection[str] | None = None
) -> list[tuple[str, Path | None]]:
    """(name, recorded path) of every TM file that touched ``scet_day``, sorted by name."""
    return catalog.tm_paths_for_day(scet_day, products)


@timed("catalog")
def upstream_files(
    catalog: Catalog, level: str, day: dt.date, products: Collection[str] | None = None
) -> list[Path]:
    """Upstream product files a level-day (L0, L1 or CAL) is built from, sorted.

    Parameters
    ----------
    catalog : the archive's catalog
    level : ``"L0"``, ``"L1"`` or ``"CAL"``
    day : the partition day (SCET day for L0, UTC day for L1 and CAL)
    products : only these registry keys (default: every product of the level)
    """
    window = INPUT_WINDOWS[level]
    wanted = set(products_at(level) if products is None else products)
    by_data_day = {p for p in wanted if level == "L1" and product_by_key(p).per_request}
    found: set[Path] = set()
    offsets = {day + dt.timedelta(days=off): off for p in wanted for off in window.offsets(p)}
    by_day = catalog.partition_files_by_day(window.upstream, offsets, wanted)
    for upstream_day, files in by_day.items():
        for product, paths in files.items():
            if offsets[upstream_day] in window.offsets(product) and product not in by_data_day:
                found.update(p for p in paths if p.is_file())
    if by_data_day:
        found.update(
            _bsd_l0_files(catalog, day, window.offsets(next(iter(by_data_day))), by_data_day)
        )
    return sorted(found)


def _bsd_l0_files(
    catalog: Catalog, utc_day: dt.date, offsets: tuple[int, ...], products: set[str]
) -> set[Path]:
    """BSD L0 files whose data start on a SCET day around ``utc_day`` (whatever TM day)."""
    days = {utc_day + dt.timedelta(days=off) for off in offsets}
    return {
        path
        for path in catalog.request_files("L0", products)
        if l0_start_day(path.name) in days and path.is_file()
    }
