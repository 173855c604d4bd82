"""The archive manifest: ``<archive>/manifest/products`` and ``cal_index`` (Parquet and JSON).

`write_manifest` rebuilds both after every processing and publish run; `manifest_rows` gives the
product rows (level, product, day, time range, version, complete or ``U``, superseded by,
sha256, published as) and `cal_file_for` answers "which CAL file for time T" (same ELUT,
closest in time).
"""

from stix_assets.core.manifest.cal_index import (
    CAL_INDEX_COLUMNS,
    CalEntry,
    cal_entries,
    cal_file_for,
    elut_in_force,
    read_elut_name,
)
from stix_assets.core.manifest.files import (
    MANIFEST_DIR,
    ManifestResult,
    manifest_dir,
    read_cal_index,
    read_manifest,
    write_manifest,
)
from stix_assets.core.manifest.products import MANIFEST_COLUMNS, manifest_rows, read_time_range

__all__ = [
    "CAL_INDEX_COLUMNS",
    "MANIFEST_COLUMNS",
    "MANIFEST_DIR",
    "CalEntry",
    "ManifestResult",
    "cal_entries",
    "cal_file_for",
    "elut_in_force",
    "manifest_dir",
    "manifest_rows",
    "read_cal_index",
    "read_elut_name",
    "read_manifest",
    "read_time_range",
    "write_manifest",
]
