"""The one settings resource of the Dagster layer, and the core objects it builds.

Every field is optional. A value given in the resource config (``definitions.py``, the launchpad,
``RunConfig``) wins; otherwise the matching environment variable is read when the value is first
needed, i.e. at launch in the run or sensor process, never at import; otherwise a default derived
from the data root is used.

=====================  =========================  =======================================
field                  environment variable       default
=====================  =========================  =======================================
``data_root``          ``STIX_DATA_ROOT``         ``./stix-data`` (made absolute)
``incoming_dir``       ``STIX_INCOMING_DIR``      ``<data_root>/incoming``
``archive_dir``        ``STIX_ARCHIVE_DIR``       ``<data_root>/archive``
``idb_dir``            ``STIX_IDB_DIR``           ``<data_root>/idb``
``catalog_path``       ``STIX_CATALOG_PATH``      ``<archive_dir>/stix_catalog.duckdb``
``settle_time_s``      ``STIX_SETTLE_TIME_S``     30
``idb_force_version``  ``STIX_IDB_FORCE_VERSION`` none (IDB chosen by the version history)
=====================  =========================  =======================================

The catalog default matches ``stix-assets process``, so the CLI and the assets share one catalog
for one archive.
"""

import functools
import logging
import os
from pathlib import Path

import dagster as dg

from stix_assets.core.catalog import Catalog
from stix_assets.core.idb import IdbStore

__all__ = ["DEFAULT_DATA_ROOT", "DEFAULT_SETTLE_TIME_S", "StixSettings"]

logger = logging.getLogger(__name__)

DEFAULT_DATA_ROOT = "./stix-data"
DEFAULT_SETTLE_TIME_S = 30.0
CATALOG_NAME = "stix_catalog.duckdb"


@functools.lru_cache(maxsize=8)
def _idb_store(root: Path, force_version: str | None) -> IdbStore:
    # one store per process and configuration: it caches the opened IDB databases
    logger.info("idb store opened root=%s force_version=%s", root, force_version)
    return IdbStore(root, force_version=force_version)


class StixSettings(dg.ConfigurableResource):
    """Folders and options of the STIX ingest path (see the module docstring for defaults)."""

    data_root: str | None = None
    incoming_dir: str | None = None
    archive_dir: str | None = None
    idb_dir: str | None = None
    catalog_path: str | None = None
    settle_time_s: float | None = None
    idb_force_version: str | None = None

    def _value(self, field: str) -> str | None:
        given = getattr(self, field)
        if given is not None:
            return str(given)
        return os.environ.get(f"STIX_{field.upper()}") or None

    def _path(self, field: str, default: Path) -> Path:
        value = self._value(field)
        return Path(value).expanduser().resolve() if value else default

    def data_root_path(self) -> Path:
        """Return the data root, absolute."""
        return self._path("data_root", Path(DEFAULT_DATA_ROOT).resolve())

    def incoming_path(self) -> Path:
        """Return the TM inbox: ``*PktTmRaw*.xml`` files stay here, named by their partition key."""
        return self._path("incoming_dir", self.data_root_path() / "incoming")

    def archive_root(self) -> Path:
        """Return the root of the product archive (``LB/``, ``L0/``, ... below it)."""
        return self._path("archive_dir", self.data_root_path() / "archive")

    def idb_root(self) -> Path:
        """Return the folder with ``<version>/idb.sqlite`` and ``idbVersionHistory.json``."""
        return self._path("idb_dir", self.data_root_path() / "idb")

    def catalog_file(self) -> Path:
        """Return the DuckDB catalog file."""
        return self._path("catalog_path", self.archive_root() / CATALOG_NAME)

    def settle_time(self) -> float:
        """Return the seconds a TM file must be unchanged before the inbox sensor takes it."""
        value = self._value("settle_time_s")
        return float(value) if value is not None else DEFAULT_SETTLE_TIME_S

    def force_version(self) -> str | None:
        """Return the IDB version forced for every packet, or ``None``."""
        return self._value("idb_force_version")

    def tm_path(self, name: str) -> Path:
        """Return the TM file of partition ``name`` (a bare file name, never a path)."""
        if Path(name).name != name:
            raise ValueError(f"TM partition key is not a bare file name: {name!r}")
        return self.incoming_path() / name

    def idb_store(self) -> IdbStore:
        """Return the IDB store, opened once per process for this configuration."""
        return _idb_store(self.idb_root(), self.force_version())

    def catalog(self) -> Catalog:
        """Open a catalog handle on `catalog_file` (the folder is created)."""
        path = self.catalog_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        return Catalog(path)
