"""Store of product files (tables ``product_files`` and ``lb_inputs``).

``product_files`` has one row per file (key ``path``); the newest ``written_at`` of a path wins,
so a late spool manifest never overwrites a newer write. ``lb_inputs`` is the union of the TM
files that fed each LB file (LB files are merged, never shrunk).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from stix_assets.core.catalog.base import OpHandler, fetch_dicts, insert_rows, to_utc_naive
from stix_assets.core.catalog.paths import ArchivePaths

__all__ = [
    "HANDLERS",
    "PRODUCT_COLUMNS",
    "PRODUCT_UPSERT",
    "ProductFileRecord",
    "apply_forget_levels",
    "apply_lb_inputs",
    "apply_products",
    "days_needing_reprocessing",
    "forget_levels_op",
    "lb_inputs_op",
    "lb_tm_inputs",
    "partition_rows",
    "product_file_row",
    "products_op",
    "request_rows",
]


@dataclass(frozen=True, slots=True)
class ProductFileRecord:
    """One written product file, as `Catalog.record_products` stores it.

    Attributes
    ----------
    path : the FITS file
    level : "LB", "L0", "L1", ...
    product : product key (`stix_assets.core.products.registry.ProductSpec.key`)
    partition_day : the partition key date: SCET day for LB/L0, UTC day for L1+ (None per request)
    version : processing version (the ``V02`` in the file name)
    sha256 : of the file bytes
    written_at : when the file was written (naive = UTC); the newest write of a path wins
    size : file size (bytes)
    n_rows : packets (LB) or data rows (L0+)
    inputs : names of the input files (TM files for LB, product files above)
    request_id : BSD request id, else None
    run_id : Dagster run id, if any
    data_version : Dagster data version, default the sha256
    needs_reprocessing : made with kernels that do not cover it (predicted orbit, extrapolated
        clock, ``SPICE_ER``): better kernels will change it
    """

    path: Path
    level: str
    product: str
    partition_day: date | None
    version: int
    sha256: str
    written_at: datetime
    size: int = 0
    n_rows: int = 0
    inputs: tuple[str, ...] = ()
    request_id: int | None = None
    run_id: str | None = None
    data_version: str | None = None
    needs_reprocessing: bool = False


PRODUCT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", ""),
    ("level", ""),
    ("product", ""),
    ("partition_day", "DATE"),
    ("request_id", "BIGINT"),
    ("version", "INTEGER"),
    ("sha256", ""),
    ("size", "BIGINT"),
    ("n_rows", "BIGINT"),
    ("inputs", "VARCHAR[]"),
    ("written_at", "TIMESTAMP"),
    ("run_id", "VARCHAR"),
    ("data_version", "VARCHAR"),
    ("needs_reprocessing", "BOOLEAN"),
)
"""Columns of ``product_files`` with their SQL casts, in table order."""

_UPDATES = ", ".join(f"{c} = excluded.{c}" for c, _ in PRODUCT_COLUMNS[1:])
PRODUCT_UPSERT = (
    f"ON CONFLICT (path) DO UPDATE SET {_UPDATES}"
    " WHERE excluded.written_at >= product_files.written_at"
)
"""Conflict clause of an insert into ``product_files``: the newest ``written_at`` of a path wins."""

_LB_INPUT_COLUMNS = (("lb_path", ""), ("tm_name", ""), ("recorded_at", "TIMESTAMP"))

_PARTITION_SQL = """
WITH wanted (on_day) AS (SELECT unnest(?::DATE[])),
candidates AS (
    SELECT product, path, partition_day, inputs FROM product_files
    WHERE level = ? AND (product = ANY(?::VARCHAR[]) OR ?::VARCHAR[] IS NULL)
)
SELECT w.on_day, p.product, p.path FROM candidates p JOIN wanted w ON p.partition_day = w.on_day
UNION
SELECT w.on_day, p.product, p.path FROM candidates p CROSS JOIN wanted w
WHERE p.partition_day IS NULL AND (
    EXISTS (SELECT 1 FROM tm_file_days d WHERE d.scet_day = w.on_day AND d.product = p.product
            AND d.tm_name = ANY(p.inputs))
    OR EXISTS (SELECT 1 FROM product_files q JOIN tm_file_days d
               ON d.product = q.product AND d.tm_name = ANY(q.inputs)
               WHERE q.level = 'LB' AND q.product = p.product AND d.scet_day = w.on_day
               AND regexp_replace(q.path, '^.*/', '') = ANY(p.inputs))
)
ORDER BY 1, 2, 3
"""

# ---------------------------------------------------------------------- ops


def products_op(records: Sequence[ProductFileRecord], archive: ArchivePaths) -> dict[str, Any]:
    """Return the op recording written product files (paths in their stored form)."""
    rows = []
    for rec in records:
        row = asdict(rec)
        row["path"] = archive.key(rec.path)
        row["partition_day"] = rec.partition_day.isoformat() if rec.partition_day else None
        row["inputs"] = [str(i) for i in rec.inputs]
        row["written_at"] = to_utc_naive(rec.written_at).isoformat()
        row["data_version"] = rec.data_version or rec.sha256
        rows.append(row)
    return {"op": "products", "rows": rows}


def lb_inputs_op(
    inputs: Mapping[Path | str, Iterable[str]], archive: ArchivePaths
) -> dict[str, Any]:
    """Return the op recording which TM files fed which LB files (paths in their stored form)."""
    pairs = sorted({(archive.key(path), name) for path, names in inputs.items() for name in names})
    return {"op": "lb_inputs", "pairs": [list(p) for p in pairs]}


def apply_products(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``products`` op: upsert by path, the newest ``written_at`` wins."""
    newest: dict[str, dict[str, Any]] = {}
    for row in op["rows"]:  # one row per path per statement (DuckDB cannot update a row twice)
        if row["path"] not in newest or row["written_at"] >= newest[row["path"]]["written_at"]:
            newest[row["path"]] = row
    names = [c for c, _ in PRODUCT_COLUMNS]
    rows = [tuple(r.get(c) for c in names) for r in newest.values()]
    insert_rows(conn, "product_files", PRODUCT_COLUMNS, rows, PRODUCT_UPSERT)


