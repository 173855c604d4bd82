"""One catalog file used from many processes at once: locking, retry, spool, op application.

DuckDB lets one process hold a database file; a second process fails to open it, even read-only,
with ``IOException: Could not set lock on file``. Dagster runs several processes at once, so:

* every write opens a connection, writes, commits and closes (milliseconds);
* on a lock conflict it retries with jittered exponential backoff until ``lock_timeout_s``;
* if the lock is still held, the write is saved as a JSON manifest in the spool folder next to the
  database (``<db>.spool/``, temp file + ``os.replace``) and the call returns: nobody blocks;
* every writer that gets the lock first ingests the pending manifests, oldest first, one
  transaction each, deleting each manifest after its commit while it still holds the lock;
* every write is an idempotent upsert guarded by the time the call was made, so a late or
  repeated manifest never overwrites newer data (replaying a manifest is harmless).

Readers retry the same way and then raise `CatalogBusyError`; spooled writes become visible once a
writer (or `CatalogFile.flush_spool`) has ingested them.

Every other failure of the file is named, with the file: `CatalogUnreadableError` for a file
DuckDB cannot read (not a DuckDB database, truncated, corrupt blocks, a newer storage version),
`CatalogWriteError` for one it cannot write (read-only file system, permission, disk full: also
when DuckDB reports it as a failed commit, which is not retried like a write conflict). A spool
manifest that cannot be written leaves no temporary file.

The first write of a process to a file of an older schema migrates it (`migrate`); a reader that
finds an older schema first makes that write.
"""

import contextlib
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from stix_assets.core.catalog.attach import AttachedFile
from stix_assets.core.catalog.base import (
    CatalogBusyError,
    OpHandler,
    WriteOutcome,
    stamp_ops,
)
from stix_assets.core.catalog.faults import catalog_error, holder_pid, is_busy, is_write_failure
from stix_assets.core.catalog.migrate import migrate, upgrade_manifest_ops
from stix_assets.core.catalog.paths import ArchivePaths
from stix_assets.core.catalog.schema import SCHEMA_VERSION, create_tables, schema_version
from stix_assets.core.errors import ArchiveWriteError, CatalogError, CatalogWriteError
from stix_assets.core.filesystem import check_writable_folder

__all__ = ["CatalogFile"]

logger = logging.getLogger(__name__)

_MANIFEST_FORMAT = 2  # 1: product paths as typed by the writer (schema version 1)
_MANIFEST_FORMATS = (1, 2)
_BACKOFF_FIRST_S = 0.005
_BACKOFF_MAX_S = 0.1
_T = TypeVar("_T")
# a manifest that raises one of these can never be applied; it is set aside
_UNAPPLICABLE = (
    duckdb.ConstraintException,
    duckdb.ConversionException,
    duckdb.InvalidInputException,
    duckdb.BinderException,
    KeyError,
    TypeError,
    ValueError,
)


