"""The IDB (instrument database): versions, packet layouts and parameter decoding.

Calibration (`stix_assets.core.idb.calibration`) is imported from its module: it needs astropy's
units, which the LB route does not load.
"""

from stix_assets.core.idb.decode import decode_batch, decode_parameters
from stix_assets.core.idb.history import VersionHistory, read_version_history
from stix_assets.core.idb.layout import Layout, compile_layout
from stix_assets.core.idb.model import Idb
from stix_assets.core.idb.rows import PacketType, ParameterDef
from stix_assets.core.idb.store import IdbStore, VersionResolution
from stix_assets.core.idb.table import ParameterTable

__all__ = [
    "Idb",
    "IdbStore",
    "Layout",
    "PacketType",
    "ParameterDef",
    "ParameterTable",
    "VersionHistory",
    "VersionResolution",
    "compile_layout",
    "decode_batch",
    "decode_parameters",
    "read_version_history",
]
