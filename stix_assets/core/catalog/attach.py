"""DuckDB files opened by attaching them to one in-memory DuckDB database per process.

Every ``duckdb.connect`` of a file makes a new database instance, and DuckDB registers all its
built-in functions in each: about 25-30 ms before the first query, which a catalog read or write
(a few milliseconds of SQL) paid every time, 44 times in a 3-day TM -> L1 run. Attaching the file
to an instance the process already has costs about 3 ms; detaching it releases the file's lock
exactly as closing a connection does, so other processes see the same locking as before (one
writer or several readers, `stix_assets.core.catalog.connection`).

`AttachedFile` is a connection to one attachment: its statements run in the attached file
(``USE``), and ``close`` detaches it. The in-memory instance belongs to the process that made
it: a forked worker makes its own and leaves its parent's untouched (never used, never freed:
the parent's threads do not exist in the child). Two attachments of one file in one process may
both read; a writer waits for the other to detach (``Unique file handle conflict``, retried like
a lock held by another process).
"""

import contextlib
import itertools
import os
import threading
from typing import Any

import duckdb

__all__ = ["AttachedFile", "memory_cursor"]

_HOSTS: dict[int, duckdb.DuckDBPyConnection] = {}
"""Process id -> that process's in-memory instance (a fork's copy of its parent's stays here)."""
_LOCK = threading.Lock()
_ALIASES = itertools.count()


def _host() -> duckdb.DuckDBPyConnection:
    pid = os.getpid()
    with _LOCK:
        host = _HOSTS.get(pid)
        if host is None:
            host = _HOSTS[pid] = duckdb.connect(":memory:")
        return host


def memory_cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to the process's in-memory instance; close it when done.

    For queries over files (Parquet, JSON) without the cost of a new instance.
    """
    return _host().cursor()


class AttachedFile:
    """A connection whose statements run in one attached DuckDB file; `close` detaches it.

    Parameters
    ----------
    path : the database file
    read_only : attach for reading only (other processes may read at the same time)

    Raises
    ------
    duckdb.IOException
        If the file is locked by another process (``Could not set lock``) or is not a DuckDB
        database, as ``duckdb.connect`` raises them.
    duckdb.ResourceInUseException
        If this process has the file attached for writing, or attaches it for writing while it
        is attached.
    """

    def __init__(self, path: str, *, read_only: bool) -> None:
        self._alias = f"catalog_{next(_ALIASES)}"
        self._pid = os.getpid()
        self._attached = False
        self._cursor = _host().cursor()
        quoted = path.replace("'", "''")
        mode = "READ_ONLY" if read_only else "READ_WRITE"
        try:
            self._cursor.execute(f"ATTACH '{quoted}' AS {self._alias} ({mode})")
        except BaseException:
            self._cursor.close()
            raise
        self._attached = True
        try:
            self._cursor.execute(f"USE {self._alias}")
        except BaseException:
            self.close()
            raise

    def execute(self, sql: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        """Run one statement in the attached file; the result is read from the return value."""
        if parameters is None:
            return self._cursor.execute(sql)
        return self._cursor.execute(sql, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)  # fetchall, description, ... of the last statement

    def close(self) -> None:
        """Detach the file (an open transaction is rolled back) and close the connection.

        A forked child never touches an attachment of its parent (nor its parent's instance).
        """
        if not self._attached or self._pid != os.getpid():
            return
        self._attached = False
        try:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses USE
                self._cursor.execute("ROLLBACK")
            self._cursor.execute("USE memory")
            self._cursor.execute(f"DETACH {self._alias}")
        finally:
            self._cursor.close()

    def __del__(self) -> None:
        # what a DuckDB connection did when dropped unclosed: never hold the lock by accident
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> "AttachedFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
