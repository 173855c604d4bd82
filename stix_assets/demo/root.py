"""Build the self-contained demo data root: IDB, SPICE kernels, simulated TM and a config file.

Layout under the root (everything relative, nothing downloaded)::

    .stix-demo                   marker (JSON: start, days, seed) so a rerun knows its own root
    stix-demo.toml               config: every path the pipeline needs
    incoming/                    SOC TM XML files (the TM inbox)
    idb/idbVersionHistory.json   all on-board time -> the demo IDB version
    idb/<version>/idb.sqlite     the demo IDB
    spice/kernels/{lsk,pck,fk,sclk,spk,mk}/...
    STIX-CONF/                   energy channels (detector/...), VERSION.TXT
    archive/                     output (FITS archive, catalog), empty at first

Rebuilding is idempotent: the same arguments give byte-identical files (seeded simulation, fixed
file order, no wall-clock time in any file) and files are replaced, never duplicated. A folder
that is not empty and has no marker is refused (`DemoRootError`); ``clean=True`` wipes a folder
only if it carries the marker.
"""

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from stix_assets.core.errors import StixError
from stix_assets.demo.conf import write_demo_conf
from stix_assets.demo.encoder import read_layouts
from stix_assets.demo.idb_writer import DEMO_IDB_VERSION, write_demo_history, write_demo_idb
from stix_assets.demo.kernels import write_kernels
from stix_assets.demo.simulator import SimConfig, simulate
from stix_assets.demo.telemetry import encode_packets, write_tm_files

__all__ = ["MARKER", "DemoRoot", "DemoRootError", "build_demo_root", "is_demo_root"]

logger = logging.getLogger(__name__)

MARKER = ".stix-demo"
CONFIG_NAME = "stix-demo.toml"
DEFAULT_SEED = 20240514


class DemoRootError(StixError, ValueError):
    """The target folder cannot be used as (or wiped as) a demo root."""


@dataclass(frozen=True, slots=True)
class DemoRoot:
    """What `build_demo_root` made; every path absolute."""

    root: Path
    config: Path
    incoming: Path
    idb_root: Path
    idb_version: str
    spice_kernels: Path
    meta_kernel: Path
    conf_dir: Path
    archive: Path
    tm_files: tuple[Path, ...]
    start: date
    days: int
    request_ids: tuple[int, ...]
    n_packets: int

    def as_metadata(self) -> dict[str, object]:
        """Plain values for logs and metadata."""
        return {
            "root": str(self.root),
            "config": str(self.config),
            "tm_files": len(self.tm_files),
            "packets": self.n_packets,
            "idb_version": self.idb_version,
            "meta_kernel": self.meta_kernel.name,
            "start": self.start.isoformat(),
            "days": self.days,
        }


def is_demo_root(root: Path) -> bool:
    """Tell whether ``root`` carries the demo marker file."""
    return (Path(root) / MARKER).is_file()


def _check_target(root: Path, clean: bool) -> None:
    if not root.exists():
        return
    if not root.is_dir():
        raise DemoRootError(f"demo root {root} exists and is not a folder")
    if is_demo_root(root):
        if clean:
            shutil.rmtree(root)
            logger.info("demo root wiped root=%s", root)
        return
    if any(root.iterdir()):
        raise DemoRootError(
            f"{root} is not empty and is not a stix-assets demo root (no {MARKER} marker); "
            "choose an empty or new folder"
        )


def _config_text(root: Path, mk: Path) -> str:
    rel = mk.relative_to(root).as_posix()
    return (
        "# stix-assets configuration of the demo data root (paths relative to this file)\n"
        "[paths]\n"
        'tm_inbox = "incoming"\n'
        'idb_root = "idb"\n'
        'spice_kernels = "spice/kernels"\n'
        f'meta_kernel = "{rel}"\n'
        'archive = "archive"\n'
        'catalog = "archive/stix_catalog.duckdb"\n\n'
        "[idb]\n"
        f'fallback_version = "{DEMO_IDB_VERSION}"\n'
    )


def _clear_stale_tm(incoming: Path, keep: list[Path]) -> None:
    """Remove earlier demo TM files a rebuild did not write again (other days or seed)."""
    for old in set(incoming.glob("*PktTmRaw*.xml")) - set(keep):
        old.unlink()


def build_demo_root(
    root: Path, *, start: date, days: int = 2, clean: bool = False, seed: int = DEFAULT_SEED
) -> DemoRoot:
    """Create (or refresh) the demo data root.

    Parameters
    ----------
    root : target folder (created if missing)
    start : first UTC day of the simulated data
    days : number of days (1 to 3 recommended)
    clean : wipe an existing demo root first (only one carrying the marker)
    seed : simulation seed; the same seed gives byte-identical files

    Returns
    -------
    `DemoRoot` with the paths written.

    Raises
    ------
    DemoRootError
        If ``root`` is a non-empty folder without the demo marker, or ``days < 1``.
    """
    root = Path(root).resolve()
    if days < 1:
        raise DemoRootError(f"days must be at least 1, got {days}")
    _check_target(root, clean)
    root.mkdir(parents=True, exist_ok=True)
    marker = {
        "kind": "stix-assets demo root",
        "start": start.isoformat(),
        "days": days,
        "seed": seed,
    }
    (root / MARKER).write_text(json.dumps(marker, indent=2) + "\n")

    idb_root = root / "idb"
    idb_file = write_demo_idb(idb_root / DEMO_IDB_VERSION / "idb.sqlite")
    write_demo_history(idb_root / "idbVersionHistory.json")
    for old_mk in (root / "spice" / "kernels" / "mk").glob("solo_ANC_soc-flown-mk_*.tm"):
        old_mk.unlink()  # a rebuild with other days must not leave a newer-dated MK behind
    kernels = write_kernels(
        root / "spice" / "kernels", start=start, end=start + timedelta(days=days - 1)
    )

    sim = simulate(SimConfig(start=start, days=days, seed=seed))
    encoded = encode_packets(sim.packets, read_layouts(idb_file))
    incoming = root / "incoming"
    tm_files = write_tm_files(encoded, incoming)
    _clear_stale_tm(incoming, tm_files)
    conf_dir = write_demo_conf(root / "STIX-CONF")
    archive = root / "archive"
    archive.mkdir(exist_ok=True)
    config = root / CONFIG_NAME
    config.write_text(_config_text(root, kernels.mk))
    logger.info("demo root built root=%s files=%d packets=%d", root, len(tm_files), len(encoded))
    return DemoRoot(
        root=root,
        config=config,
        incoming=incoming,
        idb_root=idb_root,
        idb_version=DEMO_IDB_VERSION,
        spice_kernels=kernels.root,
        meta_kernel=kernels.mk,
        conf_dir=conf_dir,
        archive=archive,
        tm_files=tuple(tm_files),
        start=start,
        days=days,
        request_ids=sim.request_ids,
        n_packets=len(encoded),
    )
