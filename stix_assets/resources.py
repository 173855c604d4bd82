"""The one settings resource of the Dagster layer, and the core objects it builds.

Every field is optional. The value of a setting comes from, first found wins:

1. the resource config (``definitions.py``, the launchpad, ``RunConfig``);
2. the environment variable ``STIX_<FIELD>`` (``STIX_DATA_ROOT``, ``STIX_TM_SOURCE``, ...), read
   when the value is needed, i.e. at launch in the run or sensor process, never at import;
3. the TOML file named by ``config_file`` or ``STIX_CONFIG`` (``[paths] data_root = ...``);
4. the default, for most folders derived from the data root.

The fields, their TOML keys and defaults are listed in `stix_assets.core.config.FIELDS` and in
``docs/operations.md``; ``stix-assets config`` prints the effective values and their source. The
original fields keep their meaning:

=====================  =========================  =======================================
field                  environment variable       default
=====================  =========================  =======================================
``data_root``          ``STIX_DATA_ROOT``         ``./stix-data`` (made absolute)
``incoming_dir``       ``STIX_INCOMING_DIR``      ``<data_root>/incoming``
``archive_dir``        ``STIX_ARCHIVE_DIR``       ``<data_root>/archive``
``idb_dir``            ``STIX_IDB_DIR``           ``<data_root>/idb``
``catalog_path``       ``STIX_CATALOG_PATH``      ``<archive_dir>/stix_catalog.duckdb``
``catalog_url``        ``STIX_CATALOG_URL``       none (a ``postgresql://`` URL replaces the file)
``settle_time_s``      ``STIX_SETTLE_TIME_S``     30
``idb_force_version``  ``STIX_IDB_FORCE_VERSION`` none (IDB chosen by the version history)
=====================  =========================  =======================================

The catalog default matches ``stix-assets process``, so the CLI and the assets share one catalog
for one archive.
"""

import datetime as dt
import functools
import importlib.metadata
import logging
import os
from pathlib import Path

import dagster as dg

from stix_assets.core.catalog import Catalog, catalog_location
from stix_assets.core.config import FIELDS, Settings, load_settings
from stix_assets.core.idb import IdbStore
from stix_assets.core.levels import LevelContext, run_creation_time, stix_conf_tag
from stix_assets.core.spice import KernelStore
from stix_assets.core.tmtc.gates import PacketGates, gates_from_settings

__all__ = ["DEFAULT_DATA_ROOT", "DEFAULT_SETTLE_TIME_S", "StixSettings"]

logger = logging.getLogger(__name__)

DEFAULT_DATA_ROOT = "./stix-data"
DEFAULT_SETTLE_TIME_S = 30.0
CATALOG_NAME = "stix_catalog.duckdb"


def sensor_interval_s() -> int:
    """Seconds between ticks of the event-driven sensors (``[ingest] sensor_interval_s``).

    Read from the TOML file and the environment when the code location loads, because Dagster
    fixes a sensor's interval in its definition; at least 1 s.
    """
    return max(1, int(load_settings(config_file=None, env=os.environ).sensor_interval_s))


@functools.lru_cache(maxsize=8)
def _idb_store(root: Path, force_version: str | None, fallback_version: str) -> IdbStore:
    # one store per process and configuration: it caches the opened IDB databases
    logger.info("idb store opened root=%s force_version=%s", root, force_version)
    return IdbStore(root, force_version=force_version, fallback_version=fallback_version)


