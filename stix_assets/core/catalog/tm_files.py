"""Store of TM/TC files (tables ``tm_file_versions``, ``tm_files``, ``tm_file_days``).

``tm_file_versions`` holds every (name, sha256) seen; ``tm_files`` is derived from it (the
content seen last under each name); ``tm_file_days`` is the union of the (product, SCET day)
pairs each file touched.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from stix_assets.core.catalog.base import OpHandler, fetch_dicts, insert_rows
from stix_assets.core.catalog.paths import tm_path
from stix_assets.core.catalog.quarantine import quarantine_op
from stix_assets.core.tmtc import QuarantinedPacket, TMFile

__all__ = [
    "HANDLERS",
    "KNOWN_STATUSES",
    "TM_STATUSES",
    "apply_forget_tm_files",
    "apply_tm_days",
    "apply_tm_file",
    "days_op",
    "forget_tm_files_op",
    "is_known_tm",
    "tm_file_ops",
    "tm_file_row",
    "tm_file_version_rows",
    "tm_paths_for_day",
    "touched_products",
]

TM_STATUSES = ("indexed", "failed", "duplicate", "incomplete")
KNOWN_STATUSES = ("indexed", "incomplete")  # contents that need no new indexing

_VERSION_UPSERT = """
INSERT INTO tm_file_versions (name, sha256, path, size, kind, status, error, n_packets, n_quarantined,
    packets_by_kind, scet_coarse_min, scet_coarse_max, first_seen, last_seen, last_indexed)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP, ?::TIMESTAMP, ?::TIMESTAMP)
ON CONFLICT (name, sha256) DO UPDATE SET path = excluded.path, size = excluded.size,
    kind = excluded.kind, status = excluded.status, error = excluded.error,
    n_packets = excluded.n_packets, n_quarantined = excluded.n_quarantined,
    packets_by_kind = excluded.packets_by_kind, scet_coarse_min = excluded.scet_coarse_min,
    scet_coarse_max = excluded.scet_coarse_max, last_indexed = excluded.last_indexed
WHERE excluded.last_indexed >= tm_file_versions.last_indexed
"""

_VERSION_SEEN = """
UPDATE tm_file_versions SET first_seen = least(first_seen, ?::TIMESTAMP),
    last_seen = greatest(last_seen, ?::TIMESTAMP)
WHERE name = ? AND sha256 = ?
"""

# the current content of a name is the one seen last; tm_files is recomputed from the versions
_FILE_COLUMNS = (
    "name, path, size, sha256, kind, content_version, n_versions, status, error, n_packets,"
    " n_quarantined, packets_by_kind, scet_coarse_min, scet_coarse_max, first_seen, last_seen,"
    " last_indexed"
)
_FILE_UPDATES = ", ".join(
    f"{c} = excluded.{c}" for c in _FILE_COLUMNS.replace(" ", "").split(",")[1:]
)
_FILE_REFRESH = f"""
INSERT INTO tm_files ({_FILE_COLUMNS})
SELECT name, path, size, sha256, kind, content_version, n_versions, status, error, n_packets,
    n_quarantined, packets_by_kind, scet_coarse_min, scet_coarse_max, first_seen_all, last_seen,
    last_indexed
FROM (
    SELECT v.*,
        count(*) OVER (ORDER BY v.first_seen RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            AS content_version,
        count(*) OVER () AS n_versions,
        min(v.first_seen) OVER () AS first_seen_all,
        row_number() OVER (ORDER BY v.last_seen DESC, v.sha256) AS pick
    FROM tm_file_versions v WHERE v.name = ?
) AS latest WHERE pick = 1
ON CONFLICT (name) DO UPDATE SET {_FILE_UPDATES}
"""
"""One pass of window functions over the name's versions (half the time of correlated
subqueries in DuckDB): content version = versions first seen no later than this one."""

# ---------------------------------------------------------------------- ops


def tm_file_ops(
    tm: TMFile,
    *,
    status: str,
    packets_by_kind: Mapping[str, int] | None = None,
    scet_span: tuple[int, int] | None = None,
    n_packets: int = 0,
    quarantined: Sequence[QuarantinedPacket] = (),
    error: str | None = None,
    days_by_product: Mapping[str, Iterable[date]] | None = None,
) -> list[dict[str, Any]]:
    """Return the ops recording one TM/TC file, its quarantine and its days.

    The file's path is stored absolute and resolved (`stix_assets.core.catalog.paths.tm_path`).

    Raises
    ------
    ValueError
        If ``status`` is not one of `TM_STATUSES`.
    """
    if status not in TM_STATUSES:
        raise ValueError(f"status must be one of {TM_STATUSES}, got {status!r}")
    span = scet_span or (None, None)
    ops: list[dict[str, Any]] = [
        {
            "op": "tm_file",
            "name": tm.name,
            "sha256": tm.sha256,
            "path": tm_path(tm.path),
            "size": int(tm.size),
            "kind": tm.kind,
            "status": status,
            "error": error,
            "n_packets": int(n_packets),
            "n_quarantined": len(quarantined),
            "packets_by_kind": {str(k): int(v) for k, v in (packets_by_kind or {}).items()},
            "scet_coarse_min": None if span[0] is None else int(span[0]),
            "scet_coarse_max": None if span[1] is None else int(span[1]),
        }
    ]
    if quarantined:
        ops.append(quarantine_op(quarantined))
    if days_by_product:
        ops.append(days_op(tm.name, days_by_product))
    return ops


def days_op(tm_name: str, days_by_product: Mapping[str, Iterable[date]]) -> dict[str, Any]:
    """Return the op recording which (product, SCET day) a TM file touched."""
    days = {str(p): sorted({d.isoformat() for d in ds}) for p, ds in days_by_product.items()}
    return {"op": "tm_days", "tm_name": tm_name, "days": days}


def apply_tm_file(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``tm_file`` op: upsert the version, widen its seen times, refresh ``tm_files``."""
    at, name, sha = op["at"], op["name"], op["sha256"]
    exists = conn.execute(
        "SELECT count(*) FROM tm_file_versions WHERE name = ? AND sha256 = ?", [name, sha]
    ).fetchone()[0]
    if not (op["status"] == "duplicate" and exists):
        values = [op[k] for k in ("path", "size", "kind", "status", "error", "n_packets")]
        conn.execute(
            _VERSION_UPSERT,
            [
                name,
                sha,
                *values,
                op["n_quarantined"],
                json.dumps(op["packets_by_kind"], sort_keys=True),
                op["scet_coarse_min"],
                op["scet_coarse_max"],
                at,
                at,
                at,
            ],
        )
    conn.execute(_VERSION_SEEN, [at, at, name, sha])
    conn.execute(_FILE_REFRESH, [name])


