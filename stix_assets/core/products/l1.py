"""Level 1 (L1): L0 products with engineering values, UTC header times and ephemeris, per UTC day.

Domain doc 3.3-3.5, 3.8, 4.4, 4.6, 6. The stages live in one module each, along the data flow
(`stix_assets.core.products.l1_build` describes the whole flow and the known differences from
STIXCore):

* `stix_assets.core.products.l0_reader`: an L0 file back into an `L0Product` (`read_l0_product`,
  `complete_name`), next to the L0 writer;
* `stix_assets.core.products.l1_calibrate`: engineering values with the IDB of each row
  (`calibrate_columns`, `calibrate_product`);
* `stix_assets.core.products.l1_build`: the products of one UTC day (`build_l1_day`) and their
  file names (`l1_file_name`);
* `stix_assets.core.products.l1_writer`: the primary header and the files (`write_l1`);
* `stix_assets.core.products.l1_model`: the value types (`L1Product`, `L1Build`, `L1Issue`,
  `L1FileResult`).

This module keeps the catalog glue (`l0_files_for_day`) and re-exports the names above, so
callers can keep importing them from here.
"""

import logging
from collections.abc import Collection
from datetime import date, timedelta
from pathlib import Path

from stix_assets.core.catalog import Catalog
from stix_assets.core.products.l0_reader import complete_name, read_l0_product
from stix_assets.core.products.l1_build import build_l1_day, l1_file_name
from stix_assets.core.products.l1_calibrate import calibrate_columns
from stix_assets.core.products.l1_model import L1Build, L1FileResult, L1Issue, L1Product
from stix_assets.core.products.l1_writer import write_l1

__all__ = [
    "L1Build",
    "L1FileResult",
    "L1Issue",
    "L1Product",
    "build_l1_day",
    "calibrate_columns",
    "complete_name",
    "l0_files_for_day",
    "l1_file_name",
    "read_l0_product",
    "write_l1",
]

logger = logging.getLogger(__name__)


def l0_files_for_day(
    catalog: Catalog, utc_day: date, products: Collection[str] | None = None
) -> list[Path]:
    """L0 files an L1 UTC day may need: the SCET days around it (`build_l1_day` keeps its bins)."""
    found: set[Path] = set()
    for offset in (-1, 0, 1):
        day = utc_day + timedelta(days=offset)
        for paths in catalog.partition_files("L0", day, products).values():
            found.update(p for p in paths if p.is_file())
    return sorted(found)
