"""Level 0 (L0): LB packets parsed, decompressed and reshaped into product tables, per SCET day.

The framework every L0 product family builds on (domain doc 3.3-3.5, 3.7, 7). A family is one
builder function registered under its registry key in `stix_assets.core.products.builders`
(``BUILDERS``). The stages live in one module each, along the data flow:

* `stix_assets.core.products.model`: the value types (`LbInput`, `L0Product`, `BuilderEntry`,
  `L0Issue`, `L0Build`, `L0FileResult`);
* `stix_assets.core.products.lb_reader`: an LB file back into a `PacketBatch` (`read_lb_file`);
* `stix_assets.core.products.l0_decode`: its packets decoded into an `LbInput`;
* `stix_assets.core.products.l0_build`: the builders run per file (`run_builder`), the products
  stacked and split (`build_l0_files`, `build_l0_day`);
* `stix_assets.core.products.l0_stack`: stacking and day splitting (`concat_products`,
  `split_by_day`);
* `stix_assets.core.products.l0_writer`: names and writes the files (``L0/<st>/<sst>[/<ssid>]/``),
  HDUs PRIMARY, CONTROL, DATA, IDB_VERSIONS and, if the product has energies, ENERGIES, through
  `core.fits.write_fits` (atomic, deterministic: the same inputs and ``created`` give the same
  bytes); `stix_assets.core.products.l0_reader` reads them back for L1.

This module re-exports the names above, so callers can keep importing them from here; which LB
files a day is built from is decided in `stix_assets.core.levels` (the catalog glue).

No merge at L0: an L0 file is a pure function of the LB files of its day (or request). The LB
step already merged every TM file into those LB files (new packets win), so an L0 file is rewritten
whole, never combined with an older L0 file (STIXCore merges at L0 because its LB files were per
TM file). A BSD L0 file is rewritten as well (STIXCore kept the first one, quirk 17).

Product tables (`L0Product.control` / ``.data``) are ordered dicts of numpy columns with the
dtypes they are written with. Two DATA columns are special:

* ``time``: float64 SCET seconds of the bin centre, ``coarse + fine / 65536`` (the SCLK
  convention, exact to 0.1 us); written as uint32 centiseconds relative to ``OBT_BEG`` (or float32
  seconds when ``time_encoding == "s"``, the aspect-burst exception);
* ``timedel``: float64 seconds; written as uint32 centiseconds (or float32 seconds).

Header times: ``OBT_BEG``/``OBT_END`` = min(time - timedel/2) / max(time + timedel/2) as
STIXCore floats (``coarse + fine / 65535``, quirk 1), ``DATE-OBS``/``DATE-BEG``/``DATE-AVG``/
``DATE-END`` the same instants (AVG: midpoint) as SCET strings ``cccccccccc:fffff``.

Known differences from STIXCore (docs/decisions.md):

* software identity: ``CREATOR``, ``VERS_SW``, ``VERS_CFG``, ``HISTORY`` text; ``DATE`` and the
  checksum comments are the ``created`` argument;
* the ENERGIES table is chosen at the product start in SCET read as UTC (L0 has no SPICE,
  `stix_assets.core.energies.energies_table`); SCET and UTC differ by less than a minute, so
  only a product within a minute of a STIX-CONF switch could get the neighbouring table;
* no ASTROPY-SERIALIZED-COLUMNS comment cards and no column descriptions.
"""

import logging

from stix_assets.core.energies import energies_table
from stix_assets.core.products.dtypes import min_uint
from stix_assets.core.products.l0_build import build_l0_day, build_l0_files, run_builder
from stix_assets.core.products.l0_decode import merge_tables
from stix_assets.core.products.l0_stack import concat_products, split_by_day
from stix_assets.core.products.lb_reader import read_lb_file
from stix_assets.core.products.model import (
    BuilderEntry,
    L0Build,
    L0FileResult,
    L0Issue,
    L0Product,
    LbInput,
)
from stix_assets.core.time import scet_float, scet_split, stixcore_float

__all__ = [
    "BuilderEntry",
    "L0Build",
    "L0FileResult",
    "L0Issue",
    "L0Product",
    "LbInput",
    "build_l0_day",
    "build_l0_files",
    "concat_products",
    "energies_table",
    "merge_tables",
    "min_uint",
    "read_lb_file",
    "run_builder",
    "scet_float",
    "scet_split",
    "split_by_day",
    "stixcore_float",
]

logger = logging.getLogger(__name__)
