"""Bring an older catalog file to the current schema (`SCHEMA_VERSION`), once.

Version 1 stored product paths as the writer typed them: absolute, or relative to its working
directory, so one archive processed from two working directories had two rows per file, half of
them pointing nowhere. Version 2 stores them relative to the archive root (`paths`). The
migration, in one transaction under the write lock:

* rewrites ``product_files.path`` and ``lb_inputs.lb_path`` with `ArchivePaths.legacy_key`;
* collapses the rows that now name the same file into one: for ``product_files`` the newest
  ``written_at`` wins (as for any write of a path), ``lb_inputs`` keeps the union with the
  earliest ``recorded_at``;
* makes relative TM file paths that name an existing file absolute;
* records ``schema_version = 2`` in ``catalog_meta``, so it never runs again.

Spool manifests of format 1 were written by version-1 code; `upgrade_manifest_ops` maps their
paths the same way before they are applied.
"""

import logging
from pathlib import Path
from typing import Any

import duckdb

from stix_assets.core.catalog.base import fetch_dicts, insert_rows
from stix_assets.core.catalog.paths import ArchivePaths, tm_path
from stix_assets.core.catalog.products import PRODUCT_COLUMNS, PRODUCT_UPSERT
from stix_assets.core.catalog.schema import SCHEMA_VERSION, schema_version, set_schema_version

__all__ = ["migrate", "upgrade_manifest_ops"]

logger = logging.getLogger(__name__)

_DELETE = "DELETE FROM {table} WHERE {column} IN (SELECT unnest(?::VARCHAR[]))"


def migrate(conn: duckdb.DuckDBPyConnection, archive: ArchivePaths) -> dict[str, int] | None:
    """Migrate the open catalog to `SCHEMA_VERSION` if it is older (the caller holds the lock).

    Returns
    -------
    dict or None
        Rows rewritten per table, or None if the catalog was current already.
    """
    if schema_version(conn) >= SCHEMA_VERSION:
        return None
    conn.execute("BEGIN TRANSACTION")
    try:
        keys: dict[str, str] = {}
        counts = {
            "product_files": _rekey_product_files(conn, archive, keys),
            "lb_inputs": _rekey_lb_inputs(conn, archive, keys),
            "tm_paths": _absolute_tm_paths(conn),
        }
        set_schema_version(conn, SCHEMA_VERSION)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    logger.info(
        "catalog migrated version=%d archive=%s product_files=%d lb_inputs=%d tm_paths=%d",
        SCHEMA_VERSION,
        archive.root,
        counts["product_files"],
        counts["lb_inputs"],
        counts["tm_paths"],
    )
    return counts


def _key(archive: ArchivePaths, stored: str, keys: dict[str, str]) -> str:
    if stored not in keys:
        keys[stored] = archive.legacy_key(stored)
    return keys[stored]


def _rekey_product_files(
    conn: duckdb.DuckDBPyConnection, archive: ArchivePaths, keys: dict[str, str]
) -> int:
    """Rewrite product paths; of the rows of one file the newest ``written_at`` is kept."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in fetch_dicts(conn.execute("SELECT * FROM product_files")):
        groups.setdefault(_key(archive, row["path"], keys), []).append(row)
    names = [c for c, _ in PRODUCT_COLUMNS]
    old, new = [], []
    for key, rows in groups.items():
        if len(rows) == 1 and rows[0]["path"] == key:
            continue
        best = max(rows, key=lambda r: (r["written_at"], r["path"] == key, r["path"]))
        old.extend(r["path"] for r in rows)
        new.append(tuple(key if c == "path" else best[c] for c in names))
    if old:
        conn.execute(_DELETE.format(table="product_files", column="path"), [old])
        insert_rows(conn, "product_files", PRODUCT_COLUMNS, new, PRODUCT_UPSERT)
    return len(old)


def _rekey_lb_inputs(
    conn: duckdb.DuckDBPyConnection, archive: ArchivePaths, keys: dict[str, str]
) -> int:
    """Rewrite LB paths of ``lb_inputs``; the union stays, with the earliest ``recorded_at``."""
    rows = conn.execute("SELECT lb_path, tm_name, recorded_at FROM lb_inputs").fetchall()
    changed = {p for p, _, _ in rows if _key(archive, p, keys) != p}
    if not changed:
        return 0
    merged: dict[tuple[str, str], Any] = {}
    for path, name, at in rows:
        if path in changed:
            pair = (keys[path], name)
            merged[pair] = min(at, merged.get(pair, at))
    conn.execute(_DELETE.format(table="lb_inputs", column="lb_path"), [sorted(changed)])
    insert_rows(
        conn,
        "lb_inputs",
        (("lb_path", ""), ("tm_name", ""), ("recorded_at", "TIMESTAMP")),
        [(path, name, at) for (path, name), at in merged.items()],
        "ON CONFLICT DO UPDATE SET recorded_at = least(recorded_at, excluded.recorded_at)",
    )
    return sum(1 for p, _, _ in rows if p in changed)


def _absolute_tm_paths(conn: duckdb.DuckDBPyConnection) -> int:
    """Make relative TM paths that name an existing file (from here) absolute."""
    n = 0
    for table in ("tm_file_versions", "tm_files"):
        stored = conn.execute(
            f"SELECT DISTINCT path FROM {table} WHERE path IS NOT NULL"
        ).fetchall()
        for (path,) in stored:
            if not Path(path).is_absolute() and Path(path).exists():
                conn.execute(f"UPDATE {table} SET path = ? WHERE path = ?", [tm_path(path), path])
                n += 1
    return n


def upgrade_manifest_ops(ops: list[Any], archive: ArchivePaths) -> list[Any]:
    """Return the ops of a format-1 spool manifest with their paths in the current form.

    Ops this function does not know, or that are malformed, are returned unchanged (applying
    them then fails and the manifest is set aside).
    """
    return [_upgrade_op(op, archive) if isinstance(op, dict) else op for op in ops]


def _upgrade_op(op: dict[str, Any], archive: ArchivePaths) -> dict[str, Any]:
    kind = op.get("op")
    if kind == "products" and isinstance(op.get("rows"), list):
        return {**op, "rows": [{**r, "path": archive.legacy_key(r["path"])} for r in op["rows"]]}
    if kind == "lb_inputs" and "pairs" in op:
        return {**op, "pairs": [[archive.legacy_key(p), n] for p, n in op["pairs"]]}
    if kind == "lb_inputs" and "lb_path" in op:
        return {**op, "lb_path": archive.legacy_key(op["lb_path"])}
    if kind == "tm_file" and op.get("path") and Path(op["path"]).exists():
        return {**op, "path": tm_path(op["path"])}
    return op
