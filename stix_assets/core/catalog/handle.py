"""`Catalog`: the processing catalog's public methods over the stores of this package.

Product paths go in as given (absolute, or relative to the working directory) and are stored
relative to the archive root (`stix_assets.core.catalog.paths`); every query returns them
absolute.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from stix_assets.core.catalog import products as product_store
from stix_assets.core.catalog import quarantine, reprocess, tm_files
from stix_assets.core.catalog.base import WriteOutcome
from stix_assets.core.catalog.connection import CatalogFile
from stix_assets.core.catalog.kernels import KERNEL_ZIPS_SQL
from stix_assets.core.catalog.location import is_server_url
from stix_assets.core.catalog.products import ProductFileRecord
from stix_assets.core.catalog.publish import PUBLISH_HISTORY_SQL
from stix_assets.core.catalog.registry import OP_HANDLERS
from stix_assets.core.catalog.server import CatalogServer
from stix_assets.core.tmtc import QuarantinedPacket, TMFile

__all__ = ["WRITE_TIMEOUT_S", "Catalog", "PostgresCatalog"]

WRITE_TIMEOUT_S = 120.0
"""Least time a PostgreSQL write retries transactions the server aborted (s)."""

_TABLES = (
    "tm_files",
    "tm_file_versions",
    "tm_file_days",
    "product_files",
    "lb_inputs",
    "quarantine",
)


class _CatalogMethods:
    """The public methods of a catalog, over the ``_write``/``_read`` of either backend."""

    archive: Any
    _write: Any
    _read: Any
    pending_manifests: Any

    def stored_path(self, path: Path | str) -> str:
        """Return the form a product path has in the catalog (relative to the archive root).

        A relative ``path`` is taken relative to the working directory. Use it to query the
        ``product_files`` and ``lb_inputs`` tables directly.
        """
        return self.archive.key(path)

    def absolute_path(self, stored: str) -> Path:
        """Return the absolute path of a product path as stored in the catalog."""
        return self.archive.absolute(stored)

    # ------------------------------------------------------------------ writes

    def record_tm_file(
        self,
        tm: TMFile,
        *,
        status: str,
        packets_by_kind: Mapping[str, int] | None = None,
        scet_span: tuple[int, int] | None = None,
        n_packets: int = 0,
        quarantined: Sequence[QuarantinedPacket] = (),
        error: str | None = None,
        days_by_product: Mapping[str, Iterable[date]] | None = None,
    ) -> WriteOutcome:
        """Record one TM/TC file (one content version), its quarantine and its days, in one write.

        ``status="duplicate"`` for a known (name, sha256) only updates ``last_seen``; a new sha256
        under a known name becomes a new content version and the current row of ``tm_files``.

        Raises
        ------
        ValueError
            If ``status`` is not one of `TM_STATUSES`.
        """
        return self._write(
            tm_files.tm_file_ops(
                tm,
                status=status,
                packets_by_kind=packets_by_kind,
                scet_span=scet_span,
                n_packets=n_packets,
                quarantined=quarantined,
                error=error,
                days_by_product=days_by_product,
            )
        )

    def record_tm_index(
        self, index: Any, *, status: str = "indexed", error: str | None = None
    ) -> WriteOutcome:
        """Record a `core.ingest.TmIndex` (file, packet counts, span, quarantine, days) at once."""
        return self.record_tm_indexes([(index, status)], error=error)

    def record_tm_indexes(
        self, indexes: Sequence[tuple[Any, str]], *, error: str | None = None
    ) -> WriteOutcome:
        """Record several (`core.ingest.TmIndex`, status) pairs in one transaction."""
        ops = [op for index, status in indexes for op in self._index_ops(index, status, error)]
        return self._write(ops)

    def _index_ops(self, index: Any, status: str, error: str | None) -> list[dict[str, Any]]:
        return tm_files.tm_file_ops(
            index.tm,
            status=status,
            packets_by_kind=index.packets_by_kind,
            scet_span=index.scet_span,
            n_packets=len(index.batch),
            quarantined=index.report.quarantined,
            error=error,
            days_by_product=index.days_by_product,
        )

    def record_tm_days(
        self, tm_name: str, days_by_product: Mapping[str, Iterable[date]]
    ) -> WriteOutcome:
        """Record which (product, SCET day) a TM file touched (added to what is known)."""
        return self._write([tm_files.days_op(tm_name, days_by_product)])

    def record_products(self, records: Sequence[ProductFileRecord]) -> WriteOutcome:
        """Record written product files; a newer ``written_at`` for the same path replaces the row."""
        return self._write([product_store.products_op(records, self.archive)])

    def record_lb_results(
        self, records: Sequence[ProductFileRecord], inputs: Mapping[Path | str, Iterable[str]]
    ) -> WriteOutcome:
        """Record LB files and the TM files that fed each one, in one transaction.

        One write for a whole run instead of one per file: each catalog transaction costs about
        30 ms (open + close), which dominated a three-day TM -> LB run.
        """
        ops = [product_store.products_op(records, self.archive)] if records else []
        op = product_store.lb_inputs_op(inputs, self.archive)
        if op["pairs"]:
            ops.append(op)
        return self._write(ops)

    def record_lb_inputs(self, lb_path: Path | str, tm_names: Iterable[str]) -> WriteOutcome:
        """Record that the TM files ``tm_names`` fed the LB file ``lb_path`` (added to what is known)."""
        return self._write([product_store.lb_inputs_op({lb_path: tm_names}, self.archive)])

    def record_quarantine(self, items: Sequence[QuarantinedPacket]) -> WriteOutcome:
        """Record quarantined packets (de-duplicated on file, packet index and reason)."""
        return self._write([quarantine.quarantine_op(items)])

    # ------------------------------------------------------------------ reads

    def is_known_tm(self, name: str, sha256: str) -> bool:
        """Tell whether this exact content of ``name`` was indexed (status in `KNOWN_STATUSES`)."""
        return self._read(lambda c: tm_files.is_known_tm(c, name, sha256))

    def tm_file(self, name: str) -> dict[str, Any] | None:
        """Return the current ``tm_files`` row of ``name`` (``packets_by_kind`` as a dict), or None."""
        return self._read(lambda c: tm_files.tm_file_row(c, name))

    def tm_file_versions(self, name: str) -> list[dict[str, Any]]:
        """Every content version seen under ``name``, oldest first."""
        return self._read(lambda c: tm_files.tm_file_version_rows(c, name))

    def tm_files_for_day(self, scet_day: date, products: Iterable[str] | None = None) -> list[str]:
        """Names of the TM files that touched ``scet_day`` (for any of ``products``), sorted."""
        return [name for name, _ in self.tm_paths_for_day(scet_day, products)]

    def tm_paths_for_day(
        self, scet_day: date, products: Iterable[str] | None = None
    ) -> list[tuple[str, Path | None]]:
        """(name, current path) of the TM files that touched ``scet_day``, sorted by name."""
        return self._read(lambda c: tm_files.tm_paths_for_day(c, scet_day, products))

    def touched_products(self, scet_day: date) -> set[str]:
        """Products that the indexed TM files touched on a SCET day (``tm_file_days``)."""
        return self._read(lambda c: tm_files.touched_products(c, scet_day))

    def partition_files(
        self, level: str, partition_day: date, products: Iterable[str] | None = None
    ) -> dict[str, list[Path]]:
        """Files of a level's partition (absolute paths), per product key (``product_files``).

        Daily files match on ``partition_day``. Per-request (BSD) files without one belong to
        the day when a TM file that touched that day for the product is among their inputs (LB),
        or among the inputs of an LB file they were made from (L0 and later).
        """
        wanted = list(products) if products is not None else None
        rows = self._read(lambda c: product_store.partition_rows(c, level, [partition_day], wanted))
        out: dict[str, list[Path]] = {}
        for product, path in rows[partition_day]:
            out.setdefault(product, []).append(self.absolute_path(path))
        return out

    def request_files(self, level: str, products: Iterable[str]) -> list[Path]:
        """Per-request (BSD) files of a level for ``products``, whatever their day (absolute)."""
        wanted = list(products)
        rows = self._read(lambda c: product_store.request_rows(c, level, wanted))
        return [self.absolute_path(p) for p in rows]

    def forget_archive(self, levels: Iterable[str]) -> WriteOutcome:
        """Forget the product files of ``levels`` and every TM file (``process --clean``).

        The catalog mirrors the archive: when the level folders are removed, their rows go, and
        so do the TM files known so far (a rebuilt day must not take inputs from before the
        clean). Publish history and kernel zips stay.
        """
        return self._write([product_store.forget_levels_op(levels), tm_files.forget_tm_files_op()])

    def partition_files_by_day(
        self, level: str, partition_days: Iterable[date], products: Iterable[str] | None = None
    ) -> dict[date, dict[str, list[Path]]]:
        """`partition_files` of several days at once, in one read (one connection)."""
        wanted = list(products) if products is not None else None
        days = sorted(set(partition_days))

        def query(c: duckdb.DuckDBPyConnection) -> dict[date, list[tuple[str, str]]]:
            return product_store.partition_rows(c, level, days, wanted)

        out: dict[date, dict[str, list[Path]]] = {}
        for day, rows in self._read(query).items():
            files = out.setdefault(day, {})
            for product, path in rows:
                files.setdefault(product, []).append(self.absolute_path(path))
        return out

    def days_needing_reprocessing(self, level: str = "L1") -> dict[date, list[str]]:
        """Partition days whose current files were made with kernels that do not cover them."""
        return self._read(lambda c: product_store.days_needing_reprocessing(c, level))

    def reprocess_candidates(self, level: str = "L1") -> list[tuple[str, date]]:
        """(product, partition day) whose current files need reprocessing, in one query."""
        return self._read(lambda c: reprocess.reprocess_candidates(c, level))

    def tm_sizes(self) -> dict[str, int]:
        """``{name: size}`` of every TM file the catalog knows, in one query."""
        return self._read(reprocess.tm_sizes)

    def lb_tm_inputs(self, lb_path: Path | str) -> list[str]:
        """Names of the TM files recorded as inputs of an LB file, sorted."""
        key = self.stored_path(lb_path)
        return self._read(lambda c: product_store.lb_tm_inputs(c, key))

    def product_file(self, path: Path | str) -> dict[str, Any] | None:
        """Return the ``product_files`` row of one file, or None; the row's ``path`` is absolute."""
        key = self.stored_path(path)
        row = self._read(lambda c: product_store.product_file_row(c, key))
        if row is not None:
            row["path"] = self.absolute_path(row["path"])
        return row

    def quarantined(self, file: str | None = None) -> list[dict[str, Any]]:
        """Quarantined packets (of one file), ``packet_index`` None for whole-file problems."""
        return self._read(lambda c: quarantine.quarantined_rows(c, file))

    def stats(self) -> dict[str, Any]:
        """Row counts per table, TM files per status, products per level and pending spool size."""

        def query(c: duckdb.DuckDBPyConnection) -> dict[str, Any]:
            out: dict[str, Any] = {
                table: c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in _TABLES
            }
            by_status = "SELECT status, count(*) FROM tm_files GROUP BY status ORDER BY 1"
            out["tm_files_by_status"] = dict(c.execute(by_status).fetchall())
            by_level = "SELECT level, count(*) FROM product_files GROUP BY level ORDER BY 1"
            out["product_files_by_level"] = dict(c.execute(by_level).fetchall())
            return out

        out = self._read(query)
        out["spool_pending"] = len(self.pending_manifests())
        return out


