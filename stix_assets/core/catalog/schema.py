"""The catalog's tables: the DDL in ``schema.sql``, run at the start of every write."""

from importlib import resources

import duckdb

__all__ = ["SCHEMA_VERSION", "create_tables", "schema_sql", "schema_version", "set_schema_version"]

SCHEMA_VERSION = 2
"""1: product paths as typed by the writer; 2: product paths relative to the archive root."""


def schema_sql() -> str:
    """Return the DDL of the catalog tables (every statement idempotent)."""
    return resources.files("stix_assets.core.catalog").joinpath("schema.sql").read_text("utf-8")


def create_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the tables that do not exist yet."""
    conn.execute(schema_sql())


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """Return the schema version recorded in ``catalog_meta`` (0 if none is recorded)."""
    try:
        row = conn.execute("SELECT value FROM catalog_meta WHERE key = 'schema_version'").fetchone()
    except duckdb.CatalogException:  # a file without the table (not created by us yet)
        return 0
    return int(row[0]) if row and row[0] else 0


def set_schema_version(conn: duckdb.DuckDBPyConnection, version: int) -> None:
    """Record ``version`` in ``catalog_meta``."""
    conn.execute(
        "INSERT INTO catalog_meta VALUES ('schema_version', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [str(version)],
    )
