"""Write and read ``<archive>/manifest/``: ``products`` and ``cal_index``, as Parquet and JSON.

Both tables are written as JSON (a list of row objects) and as Parquet (by DuckDB's ``COPY``,
from that JSON with the declared column types), each file atomically (`atomic_path`): a reader
sees the old manifest or the new one. Writers take an exclusive ``flock`` on
``manifest/.lock`` and read the catalog only once they hold it, so when several runs end at once
the last manifest written reflects the catalog as the last run left it.
"""

import contextlib
import fcntl
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from stix_assets.core.atomic import atomic_path
from stix_assets.core.catalog import Catalog
from stix_assets.core.catalog.attach import memory_cursor
from stix_assets.core.manifest.cal_index import CAL_INDEX_COLUMNS, cal_entries
from stix_assets.core.manifest.products import MANIFEST_COLUMNS, manifest_rows
from stix_assets.core.steps import timed

__all__ = [
    "MANIFEST_DIR",
    "ManifestResult",
    "manifest_dir",
    "read_cal_index",
    "read_manifest",
    "write_manifest",
]

logger = logging.getLogger(__name__)

MANIFEST_DIR = "manifest"
"""Folder of the manifest below the archive root."""


@dataclass(frozen=True, slots=True)
class ManifestResult:
    """What `write_manifest` wrote.

    Attributes
    ----------
    folder : the manifest folder
    n_products : rows of ``products``
    n_cal : rows of ``cal_index``
    n_headers_read : product files whose header was read (the rest came from the last manifest)
    """

    folder: Path
    n_products: int
    n_cal: int
    n_headers_read: int

    def as_metadata(self) -> dict[str, object]:
        """Plain values (CLI ``--json``, asset metadata)."""
        return {
            "manifest": str(self.folder),
            "products": self.n_products,
            "cal_files": self.n_cal,
            "headers_read": self.n_headers_read,
        }


def manifest_dir(archive_root: Path | str) -> Path:
    """``<archive_root>/manifest``."""
    return Path(archive_root) / MANIFEST_DIR


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _write_json(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump([{k: _json_value(v) for k, v in r.items()} for r in rows], fh, indent=1)
            fh.write("\n")
        tmp.chmod(0o644)  # a manifest is for readers (mkstemp makes 0600)


def _write_parquet(path: Path, json_file: Path, columns: Sequence[tuple[str, str]]) -> None:
    spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns) + "}"
    select = ", ".join(name for name, _ in columns)
    with atomic_path(path) as tmp, memory_cursor() as conn:
        # an empty JSON list gives no rows, but still the declared columns
        conn.execute(
            f"COPY (SELECT {select} FROM read_json(?, format='array', columns={spec})) "
            f"TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)",
            [str(json_file)],
        )


def _read_table(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with memory_cursor() as conn:
        cur = conn.execute("SELECT * FROM read_parquet(?)", [str(path)])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def read_manifest(archive_root: Path | str) -> list[dict[str, Any]]:
    """Rows of ``manifest/products.parquet`` (empty when there is none yet)."""
    return _read_table(manifest_dir(archive_root) / "products.parquet")


def read_cal_index(archive_root: Path | str) -> list[dict[str, Any]]:
    """Rows of ``manifest/cal_index.parquet`` (empty when there is none yet)."""
    return _read_table(manifest_dir(archive_root) / "cal_index.parquet")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _by_path_sha(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(r["path"], r["sha256"]): r for r in rows}


@timed("manifest")
def write_manifest(catalog: Catalog) -> ManifestResult:
    """Rebuild ``<archive>/manifest/`` from the catalog (and the files' headers).

    Parameters
    ----------
    catalog : the archive's catalog; the manifest goes below ``catalog.archive_root``

    Returns
    -------
    ManifestResult

    Raises
    ------
    CatalogBusyError
        If the catalog stays locked by a writer for longer than its ``read_timeout_s``.
    """
    folder = manifest_dir(catalog.archive_root)
    with _locked(folder):
        old = _by_path_sha(read_manifest(catalog.archive_root))
        old_cal = _by_path_sha(read_cal_index(catalog.archive_root))
        rows = manifest_rows(catalog, previous=old)
        cal = cal_entries(rows, catalog.archive_root, previous=old_cal)
        for name, table, columns in (
            ("products", rows, MANIFEST_COLUMNS),
            ("cal_index", cal, CAL_INDEX_COLUMNS),
        ):
            _write_json(folder / f"{name}.json", table)
            _write_parquet(folder / f"{name}.parquet", folder / f"{name}.json", columns)
    n_read = sum(1 for r in rows if (r["path"], r["sha256"]) not in old)
    logger.info("manifest written folder=%s products=%d cal=%d", folder, len(rows), len(cal))
    return ManifestResult(folder, len(rows), len(cal), n_read)
