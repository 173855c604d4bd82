"""The catalog's tables: the DDL in ``schema.sql``, run at the start of every write."""

from importlib import resources

import duckdb

__all__ = ["create_tables", "schema_sql"]


def schema_sql() -> str:
    """Return the DDL of the catalog tables (every statement idempotent)."""
    return resources.files("stix_assets.core.catalog").joinpath("schema.sql").read_text("utf-8")


def create_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the tables that do not exist yet."""
    conn.execute(schema_sql())