def apply_tm_days(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``tm_days`` op (a union with what is known; the first ``recorded_at`` is kept)."""
    rows = [
        (op["tm_name"], product, d, op["at"]) for product, days in op["days"].items() for d in days
    ]
    insert_rows(
        conn,
        "tm_file_days",
        [("tm_name", ""), ("product", ""), ("scet_day", "DATE"), ("recorded_at", "TIMESTAMP")],
        rows,
        "ON CONFLICT (tm_name, product, scet_day) DO UPDATE"
        " SET recorded_at = least(tm_file_days.recorded_at, excluded.recorded_at)",
    )


def forget_tm_files_op() -> dict[str, Any]:
    """Return the op forgetting every TM file, its versions, days and quarantined packets."""
    return {"op": "forget_tm_files"}


def apply_forget_tm_files(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``forget_tm_files`` op: what was recorded up to the op's time goes."""
    at = op["at"]
    conn.execute("DELETE FROM tm_file_days WHERE recorded_at <= ?::TIMESTAMP", [at])
    conn.execute("DELETE FROM quarantine WHERE recorded_at <= ?::TIMESTAMP", [at])
    conn.execute("DELETE FROM tm_file_versions WHERE last_seen <= ?::TIMESTAMP", [at])
    conn.execute("DELETE FROM tm_files WHERE name NOT IN (SELECT name FROM tm_file_versions)")


HANDLERS: tuple[tuple[str, OpHandler], ...] = (
    ("tm_file", apply_tm_file),
    ("tm_days", apply_tm_days),
    ("forget_tm_files", apply_forget_tm_files),
)
"""The ops this store applies (collected by `stix_assets.core.catalog.registry`)."""

# ---------------------------------------------------------------------- queries


def is_known_tm(conn: duckdb.DuckDBPyConnection, name: str, sha256: str) -> bool:
    """Tell whether this exact content of ``name`` was indexed (status in `KNOWN_STATUSES`)."""
    sql = (
        "SELECT count(*) FROM tm_file_versions WHERE name = ? AND sha256 = ?"
        " AND status = ANY(?::VARCHAR[])"
    )
    return conn.execute(sql, [name, sha256, list(KNOWN_STATUSES)]).fetchone()[0] > 0


def tm_file_row(conn: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    """Return the current ``tm_files`` row of ``name`` (``packets_by_kind`` as a dict), or None."""
    rows = fetch_dicts(conn.execute("SELECT * FROM tm_files WHERE name = ?", [name]))
    if not rows:
        return None
    row = rows[0]
    row["packets_by_kind"] = json.loads(row["packets_by_kind"] or "{}")
    return row


def tm_file_version_rows(conn: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    """Every content version seen under ``name``, oldest first."""
    sql = "SELECT * FROM tm_file_versions WHERE name = ? ORDER BY first_seen, sha256"
    return fetch_dicts(conn.execute(sql, [name]))


def tm_paths_for_day(
    conn: duckdb.DuckDBPyConnection, scet_day: date, products: Iterable[str] | None
) -> list[tuple[str, Path | None]]:
    """(name, current path) of the TM files that touched ``scet_day``, sorted by name."""
    sql = (
        "SELECT DISTINCT d.tm_name, f.path FROM tm_file_days d LEFT JOIN tm_files f"
        " ON f.name = d.tm_name WHERE d.scet_day = ?"
    )
    params: list[Any] = [scet_day]
    if products is not None:
        sql += " AND d.product = ANY(?::VARCHAR[])"
        params.append(list(products))
    rows = conn.execute(sql + " ORDER BY d.tm_name", params).fetchall()
    return [(name, Path(p) if p else None) for name, p in rows]


def touched_products(conn: duckdb.DuckDBPyConnection, scet_day: date) -> set[str]:
    """Products that the indexed TM files touched on a SCET day."""
    sql = "SELECT DISTINCT product FROM tm_file_days WHERE scet_day = ?"
    return {r[0] for r in conn.execute(sql, [scet_day]).fetchall()}
