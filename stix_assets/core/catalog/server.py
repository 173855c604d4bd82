"""The catalog in a PostgreSQL database: many writing processes on many hosts at once.

The same tables and the same op handlers as the DuckDB file (`connection.CatalogFile`); what a
server changes:

* no lock to wait for and no spool: every write is one ``SERIALIZABLE`` transaction applying its
  list of ops, so concurrent writes have the effect of some one-at-a-time order, as with the
  DuckDB file. A transaction the server aborts to keep that promise (serialization failure,
  deadlock) is retried whole with jittered backoff, up to ``write_timeout_s``, then
  `CatalogBusyError`. The upserts keep their newest-wins guards, so the order the writes land
  in decides nothing the times do not.
* reads run in one ``REPEATABLE READ READ ONLY`` transaction: one snapshot per read.
* the tables (``schema.sql`` and the first-use tables of publish history and kernel zips) are
  created by the first process that connects, under a transaction-level advisory lock, which also
  records the archive the database serves (`location.archive_identity`); a process of another
  archive gets `CatalogArchiveMismatchError`. A new database starts at the current schema
  version: the DuckDB migrations (`migrate`) concern files written by older versions only.
* a server that cannot be reached (or refuses the login) is `CatalogUnavailableError`.

Connections are opened per read or write and closed after, as with DuckDB: nothing is shared
across ``fork`` (the level workers) and a handle can be pickled.
"""

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from stix_assets.core.catalog.base import OpHandler, WriteOutcome, stamp_ops
from stix_assets.core.catalog.location import ARCHIVE_ID_FILE, archive_identity, redact_url
from stix_assets.core.catalog.paths import ArchivePaths
from stix_assets.core.catalog.pg import PgConnection, connect
from stix_assets.core.catalog.schema import SCHEMA_VERSION, schema_sql
from stix_assets.core.errors import (
    CatalogArchiveMismatchError,
    CatalogBusyError,
    CatalogUnavailableError,
)

