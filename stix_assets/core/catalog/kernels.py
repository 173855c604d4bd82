"""Store of extracted SOC kernel zips (table ``kernel_zips``, issue 4, sync).

SOC kernel zips extracted into the kernel store by `stix_assets.core.sync.extract_kernel_zips`
(replaces the old cron's ``processed_files.txt``). Writes may spool like every other write, so
the reader also counts pending manifests: a zip recorded while the catalog was locked is known.
"""

import json
from collections.abc import Sequence
from typing import Any

import duckdb

from stix_assets.core.catalog.base import OpHandler, WriteOutcome
from stix_assets.core.catalog.connection import CatalogFile

__all__ = [
    "HANDLERS",
    "KERNEL_ZIPS_SQL",
    "apply_kernel_zip",
    "extracted_kernel_zips",
    "record_kernel_zip",
]

KERNEL_ZIPS_SQL = """
CREATE TABLE IF NOT EXISTS kernel_zips (
    name VARCHAR PRIMARY KEY,     -- zip file name (solo_ANC*20*zip)
    size BIGINT NOT NULL,         -- size and mtime identify the delivery (rsync keeps the mtime)
    mtime_ns BIGINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    n_files INTEGER NOT NULL,
    files VARCHAR[],              -- kernel files written, relative to the kernel root
    extracted_at TIMESTAMP NOT NULL,
    run_id VARCHAR
);
"""


def record_kernel_zip(
    catalog: CatalogFile,
    *,
    name: str,
    size: int,
    mtime_ns: int,
    sha256: str,
    files: Sequence[str],
    run_id: str | None = None,
) -> WriteOutcome:
    """Record one extracted kernel zip (a later record of the same name replaces it)."""
    row = {
        "name": name,
        "size": int(size),
        "mtime_ns": int(mtime_ns),
        "sha256": sha256,
        "files": [str(f) for f in files],
        "run_id": run_id,
    }
    return catalog._write([{"op": "kernel_zip", "row": row}])


def extracted_kernel_zips(catalog: CatalogFile) -> dict[str, tuple[int, int]]:
    """``{zip name: (size, mtime_ns)}`` of every extracted zip, pending spool records included.

    Raises
    ------
    CatalogBusyError
        If the catalog stays locked for longer than ``read_timeout_s``.
    """

    def query(c: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
        try:
            rows = c.execute("SELECT name, size, mtime_ns FROM kernel_zips").fetchall()
        except duckdb.CatalogException:
            return {}
        return {name: (int(size), int(mtime)) for name, size, mtime in rows}

    known = catalog._read(query)
    for manifest in catalog.pending_manifests():
        try:
            ops = json.loads(manifest.read_text("utf-8")).get("ops", [])
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            continue
        for op in ops:
            if isinstance(op, dict) and op.get("op") == "kernel_zip":
                row = op["row"]
                known[row["name"]] = (int(row["size"]), int(row["mtime_ns"]))
    return known


def apply_kernel_zip(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``kernel_zip`` op (creates the table on first use)."""
    conn.execute(KERNEL_ZIPS_SQL)
    r = op["row"]
    conn.execute(
        "INSERT INTO kernel_zips VALUES (?, ?, ?, ?, ?, ?::VARCHAR[], ?::TIMESTAMP, ?)"
        " ON CONFLICT (name) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,"
        " sha256 = excluded.sha256, n_files = excluded.n_files, files = excluded.files,"
        " extracted_at = excluded.extracted_at, run_id = excluded.run_id",
        [
            r["name"],
            r["size"],
            r["mtime_ns"],
            r["sha256"],
            len(r["files"]),
            r["files"],
            op["at"],
            r["run_id"],
        ],
    )


HANDLERS: tuple[tuple[str, OpHandler], ...] = (("kernel_zip", apply_kernel_zip),)
"""The ops this store applies (collected by `stix_assets.core.catalog.registry`)."""