class Catalog(_CatalogMethods, CatalogFile):
    """The processing catalog; safe to use from many processes at once.

    ``Catalog(path)`` opens the DuckDB file (the embedded default, ``<archive>/stix_catalog.duckdb``);
    ``Catalog("postgresql://...", archive_root=...)`` returns a `PostgresCatalog` with the same
    methods, so every caller takes either from the settings (`location.catalog_location`).

    Parameters
    ----------
    path : the DuckDB file (created with its schema on first write), or a PostgreSQL URL
    archive_root : the product archive; product paths are stored relative to it. Default: the
        folder that holds ``path`` (the usual ``<archive>/stix_catalog.duckdb``); pass it when
        the catalog file lives elsewhere (``--catalog``, ``STIX_CATALOG_PATH``); required with a
        URL
    lock_timeout_s : how long a write waits for the lock before spooling (s)
    read_timeout_s : how long a read waits for the lock before raising `CatalogBusyError` (s)
    spool_dir : folder for spooled writes, default ``<path>.spool`` next to the database
    """

    def __new__(cls, path: Path | str, **kwargs: Any) -> "Catalog":
        """Return a `PostgresCatalog` for a ``postgresql://`` URL, else a DuckDB catalog."""
        if is_server_url(path):
            return PostgresCatalog(str(path), **kwargs)  # type: ignore[return-value]
        return super().__new__(cls)

    def __init__(
        self,
        path: Path | str,
        *,
        archive_root: Path | str | None = None,
        lock_timeout_s: float = 2.0,
        read_timeout_s: float = 5.0,
        spool_dir: Path | str | None = None,
    ) -> None:
        super().__init__(
            path,
            handlers=OP_HANDLERS,
            archive_root=archive_root,
            lock_timeout_s=lock_timeout_s,
            read_timeout_s=read_timeout_s,
            spool_dir=spool_dir,
        )

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r}, archive_root={str(self.archive_root)!r})"