class StixSettings(dg.ConfigurableResource):
    """Folders, sources, delays and options of the pipeline (see the module docstring)."""

    config_file: str | None = None
    # paths
    data_root: str | None = None
    incoming_dir: str | None = None
    waiting_dir: str | None = None
    archive_dir: str | None = None
    idb_dir: str | None = None
    catalog_path: str | None = None
    catalog_url: str | None = None
    kernel_dir: str | None = None
    soc_dir: str | None = None
    stix_conf_dir: str | None = None
    lock_dir: str | None = None
    meta_kernel: str | None = None
    # sync
    tm_source: str | None = None
    soc_source: str | None = None
    stix_conf_remote: str | None = None
    mirror_target: str | None = None
    tm_stage_delay_s: float | None = None
    kernel_margin_s: float | None = None
    rsync_timeout_s: int | None = None
    ssh_options: str | None = None
    lock_wait_s: float | None = None
    # ingest
    settle_time_s: float | None = None
    idb_force_version: str | None = None
    idb_fallback_version: str | None = None
    # daily products
    sas_param_dir: str | None = None
    sas_calib_file: str | None = None

    def settings(self) -> Settings:
        """The effective settings (resource config > ``STIX_*`` environment > TOML > default)."""
        given = {f.name: getattr(self, f.name, None) for f in FIELDS}
        return load_settings(config_file=self.config_file, env=os.environ, overrides=given)

    def data_root_path(self) -> Path:
        """Return the data root, absolute."""
        return self.settings().data_root

    def incoming_path(self) -> Path:
        """Return the TM inbox: ``*PktTmRaw*.xml`` files stay here, named by their partition key."""
        return self.settings().incoming_dir

    def waiting_path(self) -> Path:
        """Return the waiting folder the TM sync fills (stage and delay before the inbox)."""
        return self.settings().waiting_dir

    def archive_root(self) -> Path:
        """Return the root of the product archive (``LB/``, ``L0/``, ... below it)."""
        return self.settings().archive_dir

    def idb_root(self) -> Path:
        """Return the folder with ``<version>/idb.sqlite`` and ``idbVersionHistory.json``."""
        return self.settings().idb_dir

    def catalog_file(self) -> Path:
        """Return the DuckDB catalog file (used unless `catalog_url` is set)."""
        return self.settings().catalog_path

    def catalog_location(self) -> str | Path:
        """Return the catalog: the ``catalog_url`` (PostgreSQL) if set, else the DuckDB file."""
        return catalog_location(self.settings())

    def has_catalog(self) -> bool:
        """Whether a catalog exists yet (a database always does; a DuckDB file once written)."""
        location = self.catalog_location()
        return isinstance(location, str) or location.is_file()

    def settle_time(self) -> float:
        """Return the seconds a TM file must be unchanged before the inbox sensor takes it."""
        return float(self.settings().settle_time_s)

    def force_version(self) -> str | None:
        """Return the IDB version forced for every packet, or ``None``."""
        return self.settings().idb_force_version

    def tm_path(self, name: str) -> Path:
        """Return the TM file of partition ``name`` (a bare file name, never a path)."""
        if Path(name).name != name:
            raise ValueError(f"TM partition key is not a bare file name: {name!r}")
        return self.incoming_path() / name

    def idb_store(self) -> IdbStore:
        """Return the IDB store, opened once per process for this configuration."""
        s = self.settings()
        return _idb_store(s.idb_dir, s.idb_force_version, s.idb_fallback_version)

    def packet_gates(self, now: dt.datetime | None = None) -> PacketGates:
        """Return the packet plausibility gates (``[ingest]`` settings) for ``now`` (default: now)."""
        return gates_from_settings(self.settings(), now=now or dt.datetime.now(dt.UTC))

    def kernel_store(self) -> KernelStore:
        """Return the SPICE kernel store (``ck fk ... spk`` below ``kernel_dir``)."""
        return KernelStore(self.settings().kernel_dir)

    def level_context(self, run_id: str) -> LevelContext:
        """The context `stix_assets.core.levels.build_level_day` needs, for one run."""
        s = self.settings()
        return LevelContext(
            archive_root=s.archive_dir,
            catalog=self.catalog(),
            store=self.idb_store(),
            created=run_creation_time(os.environ.get("SOURCE_DATE_EPOCH")),
            software_version=importlib.metadata.version("stix_assets"),
            conf_dir=s.stix_conf_dir,
            config_version=stix_conf_tag(s.stix_conf_dir),
            run_id=run_id,
            tm_path=self.tm_path,
            gates=self.packet_gates(),
        )

    def catalog(self) -> Catalog:
        """Open a catalog handle on `catalog_location` for `archive_root`.

        The folder of a DuckDB file is created; a URL opens the PostgreSQL catalog.
        """
        location = self.catalog_location()
        if not isinstance(location, str):
            location.parent.mkdir(parents=True, exist_ok=True)
        return Catalog(location, archive_root=self.archive_root())
