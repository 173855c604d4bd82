"""Reads that plan reprocessing and report status without scanning history (issue 12).

Each reader is one plain SQL statement (no DuckDB-only functions), so it runs unchanged on the
DuckDB catalog and on a PostgreSQL one.
"""

from datetime import date

import duckdb

__all__ = ["REPROCESS_CANDIDATES_SQL", "TM_SIZES_SQL", "reprocess_candidates", "tm_sizes"]

REPROCESS_CANDIDATES_SQL = """
SELECT DISTINCT product, partition_day FROM product_files
WHERE level = ? AND needs_reprocessing = TRUE AND partition_day IS NOT NULL
ORDER BY partition_day, product
"""
"""(product, partition day) of a level whose current files were made with kernels that do not
cover them."""

TM_SIZES_SQL = "SELECT name, size FROM tm_files"
"""Name and size of every TM file the catalog knows (the current content of each name)."""


def reprocess_candidates(conn: duckdb.DuckDBPyConnection, level: str) -> list[tuple[str, date]]:
    """(product, partition day) whose files say they need reprocessing, sorted by day, product.

    One query over ``product_files`` (the ``needs_reprocessing`` flag the writer recorded); files
    without a partition day are left out.
    """
    rows = conn.execute(REPROCESS_CANDIDATES_SQL, [level.upper()]).fetchall()
    return [(str(product), day) for product, day in rows]


def tm_sizes(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """``{name: size}`` of every TM file in ``tm_files`` (size 0 when unknown)."""
    return {str(n): int(s or 0) for n, s in conn.execute(TM_SIZES_SQL).fetchall()}
