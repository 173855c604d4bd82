"""The processing catalog: TM files, products and quarantined packets, in DuckDB or PostgreSQL.

The embedded default is one DuckDB file in the archive; a ``postgresql://`` URL puts the same
tables in a database server, for writers on several hosts at once (`server`, `location`).

Tables (DDL in ``schema.sql``, plain types so ``duckdb <file> "select * from tm_files"`` works):
``tm_files`` (current content per name), ``tm_file_versions`` (every (name, sha256) seen),
``tm_file_days``, ``product_files``, ``lb_inputs``, ``quarantine``, ``catalog_meta``, and, created
on first use, ``publish_history`` and ``kernel_zips``.

Modules, one per store: `tm_files`, `products` (``product_files``, ``lb_inputs``), `quarantine`,
`publish` (SOAR delivery history), `kernels` (extracted kernel zips). `connection` holds the
machinery every write goes through (locking, retry, spool; see its docstring for the
concurrency rules), `registry` assembles the op handlers of the stores in one place, and
`handle` defines `Catalog` (and `PostgresCatalog`, which ``Catalog(url, ...)`` returns); `server`
and `pg` hold the PostgreSQL machinery (transactions and retry, the ``?`` parameters).
"""

from stix_assets.core.catalog.base import CatalogBusyError, WriteOutcome
from stix_assets.core.catalog.handle import Catalog, PostgresCatalog
from stix_assets.core.catalog.kernels import (
    KERNEL_ZIPS_SQL,
    extracted_kernel_zips,
    record_kernel_zip,
)
from stix_assets.core.catalog.location import catalog_location, is_server_url, redact_url
from stix_assets.core.catalog.products import ProductFileRecord
from stix_assets.core.catalog.publish import (
    PUBLISH_HISTORY_COLUMNS,
    PUBLISH_HISTORY_SQL,
    read_publish_history,
    write_publish_history,
)
from stix_assets.core.catalog.tm_files import KNOWN_STATUSES, TM_STATUSES

__all__ = [
    "KERNEL_ZIPS_SQL",
    "KNOWN_STATUSES",
    "PUBLISH_HISTORY_COLUMNS",
    "PUBLISH_HISTORY_SQL",
    "TM_STATUSES",
    "Catalog",
    "CatalogBusyError",
    "PostgresCatalog",
    "ProductFileRecord",
    "WriteOutcome",
    "catalog_location",
    "extracted_kernel_zips",
    "is_server_url",
    "read_publish_history",
    "record_kernel_zip",
    "redact_url",
    "write_publish_history",
]