__all__ = ["CatalogServer"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_SETUP_LOCK = 0x57_1C_CA_7A  # advisory lock key of the schema setup (any constant of ours)
_BACKOFF_FIRST_S = 0.01
_BACKOFF_MAX_S = 0.5


def _retried() -> tuple[type[Exception], ...]:
    """The errors a write retries: the server aborted the transaction to keep it serializable.

    psycopg is imported on first use only (a DuckDB catalog never needs it).
    """
    import psycopg

    return (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)


class CatalogServer:
    """A catalog in a PostgreSQL database, written by many processes at once.

    Parameters
    ----------
    url : ``postgresql://user:password@host:port/dbname``
    handlers : ``{op name: handler}`` (`stix_assets.core.catalog.registry`)
    archive_root : the product archive; product paths are stored relative to it, and the
        database is bound to this archive's identity on first use
    extra_ddl : more idempotent DDL run with ``schema.sql`` (first-use tables)
    write_timeout_s : how long a write retries aborted transactions before `CatalogBusyError`
    """

    def __init__(
        self,
        url: str,
        *,
        handlers: Mapping[str, OpHandler],
        archive_root: Path | str,
        extra_ddl: Iterable[str] = (),
        write_timeout_s: float = 120.0,
    ) -> None:
        self.url = url
        self.location = redact_url(url)
        self.archive = ArchivePaths.at(archive_root)
        self.write_timeout_s = write_timeout_s
        self._handlers = handlers
        self._extra_ddl = tuple(extra_ddl)
        self._ready = False  # this handle has created the tables and checked the archive

    @property
    def archive_root(self) -> Path:
        """The archive root, absolute: stored product paths are relative to it."""
        return self.archive.root

    def exists(self) -> bool:
        """A database catalog always exists (its tables are made on first use)."""
        return True

    def check(self) -> None:
        """Connect once: the server answers, the tables exist and the database is this archive's.

        Raises
        ------
        CatalogUnavailableError
            If the server cannot be reached or refuses the login.
        CatalogArchiveMismatchError
            If the database serves another archive.
        """
        with self._connection() as conn:
            self._prepare(conn)

    def pending_manifests(self) -> list[Path]:
        """Always empty: a database catalog never spools."""
        return []

    def flush_spool(self, *, timeout_s: float | None = None) -> int:
        """Nothing to flush (no spool); returns 0."""
        return 0

    @contextlib.contextmanager
    def connect_readonly(self, *, timeout_s: float | None = None) -> Iterator[PgConnection]:
        """A connection in a read-only transaction with one snapshot; closed on exit.

        Raises
        ------
        CatalogUnavailableError
            If the server cannot be reached or refuses the login.
        """
        with self._connection() as conn:
            self._prepare(conn)
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                conn.execute("ROLLBACK")

    # ------------------------------------------------------------------ package internals

    def _read(self, fn: Callable[[PgConnection], _T]) -> _T:
        """Run ``fn`` on a read-only connection (one snapshot)."""
        with self.connect_readonly() as conn:
            return fn(conn)

    def _write(self, ops: list[dict[str, Any]], *, timeout_s: float | None = None) -> WriteOutcome:
        """Apply ``ops`` in one serializable transaction (retried when the server aborts it)."""
        stamp_ops(ops)
        waited = self._apply(ops, timeout_s=timeout_s, setup_sql=None)
        return WriteOutcome(False, None, 0, waited)

    def _write_now(
        self,
        ops: list[dict[str, Any]],
        *,
        timeout_s: float | None,
        setup_sql: str,
        busy_message: str,
    ) -> None:
        """As `_write` (a server write is always immediate); ``setup_sql`` runs first."""
        stamp_ops(ops)
        self._apply(ops, timeout_s=timeout_s, setup_sql=setup_sql, busy_message=busy_message)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[PgConnection]:
        """A new connection; server failures become `CatalogUnavailableError`."""
        import psycopg

        try:
            conn = connect(self.url)
        except psycopg.OperationalError as err:
            raise CatalogUnavailableError(_first_line(err), path=self.location) from err
        try:
            yield conn
        except _retried():
            raise  # retried by _apply
        except psycopg.OperationalError as err:
            raise CatalogUnavailableError(_first_line(err), path=self.location) from err
        finally:
            conn.close()

    def _apply(
        self,
        ops: list[dict[str, Any]],
        *,
        timeout_s: float | None,
        setup_sql: str | None,
        busy_message: str = "catalog write kept conflicting with other writers",
    ) -> float:
        """Apply ``ops`` in one transaction, retrying aborted ones; return the seconds waited."""
        # a caller's short timeout is for a DuckDB lock; conflicts here pass in moments
        timeout = max(timeout_s or 0.0, self.write_timeout_s)
        start = time.monotonic()
        delay = _BACKOFF_FIRST_S
        attempts = 0
        while True:
            attempts += 1
            try:
                with self._connection() as conn:
                    self._prepare(conn)
                    if setup_sql:
                        conn.execute(setup_sql)
                    self._transaction(conn, ops)
                break
            except _retried() as err:
                waited = time.monotonic() - start
                if waited + delay > timeout:
                    raise CatalogBusyError(
                        f"{busy_message} ({attempts} attempts)",
                        path=self.location,
                        waited_s=waited,
                    ) from err
                logger.debug("catalog write retried attempt=%d error=%s", attempts, err.sqlstate)
                time.sleep(delay * (0.5 + random.random()))
                delay = min(2 * delay, _BACKOFF_MAX_S)
        waited = time.monotonic() - start
        logger.debug("catalog write ops=%d attempts=%d s=%.3f", len(ops), attempts, waited)
        return waited

    def _transaction(self, conn: PgConnection, ops: list[dict[str, Any]]) -> None:
        if not ops:
            return
        conn.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        try:
            for op in ops:
                self._handlers[op["op"]](conn, op)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _prepare(self, conn: PgConnection) -> None:
        """Create the tables and bind the database to this archive, once per handle.

        A database already at the current schema and bound to this archive is only read: the
        DDL (``ALTER TABLE ... IF NOT EXISTS`` takes an exclusive table lock even when it changes
        nothing) runs only for a new or older database, under the advisory lock.

        Raises
        ------
        CatalogArchiveMismatchError
            If the database records another archive.
        """
        if self._ready:
            return
        ours = archive_identity(self.archive_root)
        meta = _meta(conn)
        if meta is None or meta.get("archive_id") is None or _version(meta) < SCHEMA_VERSION:
            conn.execute("BEGIN")
            try:
                conn.execute("SELECT pg_advisory_xact_lock(?)", [_SETUP_LOCK])
                conn.execute(schema_sql())
                for ddl in self._extra_ddl:
                    conn.execute(ddl)
                meta = _meta(conn) or {}
                self._check_archive(meta, ours)
                self._set_meta(conn, meta, ours)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        self._check_archive(meta, ours)
        self._ready = True

    def _check_archive(self, meta: dict[str, str], ours: str) -> None:
        if meta.get("archive_id") not in (None, ours):
            raise CatalogArchiveMismatchError(
                f"the database serves the archive {meta.get('archive_root')} "
                f"(id {meta['archive_id']}), not {self.archive_root} (id {ours} in "
                f"{ARCHIVE_ID_FILE}); give this archive its own database",
                path=self.location,
            )

    def _set_meta(self, conn: PgConnection, meta: dict[str, str], archive_id: str) -> None:
        wanted = {"archive_id": archive_id, "schema_version": str(SCHEMA_VERSION)}
        if "archive_root" not in meta:
            wanted["archive_root"] = str(self.archive_root)
        for key, value in wanted.items():
            if meta.get(key) is None:
                conn.execute("INSERT INTO catalog_meta VALUES (?, ?)", [key, value])
                logger.info("catalog bound db=%s %s=%s", self.location, key, value)


def _meta(conn: PgConnection) -> dict[str, str] | None:
    """The ``catalog_meta`` rows, or None before the tables exist."""
    import psycopg

    try:
        return dict(conn.execute("SELECT key, value FROM catalog_meta").fetchall())
    except psycopg.errors.UndefinedTable:
        return None


def _version(meta: dict[str, str]) -> int:
    return int(meta.get("schema_version") or 0)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
