"""Store of the SOAR delivery history (table ``publish_history``, issue 4).

The columns of STIXCore's ``published.sqlite`` plus the state of the delivery, the data version
and the lineage (`stix_assets.core.publish`). Publishing must never deliver without recording,
so these writes never spool: `write_publish_history` raises `CatalogBusyError` when the lock
cannot be had.
"""

from typing import Any

import duckdb

from stix_assets.core.catalog.base import OpHandler, fetch_dicts, insert_rows
from stix_assets.core.catalog.connection import CatalogFile

__all__ = [
    "HANDLERS",
    "PUBLISH_HISTORY_COLUMNS",
    "PUBLISH_HISTORY_SQL",
    "apply_publish_delete",
    "apply_publish_upsert",
    "read_publish_history",
    "write_publish_history",
]

PUBLISH_HISTORY_SQL = """
CREATE TABLE IF NOT EXISTS publish_history (
    id VARCHAR PRIMARY KEY,       -- uuid of the decision
    name VARCHAR NOT NULL,        -- file name as published (complete, maybe version-bumped)
    path VARCHAR NOT NULL,        -- directory of the source file
    version INTEGER NOT NULL,     -- version of the published name
    p_date DOUBLE PRECISION NOT NULL,  -- UNIX time of the decision
    m_date DOUBLE PRECISION NOT NULL,  -- source mtime (STIXCore: ctime)
    esaname VARCHAR NOT NULL,     -- first five name parts of the published name
    modified_esaname VARCHAR,     -- '-supN' name (+ .fits) if published as supplement
    result INTEGER,               -- 10 PUBLISHED 11 IGNORED 12 MODIFIED 13 BLACKLISTED 14 ERROR
                                  -- 15 REFUSED (failed checksum verification)
    state VARCHAR NOT NULL,       -- pending (transfer started) / done / removed (copy failed)
    reason VARCHAR,
    source_name VARCHAR NOT NULL, -- file name in the archive (maybe with U)
    source_size BIGINT,
    identity VARCHAR,             -- name without version/status: one product over its versions
    delivered_name VARCHAR,       -- name at the target (supplement name for MODIFIED)
    target VARCHAR,               -- host:dir written to
    data_version VARCHAR,         -- sha256 of the DATA HDU (FITS) or of the file (SVG)
    file_sha256 VARCHAR,          -- sha256 of the delivered bytes
    supersedes VARCHAR,           -- earlier delivered name of the same identity (lineage)
    inputs VARCHAR[],             -- product_files.inputs of the source, if known
    product_day DATE,
    run_id VARCHAR,
    recorded_at TIMESTAMP NOT NULL
);
"""

PUBLISH_HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", ""),
    ("name", ""),
    ("path", ""),
    ("version", "INTEGER"),
    ("p_date", "DOUBLE PRECISION"),
    ("m_date", "DOUBLE PRECISION"),
    ("esaname", ""),
    ("modified_esaname", "VARCHAR"),
    ("result", "INTEGER"),
    ("state", ""),
    ("reason", "VARCHAR"),
    ("source_name", ""),
    ("source_size", "BIGINT"),
    ("identity", "VARCHAR"),
    ("delivered_name", "VARCHAR"),
    ("target", "VARCHAR"),
    ("data_version", "VARCHAR"),
    ("file_sha256", "VARCHAR"),
    ("supersedes", "VARCHAR"),
    ("inputs", "VARCHAR[]"),
    ("product_day", "DATE"),
    ("run_id", "VARCHAR"),
    ("recorded_at", "TIMESTAMP"),
)


def write_publish_history(
    catalog: CatalogFile, ops: list[dict[str, Any]], *, timeout_s: float | None = None
) -> None:
    """Apply publish-history ops now, in one transaction, or raise (never spooled).

    Ops: ``{"op": "publish_upsert", "rows": [row, ...]}`` (rows keyed by ``id``, columns of
    `PUBLISH_HISTORY_COLUMNS` without ``recorded_at``) and ``{"op": "publish_delete", "ids": [...]}``.
    An empty list only creates the table.

    Raises
    ------
    CatalogBusyError
        If another process holds the catalog for longer than ``timeout_s`` (default
        ``lock_timeout_s``); nothing is written then.
    """
    catalog._write_now(
        ops,
        timeout_s=timeout_s,
        setup_sql=PUBLISH_HISTORY_SQL,
        busy_message="catalog locked by another process, publish history not written",
    )


def read_publish_history(catalog: CatalogFile) -> list[dict[str, Any]]:
    """Every publish-history row, oldest decision first (empty if the table does not exist yet).

    Raises
    ------
    CatalogBusyError
        If the catalog stays locked for longer than ``read_timeout_s``.
    """

    def query(c: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        try:
            return fetch_dicts(c.execute("SELECT * FROM publish_history ORDER BY p_date, id"))
        except duckdb.CatalogException:
            return []

    return catalog._read(query)


def apply_publish_upsert(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``publish_upsert`` op (rows keyed by ``id``; the last write wins)."""
    names = [c for c, _ in PUBLISH_HISTORY_COLUMNS]
    rows = [tuple({**r, "recorded_at": op["at"]}.get(c) for c in names) for r in op["rows"]]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    insert_rows(
        conn,
        "publish_history",
        PUBLISH_HISTORY_COLUMNS,
        rows,
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
    )


def apply_publish_delete(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``publish_delete`` op (rows by ``id``)."""
    for row_id in op["ids"]:
        conn.execute("DELETE FROM publish_history WHERE id = ?", [row_id])


HANDLERS: tuple[tuple[str, OpHandler], ...] = (
    ("publish_upsert", apply_publish_upsert),
    ("publish_delete", apply_publish_delete),
)
"""The ops this store applies (collected by `stix_assets.core.catalog.registry`)."""
