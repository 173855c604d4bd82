"""Pieces every catalog module shares: the busy error, the outcome of a write, SQL helpers.

`CatalogBusyError` lives in `stix_assets.core.errors` with the other catalog errors and is
re-exported here.

An *op* is one JSON-able dict (``{"op": name, "at": iso time, ...}``); a write is a list of ops,
applied in one transaction directly or later from a spool manifest by an `OpHandler`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from stix_assets.core.errors import CatalogBusyError

__all__ = [
    "CHUNK_ROWS",
    "CatalogBusyError",
    "OpHandler",
    "WriteOutcome",
    "fetch_dicts",
    "insert_rows",
    "stamp_ops",
    "to_utc_naive",
    "utc_now_naive",
]

CHUNK_ROWS = 500
"""Rows per multi-row ``INSERT`` statement."""

OpHandler = Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], None]
"""Applies one op inside the caller's transaction."""


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What happened to one catalog write.

    Attributes
    ----------
    spooled : True if the lock could not be had and the write went to a spool manifest
    manifest : path of that manifest, else None
    ingested : number of older spool manifests this write ingested first
    waited_s : time spent waiting for the lock (s)
    """

    spooled: bool
    manifest: Path | None
    ingested: int
    waited_s: float

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            "catalog_spooled": self.spooled,
            "catalog_ingested_manifests": self.ingested,
            "catalog_wait_s": round(self.waited_s, 3),
        }


def stamp_ops(ops: Sequence[dict[str, Any]]) -> None:
    """Stamp every op of one write with the same time (the newest-wins guard of the upserts)."""
    at = utc_now_naive().isoformat()
    for op in ops:
        op["at"] = at


def utc_now_naive() -> datetime:
    """Return the current time as a naive UTC datetime (the catalog's timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_utc_naive(value: datetime) -> datetime:
    """Return ``value`` as naive UTC (a naive value is taken as UTC already)."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def fetch_dicts(result: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Return the rows of an executed query as dicts keyed by column name."""
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def insert_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    conflict: str,
) -> None:
    """Multi-row ``INSERT ... VALUES`` in chunks (far faster than executemany in DuckDB).

    Parameters
    ----------
    conn : open connection (inside the caller's transaction)
    table : table name
    columns : (column name, SQL cast or "") pairs, in the order of each row's values
    rows : the values
    conflict : the ``ON CONFLICT ...`` clause
    """
    names = ", ".join(c for c, _ in columns)
    one = "(" + ", ".join(f"?::{t}" if t else "?" for _, t in columns) + ")"
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))} {conflict}"
        conn.execute(sql, [v for row in chunk for v in row])