class PostgresCatalog(_CatalogMethods, CatalogServer):
    """The processing catalog in a PostgreSQL database (`server`): the methods of `Catalog`.

    Parameters
    ----------
    url : ``postgresql://user:password@host:port/dbname``
    archive_root : the product archive (required: a database has no folder to default to)
    lock_timeout_s : how long a write retries transactions the server aborted (s); at least
        `WRITE_TIMEOUT_S`, since a server write has no spool to fall back on
    read_timeout_s, spool_dir : accepted for the DuckDB signature; not used
    """

    def __init__(
        self,
        url: str,
        *,
        archive_root: Path | str | None = None,
        lock_timeout_s: float = 2.0,
        read_timeout_s: float = 5.0,
        spool_dir: Path | str | None = None,
    ) -> None:
        if archive_root is None:
            raise ValueError("a PostgreSQL catalog needs archive_root (the archive it serves)")
        super().__init__(
            url,
            handlers=OP_HANDLERS,
            archive_root=archive_root,
            extra_ddl=(PUBLISH_HISTORY_SQL, KERNEL_ZIPS_SQL),
            write_timeout_s=max(lock_timeout_s, WRITE_TIMEOUT_S),
        )

    def __repr__(self) -> str:
        return f"PostgresCatalog({self.location!r}, archive_root={str(self.archive_root)!r})"
