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

This module re-exports the names above, so callers can keep importing them from here; which L0
files a day is built from is decided in `stix_assets.core.levels` (the catalog glue).
"""

import logging

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
    "l1_file_name",
    "read_l0_product",
    "write_l1",
]

logger = logging.getLogger(__name__)