class CatalogFile:
    """A DuckDB catalog file that applies writes (lists of ops) safely from many processes.

    Parameters
    ----------
    path : the DuckDB file (created with its schema on first write); made absolute
    handlers : ``{op name: handler}`` that applies each op (`stix_assets.core.catalog.registry`)
    archive_root : the product archive whose paths the catalog stores relative to it; default
        the folder that holds ``path`` (the usual ``<archive>/stix_catalog.duckdb``)
    lock_timeout_s : how long a write waits for the lock before spooling (s)
    read_timeout_s : how long a read waits for the lock before raising `CatalogBusyError` (s)
    spool_dir : folder for spooled writes, default ``<path>.spool`` next to the database
    """

    def __init__(
        self,
        path: Path | str,
        *,
        handlers: Mapping[str, OpHandler],
        archive_root: Path | str | None = None,
        lock_timeout_s: float = 2.0,
        read_timeout_s: float = 5.0,
        spool_dir: Path | str | None = None,
    ) -> None:
        self.path = Path(os.path.abspath(path))  # a later chdir must not move the catalog
        self.lock_timeout_s = lock_timeout_s
        self.read_timeout_s = read_timeout_s
        self.spool_dir = (
            Path(os.path.abspath(spool_dir))
            if spool_dir
            else self.path.with_name(self.path.name + ".spool")
        )
        self._handlers = handlers
        self.archive = ArchivePaths.at(self.path.parent if archive_root is None else archive_root)
        self._schema_current = False  # this handle has seen the file at SCHEMA_VERSION
        self._holder_pid: int | None = None  # who held the lock when a wait last timed out

    @property
    def archive_root(self) -> Path:
        """The archive root, absolute: stored product paths are relative to it."""
        return self.archive.root

    def exists(self) -> bool:
        """Whether the catalog file exists (a read or write creates it)."""
        return self.path.exists()

    def flush_spool(self, *, timeout_s: float | None = None) -> int:
        """Ingest all pending spool manifests now; return how many were ingested.

        Raises
        ------
        CatalogBusyError
            If the lock cannot be had within ``timeout_s`` (default ``read_timeout_s``).
        """
        outcome = self._write([], timeout_s=self.read_timeout_s if timeout_s is None else timeout_s)
        if outcome.spooled:
            raise CatalogBusyError(
                "catalog locked, spool not flushed",
                path=str(self.path),
                waited_s=outcome.waited_s,
                holder_pid=self._holder_pid,
            )
        return outcome.ingested

    def check(self) -> None:
        """Open the catalog once, so that a run finds a bad catalog before it does any work.

        The folder must take files and the file (created if missing) must open; an older schema
        is migrated.

        Raises
        ------
        CatalogWriteError
            If the catalog's folder cannot be written (read-only, permission, full, missing).
        CatalogUnreadableError
            If the file is not a DuckDB database this version can read.
        CatalogBusyError
            If another process holds the lock for longer than ``read_timeout_s``.
        """
        try:
            check_writable_folder(self.path.parent)
        except ArchiveWriteError as err:
            raise CatalogWriteError(err.reason, path=self.path.parent) from err
        with self.connect_readonly():
            pass

    def pending_manifests(self) -> list[Path]:
        """Spool manifests waiting to be ingested, oldest first."""
        if not self.spool_dir.is_dir():
            return []
        return sorted(self.spool_dir.glob("*.json"))

    def connect_readonly(self, *, timeout_s: float | None = None) -> AttachedFile:
        """Open a read-only connection (use it as a context manager and close it soon).

        While it is open, writers in other processes spool instead of writing. Spooled writes
        are ingested first when the lock can be had within ``lock_timeout_s``, so that a read
        sees every write made before it (a level-day reading the files an earlier one recorded
        while the file was busy); otherwise the read goes on without them.

        Raises
        ------
        CatalogBusyError
            If another process holds the write lock for longer than ``timeout_s``.
        CatalogError
            If the file cannot be read (`CatalogUnreadableError`) or, when missing or of an
            older schema, not written (`CatalogWriteError`).
        """
        if not self.path.exists():
            self._write([])
        elif self.pending_manifests():
            self._ingest_before_read()
        timeout = self.read_timeout_s if timeout_s is None else timeout_s
        conn = self._open_readonly(timeout)
        if not self._schema_current:
            current = self._is_current(conn)
            if not current:
                conn.close()
                self._write([])  # migrates, unless another process holds the lock
                conn = self._open_readonly(timeout)
                current = self._is_current(conn)
            self._schema_current = current
        return conn

    def _ingest_before_read(self) -> None:
        """Ingest the spool if the lock is free soon; a reader that cannot write reads as is."""
        try:
            outcome = self._write([], timeout_s=self.lock_timeout_s)
        except CatalogError as err:  # e.g. a read-only file system: the read still answers
            logger.warning(
                "catalog spool not ingested before a read db=%s error=%s", self.path.name, err
            )
            return
        if outcome.spooled:
            logger.info(
                "catalog spool not ingested before a read db=%s reason=locked", self.path.name
            )

    def _is_current(self, conn: duckdb.DuckDBPyConnection) -> bool:
        """Whether the file has the current schema (closes ``conn`` if it cannot be read)."""
        try:
            with self._failures_named():
                return schema_version(conn) >= SCHEMA_VERSION
        except CatalogError:
            conn.close()
            raise

    def _open_readonly(self, timeout_s: float) -> AttachedFile:
        conn, waited = self._connect(read_only=True, timeout_s=timeout_s)
        if conn is None:
            raise CatalogBusyError(
                "catalog locked by another process",
                path=str(self.path),
                waited_s=waited,
                holder_pid=self._holder_pid,
            )
        return conn

    # ------------------------------------------------------------------ package internals

    def _read(self, fn: Callable[[duckdb.DuckDBPyConnection], _T]) -> _T:
        """Run ``fn`` on a read-only connection (retried on lock conflicts)."""
        with self.connect_readonly() as conn, self._failures_named():
            return fn(conn)

    @contextlib.contextmanager
    def _failures_named(self) -> Iterator[None]:
        """Turn a failure of the file (I/O, corruption, a refused write) into a catalog error."""
        try:
            yield
        except OSError as err:
            raise catalog_error(err, self.path) from err
        except (duckdb.IOException, duckdb.FatalException) as err:
            raise catalog_error(err, self.path) from err
        except duckdb.TransactionException as err:
            if not is_write_failure(err):
                raise
            raise catalog_error(err, self.path) from err

    def _write(self, ops: list[dict[str, Any]], *, timeout_s: float | None = None) -> WriteOutcome:
        """Write ``ops`` in one transaction after ingesting the spool, or spool them."""
        stamp_ops(ops)
        with self._failures_named():
            return self._write_or_spool(ops, timeout_s=timeout_s)

    def _write_or_spool(
        self, ops: list[dict[str, Any]], *, timeout_s: float | None
    ) -> WriteOutcome:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        timeout = self.lock_timeout_s if timeout_s is None else timeout_s
        start = time.monotonic()
        waited = 0.0
        while True:
            remaining = max(0.0, timeout - (time.monotonic() - start))
            conn, wait = self._connect(read_only=False, timeout_s=remaining)
            waited += wait
            if conn is None:
                break
            try:
                self._prepare(conn)
                ingested = self._ingest_spool(conn)
                if ops:
                    self._apply_in_transaction(conn, ops)
            except duckdb.TransactionException as err:
                if is_write_failure(err):
                    raise  # the file system refused the commit: no conflict to wait out
                # only threads of this process share the open database; retry like a lock
                logger.debug("catalog transaction conflict db=%s error=%s", self.path.name, err)
                if time.monotonic() - start > timeout:
                    break
                pause = _BACKOFF_MAX_S * random.random()
                time.sleep(pause)
                waited += pause
                continue
            finally:
                conn.close()
            logger.debug(
                "catalog write db=%s ops=%d ingested=%d waited_s=%.3f",
                self.path.name,
                len(ops),
                ingested,
                waited,
            )
            return WriteOutcome(False, None, ingested, waited)
        manifest = self._spool(ops) if ops else None
        logger.info(
            "catalog locked, write spooled db=%s waited_s=%.3f manifest=%s",
            self.path.name,
            waited,
            manifest.name if manifest else None,
        )
        return WriteOutcome(True, manifest, 0, waited)

    def _write_now(
        self,
        ops: list[dict[str, Any]],
        *,
        timeout_s: float | None,
        setup_sql: str,
        busy_message: str,
    ) -> None:
        """Write ``ops`` in one transaction after ``setup_sql`` and the spool, or raise.

        Raises
        ------
        CatalogBusyError
            If the lock cannot be had within ``timeout_s`` (default ``lock_timeout_s``).
        """
        stamp_ops(ops)
        with self._failures_named():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        timeout = self.lock_timeout_s if timeout_s is None else timeout_s
        conn, waited = self._connect(read_only=False, timeout_s=timeout)
        if conn is None:
            raise CatalogBusyError(
                busy_message, path=str(self.path), waited_s=waited, holder_pid=self._holder_pid
            )
        try:
            with self._failures_named():
                self._prepare(conn)
                conn.execute(setup_sql)
                self._ingest_spool(conn)
                if ops:
                    self._apply_in_transaction(conn, ops)
        finally:
            conn.close()

    def _prepare(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Bring the file to the current schema (the caller holds the write lock)."""
        create_tables(conn)
        if not self._schema_current:
            migrate(conn, self.archive)
            self._schema_current = True

    def _apply_in_transaction(
        self, conn: duckdb.DuckDBPyConnection, ops: list[dict[str, Any]]
    ) -> None:
        conn.execute("BEGIN TRANSACTION")
        try:
            for op in ops:
                self._handlers[op["op"]](conn, op)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _connect(self, *, read_only: bool, timeout_s: float) -> tuple[AttachedFile | None, float]:
        """Open the database, retrying lock conflicts with jittered backoff; None after timeout.

        Raises
        ------
        CatalogError
            If the file cannot be opened for another reason than a lock (`catalog_error`).
        """
        start = time.monotonic()
        delay = _BACKOFF_FIRST_S
        while True:
            try:
                conn = AttachedFile(str(self.path), read_only=read_only)
                return conn, time.monotonic() - start
            except (
                duckdb.IOException,
                duckdb.ConnectionException,
                duckdb.ResourceInUseException,
            ) as err:
                if not is_busy(err):
                    raise catalog_error(err, self.path) from err
                self._holder_pid = holder_pid(err)
                waited = time.monotonic() - start
                if waited + delay > timeout_s:
                    return None, waited
                time.sleep(delay * (0.5 + random.random()))
                delay = min(2 * delay, _BACKOFF_MAX_S)

    def _spool(self, ops: list[dict[str, Any]]) -> Path:
        """Write ``ops`` atomically as a manifest; names sort by creation time."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:12]}.json"
        tmp = self.spool_dir / f".{name}.tmp"
        text = json.dumps({"format": _MANIFEST_FORMAT, "db": self.path.name, "ops": ops})
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            final = self.spool_dir / name
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def _ingest_spool(self, conn: duckdb.DuckDBPyConnection) -> int:
        """Apply pending manifests, one transaction each; the caller holds the lock."""
        done = 0
        for manifest in self.pending_manifests():
            try:
                data = json.loads(manifest.read_text("utf-8"))
            except FileNotFoundError:
                continue  # ingested and removed by an earlier holder of the lock
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                self._reject(manifest, err)
                continue
            if data.get("format") not in _MANIFEST_FORMATS or not isinstance(data.get("ops"), list):
                self._reject(manifest, ValueError("unknown manifest format"))
                continue
            try:
                ops = data["ops"]
                if data["format"] == 1:
                    ops = upgrade_manifest_ops(ops, self.archive)
                self._apply_in_transaction(conn, ops)
            except _UNAPPLICABLE as err:
                self._reject(manifest, err)
                continue
            manifest.unlink(missing_ok=True)
            done += 1
        if done:
            logger.info("catalog spool ingested db=%s manifests=%d", self.path.name, done)
        return done

    def _reject(self, manifest: Path, err: Exception) -> None:
        """Move a manifest that cannot be applied aside, so it cannot block every later writer."""
        target = self.spool_dir / "rejected"
        target.mkdir(exist_ok=True)
        os.replace(manifest, target / manifest.name)
        logger.error("catalog manifest rejected manifest=%s error=%s", manifest.name, err)