def apply_lb_inputs(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply an ``lb_inputs`` op (a union; the first ``recorded_at`` is kept).

    The op holds one LB file (``lb_path`` + ``tm_names``, older manifests) or many (``pairs`` of
    [lb_path, tm_name]).
    """
    pairs = op.get("pairs") or [(op["lb_path"], name) for name in op["tm_names"]]
    rows = [(lb_path, name, op["at"]) for lb_path, name in pairs]
    insert_rows(
        conn,
        "lb_inputs",
        _LB_INPUT_COLUMNS,
        rows,
        "ON CONFLICT (lb_path, tm_name) DO UPDATE"
        " SET recorded_at = least(lb_inputs.recorded_at, excluded.recorded_at)",
    )


def forget_levels_op(levels: Iterable[str]) -> dict[str, Any]:
    """Return the op forgetting every product file of ``levels`` (the folders were removed)."""
    return {"op": "forget_levels", "levels": sorted({lvl.upper() for lvl in levels})}


def apply_forget_levels(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    """Apply a ``forget_levels`` op: the rows written up to the op's time go.

    A spooled op replayed late never removes a file recorded after it.
    """
    levels, at = op["levels"], op["at"]
    if "LB" in levels:
        conn.execute(
            "DELETE FROM lb_inputs WHERE recorded_at <= ?::TIMESTAMP AND lb_path IN"
            " (SELECT path FROM product_files WHERE level = 'LB' AND written_at <= ?::TIMESTAMP)",
            [at, at],
        )
    conn.execute(
        "DELETE FROM product_files WHERE level = ANY(?::VARCHAR[]) AND written_at <= ?::TIMESTAMP",
        [levels, at],
    )


HANDLERS: tuple[tuple[str, OpHandler], ...] = (
    ("products", apply_products),
    ("lb_inputs", apply_lb_inputs),
    ("forget_levels", apply_forget_levels),
)
"""The ops this store applies (collected by `stix_assets.core.catalog.registry`)."""

# ---------------------------------------------------------------------- queries


def partition_rows(
    conn: duckdb.DuckDBPyConnection,
    level: str,
    partition_days: Iterable[date],
    products: Iterable[str] | None,
) -> dict[date, list[tuple[str, str]]]:
    """Partition day -> (product, stored path) of the files of a level's partition, sorted.

    Daily files match on ``partition_day``. Per-request (BSD) files without one belong to the
    day when a TM file that touched that day for the product is among their inputs (LB), or
    among the inputs of an LB file they were made from (L0 and later). One query for all days
    (a query costs milliseconds of planning; a level-day asks for up to three days).
    """
    days = sorted(set(partition_days))
    chosen = list(products) if products is not None else None
    params = [days, level.upper(), chosen or [], chosen]
    out: dict[date, list[tuple[str, str]]] = {d: [] for d in days}
    for day, product, path in conn.execute(_PARTITION_SQL, params).fetchall():
        out[day].append((product, path))
    return out


def request_rows(conn: duckdb.DuckDBPyConnection, level: str, products: Iterable[str]) -> list[str]:
    """Stored paths of the per-request (BSD) files of a level for ``products``, any day, sorted."""
    sql = (
        "SELECT path FROM product_files WHERE level = ? AND partition_day IS NULL"
        " AND product = ANY(?::VARCHAR[]) ORDER BY path"
    )
    return [r[0] for r in conn.execute(sql, [level.upper(), list(products)]).fetchall()]


def days_needing_reprocessing(conn: duckdb.DuckDBPyConnection, level: str) -> dict[date, list[str]]:
    """Partition days whose current files were made with kernels that do not cover them."""
    sql = (
        "SELECT partition_day, array_agg(DISTINCT product ORDER BY product) FROM product_files"
        " WHERE level = ? AND needs_reprocessing AND partition_day IS NOT NULL"
        " GROUP BY partition_day ORDER BY partition_day"
    )
    rows = conn.execute(sql, [level.upper()]).fetchall()
    return {day: list(products) for day, products in rows}


def lb_tm_inputs(conn: duckdb.DuckDBPyConnection, lb_path: str) -> list[str]:
    """Names of the TM files recorded as inputs of an LB file (stored path), sorted."""
    sql = "SELECT tm_name FROM lb_inputs WHERE lb_path = ? ORDER BY tm_name"
    return [r[0] for r in conn.execute(sql, [lb_path]).fetchall()]


def product_file_row(conn: duckdb.DuckDBPyConnection, path: str) -> dict[str, Any] | None:
    """Return the ``product_files`` row of one stored path, or None."""
    rows = fetch_dicts(conn.execute("SELECT * FROM product_files WHERE path = ?", [path]))
    return rows[0] if rows else None
