"""A small archive made from the kit's three STIXCore reference inputs (TM -> LB -> L0 -> L1)."""

import datetime as dt
from pathlib import Path

from stix_assets.core.catalog import Catalog
from stix_assets.core.idb import IdbStore
from stix_assets.core.process import CATALOG_NAME, process_tm_files

CREATED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def build_kit_archive(testdata: Path, root: Path, *, end_level: str = "L1") -> Catalog:
    """Process ``reference/stixcore/input/*.xml`` into ``root``; return the archive's catalog."""
    inputs = sorted((testdata / "reference" / "stixcore" / "input").glob("*.xml"))
    process_tm_files(
        inputs,
        root,
        IdbStore(testdata / "idb"),
        end_level=end_level,
        created=CREATED,
        software_version="test",
        conf_dir=testdata / "conf",
        spice_dir=testdata / "spice" / "kernels",
    )
    return Catalog(root / CATALOG_NAME)
