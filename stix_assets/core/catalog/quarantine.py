"""Store of quarantined packets (table ``quarantine``): ops, their handler and the query."""

from collections.abc import Sequence
from typing import Any

import duckdb

from stix_assets.core.catalog.base import OpHandler, fetch_dicts, insert_rows
from stix_assets.core.tmtc import QuarantinedPacket

__all__ = ["HANDLERS", "apply_quarantine", "quarantine_op", "quarantined_rows"]

_COLUMNS = (
    ("file", ""),
    ("packet_index", "BIGINT"),
    ("reason", ""),
    ("packet_id", "BIGINT"),
    ("spid", "BIGINT"),
    ("hex_prefix", "VARCHAR"),
    ("recorded_at", "TIMESTAMP"),
)


def quarantine_op(items: Sequence[QuarantinedPacket]) -> dict[str, Any]:
    """Return the op recording quarantined packets (``packet_index`` -1 for the whole file)."""
    rows = [
        {
            "file": q.file,
            "packet_index": -1 if q.packet_index is None else int(q.packet_index),
            "reason": q.reason,
            "packet_id": None if q.packet_id is None else int(q.packet_id),
            "spid": None if q.spid is None else int(q.spid),
            "hex_prefix": q.hex_prefix or None,
        }
        for q in items
    ]
    return {"op": "quarantine", "rows": rows}


def apply_quarantine(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``quarantine`` op (de-duplicated on file, packet index and reason)."""
    keyed = {(r["file"], r["packet_index"], r["reason"]): r for r in op["rows"]}
    names = [c for c, _ in _COLUMNS[:-1]]
    rows = [(*(r[c] for c in names), op["at"]) for r in keyed.values()]
    insert_rows(
        conn,
        "quarantine",
        _COLUMNS,
        rows,
        "ON CONFLICT (file, packet_index, reason) DO UPDATE"
        " SET recorded_at = least(quarantine.recorded_at, excluded.recorded_at)",
    )


def quarantined_rows(conn: duckdb.DuckDBPyConnection, file: str | None) -> list[dict[str, Any]]:
    """Quarantined packets (of one file), ``packet_index`` None for whole-file problems."""
    sql = "SELECT file, packet_index, packet_id, spid, reason, hex_prefix, recorded_at FROM quarantine"
    params: list[Any] = []
    if file is not None:
        sql += " WHERE file = ?"
        params.append(file)
    rows = fetch_dicts(conn.execute(sql + " ORDER BY file, packet_index, reason", params))
    for row in rows:
        if row["packet_index"] < 0:
            row["packet_index"] = None
    return rows


HANDLERS: tuple[tuple[str, OpHandler], ...] = (("quarantine", apply_quarantine),)
"""The ops this store applies (collected by `stix_assets.core.catalog.registry`)."""
