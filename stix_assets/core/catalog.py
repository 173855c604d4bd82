"""The processing catalog: one DuckDB file recording TM files, products and quarantined packets.

Tables (DDL in ``catalog_schema.sql``, plain types so ``duckdb <file> "select * from tm_files"``
works): ``tm_files`` (current content per name), ``tm_file_versions`` (every (name, sha256) seen),
``tm_file_days``, ``product_files``, ``lb_inputs``, ``quarantine``, ``catalog_meta``.

Concurrency
-----------
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
writer (or `Catalog.flush_spool`) has ingested them.
"""

import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from stix_assets.core.errors import StixError
from stix_assets.core.tmtc import QuarantinedPacket, TMFile

__all__ = [
    "KNOWN_STATUSES",
    "TM_STATUSES",
    "Catalog",
    "CatalogBusyError",
    "ProductFileRecord",
    "WriteOutcome",
]

logger = logging.getLogger(__name__)

TM_STATUSES = ("indexed", "failed", "duplicate", "incomplete")
KNOWN_STATUSES = ("indexed", "incomplete")  # contents that need no new indexing
_MANIFEST_FORMAT = 1
_BACKOFF_FIRST_S = 0.005
_BACKOFF_MAX_S = 0.1
_T = TypeVar("_T")


class CatalogBusyError(StixError):
    """The catalog file stayed locked by another process for longer than the timeout."""

    def __init__(self, message: str, *, path: str, waited_s: float) -> None:
        super().__init__(message)
        self.path = path
        self.waited_s = waited_s

    def _fields(self) -> dict[str, object]:
        return {"path": self.path, "waited_s": round(self.waited_s, 3)}


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What happened to one catalog write.

    Attributes
    ----------
    spooled : True if the lock could not be had and the write went to a spool manifest
    manifest : path of that manifest, else None
    ingested : number of older spool manifests this write ingested first
    waited_s : time spent waiting for the lock (s)
    """

    spooled: bool
    manifest: Path | None
    ingested: int
    waited_s: float

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            "catalog_spooled": self.spooled,
            "catalog_ingested_manifests": self.ingested,
            "catalog_wait_s": round(self.waited_s, 3),
        }


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


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _to_utc_naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _is_busy(err: duckdb.Error) -> bool:
    """Lock held by another process, or this process has the file open with other settings."""
    text = str(err)
    return "Could not set lock" in text or "different configuration" in text


def _schema_sql() -> str:
    return resources.files("stix_assets.core").joinpath("catalog_schema.sql").read_text("utf-8")


class Catalog:
    """The DuckDB catalog under the data root; safe to use from many processes at once.

    Parameters
    ----------
    path : the DuckDB file (created with its schema on first write)
    lock_timeout_s : how long a write waits for the lock before spooling (s)
    read_timeout_s : how long a read waits for the lock before raising `CatalogBusyError` (s)
    spool_dir : folder for spooled writes, default ``<path>.spool`` next to the database
    """

    def __init__(
        self,
        path: Path | str,
        *,
        lock_timeout_s: float = 2.0,
        read_timeout_s: float = 5.0,
        spool_dir: Path | str | None = None,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.read_timeout_s = read_timeout_s
        self.spool_dir = (
            Path(spool_dir) if spool_dir else self.path.with_name(self.path.name + ".spool")
        )

    def __repr__(self) -> str:
        return f"Catalog({str(self.path)!r})"

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
            self._tm_file_ops(
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

    def _tm_file_ops(
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
    ) -> list[dict[str, Any]]:
        if status not in TM_STATUSES:
            raise ValueError(f"status must be one of {TM_STATUSES}, got {status!r}")
        span = scet_span or (None, None)
        ops: list[dict[str, Any]] = [
            {
                "op": "tm_file",
                "name": tm.name,
                "sha256": tm.sha256,
                "path": str(tm.path),
                "size": int(tm.size),
                "kind": tm.kind,
                "status": status,
                "error": error,
                "n_packets": int(n_packets),
                "n_quarantined": len(quarantined),
                "packets_by_kind": {str(k): int(v) for k, v in (packets_by_kind or {}).items()},
                "scet_coarse_min": None if span[0] is None else int(span[0]),
                "scet_coarse_max": None if span[1] is None else int(span[1]),
            }
        ]
        if quarantined:
            ops.append(_quarantine_op(quarantined))
        if days_by_product:
            ops.append(_days_op(tm.name, days_by_product))
        return ops

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
        return self._tm_file_ops(
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
        return self._write([_days_op(tm_name, days_by_product)])

    def record_products(self, records: Sequence[ProductFileRecord]) -> WriteOutcome:
        """Record written product files; a newer ``written_at`` for the same path replaces the row."""
        return self._write([self._products_op(records)])

    @staticmethod
    def _products_op(records: Sequence[ProductFileRecord]) -> dict[str, Any]:
        rows = []
        for rec in records:
            row = asdict(rec)
            row["path"] = str(rec.path)
            row["partition_day"] = rec.partition_day.isoformat() if rec.partition_day else None
            row["inputs"] = [str(i) for i in rec.inputs]
            row["written_at"] = _to_utc_naive(rec.written_at).isoformat()
            row["data_version"] = rec.data_version or rec.sha256
            rows.append(row)
        return {"op": "products", "rows": rows}

    def record_lb_results(
        self, records: Sequence[ProductFileRecord], inputs: Mapping[Path | str, Iterable[str]]
    ) -> WriteOutcome:
        """Record LB files and the TM files that fed each one, in one transaction.

        One write for a whole run instead of one per file: each catalog transaction costs about
        30 ms (open + close), which dominated a three-day TM -> LB run.
        """
        ops = [self._products_op(records)] if records else []
        pairs = sorted({(str(path), name) for path, names in inputs.items() for name in names})
        if pairs:
            ops.append({"op": "lb_inputs", "pairs": [list(p) for p in pairs]})
        return self._write(ops)

    def record_lb_inputs(self, lb_path: Path | str, tm_names: Iterable[str]) -> WriteOutcome:
        """Record that the TM files ``tm_names`` fed the LB file ``lb_path`` (added to what is known)."""
        return self._write(
            [{"op": "lb_inputs", "lb_path": str(lb_path), "tm_names": sorted(set(tm_names))}]
        )

    def record_quarantine(self, items: Sequence[QuarantinedPacket]) -> WriteOutcome:
        """Record quarantined packets (de-duplicated on file, packet index and reason)."""
        return self._write([_quarantine_op(items)])

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
                "catalog locked, spool not flushed", path=str(self.path), waited_s=outcome.waited_s
            )
        return outcome.ingested

    def pending_manifests(self) -> list[Path]:
        """Spool manifests waiting to be ingested, oldest first."""
        if not self.spool_dir.is_dir():
            return []
        return sorted(self.spool_dir.glob("*.json"))

    # ------------------------------------------------------------------ reads

    def is_known_tm(self, name: str, sha256: str) -> bool:
        """Tell whether this exact content of ``name`` was indexed (status in `KNOWN_STATUSES`)."""
        sql = "SELECT count(*) FROM tm_file_versions WHERE name = ? AND sha256 = ? AND list_contains(?, status)"
        return self._read(
            lambda c: c.execute(sql, [name, sha256, list(KNOWN_STATUSES)]).fetchone()[0] > 0
        )

    def tm_file(self, name: str) -> dict[str, Any] | None:
        """Return the current ``tm_files`` row of ``name`` (``packets_by_kind`` as a dict), or None."""
        rows = self._read(
            lambda c: _dicts(c.execute("SELECT * FROM tm_files WHERE name = ?", [name]))
        )
        if not rows:
            return None
        row = rows[0]
        row["packets_by_kind"] = json.loads(row["packets_by_kind"] or "{}")
        return row

    def tm_file_versions(self, name: str) -> list[dict[str, Any]]:
        """Every content version seen under ``name``, oldest first."""
        sql = "SELECT * FROM tm_file_versions WHERE name = ? ORDER BY first_seen, sha256"
        return self._read(lambda c: _dicts(c.execute(sql, [name])))

    def tm_files_for_day(self, scet_day: date, products: Iterable[str] | None = None) -> list[str]:
        """Names of the TM files that touched ``scet_day`` (for any of ``products``), sorted."""
        return [name for name, _ in self.tm_paths_for_day(scet_day, products)]

    def tm_paths_for_day(
        self, scet_day: date, products: Iterable[str] | None = None
    ) -> list[tuple[str, Path | None]]:
        """(name, current path) of the TM files that touched ``scet_day``, sorted by name."""
        sql = (
            "SELECT DISTINCT d.tm_name, f.path FROM tm_file_days d LEFT JOIN tm_files f"
            " ON f.name = d.tm_name WHERE d.scet_day = ?"
        )
        params: list[Any] = [scet_day]
        if products is not None:
            sql += " AND list_contains(?, d.product)"
            params.append(list(products))
        rows = self._read(lambda c: c.execute(sql + " ORDER BY d.tm_name", params).fetchall())
        return [(name, Path(p) if p else None) for name, p in rows]

    def touched_products(self, scet_day: date) -> set[str]:
        """Products that the indexed TM files touched on a SCET day (``tm_file_days``)."""
        sql = "SELECT DISTINCT product FROM tm_file_days WHERE scet_day = ?"
        return {r[0] for r in self._read(lambda c: c.execute(sql, [scet_day]).fetchall())}

    def partition_files(
        self, level: str, partition_day: date, products: Iterable[str] | None = None
    ) -> dict[str, list[Path]]:
        """Files of a level's partition, per product key (``product_files``).

        Daily files match on ``partition_day``. Per-request (BSD) files without one belong to
        the day when a TM file that touched that day for the product is among their inputs (LB),
        or among the inputs of an LB file they were made from (L0 and later).
        """
        chosen = list(products) if products is not None else None
        params = [level.upper(), chosen or [], chosen, partition_day, partition_day, partition_day]
        rows = self._read(lambda c: c.execute(_PARTITION_SQL, params).fetchall())
        out: dict[str, list[Path]] = {}
        for product, path in rows:
            out.setdefault(product, []).append(Path(path))
        return out

    def request_files(self, level: str, products: Iterable[str]) -> list[Path]:
        """Per-request (BSD) files of a level for ``products``, whatever their day, sorted."""
        sql = (
            "SELECT path FROM product_files WHERE level = ? AND partition_day IS NULL"
            " AND list_contains(?, product) ORDER BY path"
        )
        params = [level.upper(), list(products)]
        return [Path(r[0]) for r in self._read(lambda c: c.execute(sql, params).fetchall())]

    def days_needing_reprocessing(self, level: str = "L1") -> dict[date, list[str]]:
        """Partition days whose current files were made with kernels that do not cover them."""
        sql = (
            "SELECT partition_day, list(DISTINCT product ORDER BY product) FROM product_files"
            " WHERE level = ? AND needs_reprocessing AND partition_day IS NOT NULL"
            " GROUP BY partition_day ORDER BY partition_day"
        )
        rows = self._read(lambda c: c.execute(sql, [level.upper()]).fetchall())
        return {day: list(products) for day, products in rows}

    def lb_tm_inputs(self, lb_path: Path | str) -> list[str]:
        """Names of the TM files recorded as inputs of an LB file, sorted."""
        sql = "SELECT tm_name FROM lb_inputs WHERE lb_path = ? ORDER BY tm_name"
        return [r[0] for r in self._read(lambda c: c.execute(sql, [str(lb_path)]).fetchall())]

    def product_file(self, path: Path | str) -> dict[str, Any] | None:
        """Return the ``product_files`` row of one path, or None."""
        rows = self._read(
            lambda c: _dicts(c.execute("SELECT * FROM product_files WHERE path = ?", [str(path)]))
        )
        return rows[0] if rows else None

    def quarantined(self, file: str | None = None) -> list[dict[str, Any]]:
        """Quarantined packets (of one file), ``packet_index`` None for whole-file problems."""
        sql = "SELECT file, packet_index, packet_id, spid, reason, hex_prefix, recorded_at FROM quarantine"
        params: list[Any] = []
        if file is not None:
            sql += " WHERE file = ?"
            params.append(file)
        rows = self._read(
            lambda c: _dicts(c.execute(sql + " ORDER BY file, packet_index, reason", params))
        )
        for row in rows:
            if row["packet_index"] < 0:
                row["packet_index"] = None
        return rows

    def stats(self) -> dict[str, Any]:
        """Row counts per table, TM files per status, products per level and pending spool size."""

        def query(c: duckdb.DuckDBPyConnection) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for table in (
                "tm_files",
                "tm_file_versions",
                "tm_file_days",
                "product_files",
                "lb_inputs",
                "quarantine",
            ):
                out[table] = c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            out["tm_files_by_status"] = dict(
                c.execute(
                    "SELECT status, count(*) FROM tm_files GROUP BY ALL ORDER BY 1"
                ).fetchall()
            )
            out["product_files_by_level"] = dict(
                c.execute(
                    "SELECT level, count(*) FROM product_files GROUP BY ALL ORDER BY 1"
                ).fetchall()
            )
            return out

        out = self._read(query)
        out["spool_pending"] = len(self.pending_manifests())
        return out

    def connect_readonly(self, *, timeout_s: float | None = None) -> duckdb.DuckDBPyConnection:
        """Open a read-only connection (use it as a context manager and close it soon).

        While it is open, writers in other processes spool instead of writing.

        Raises
        ------
        CatalogBusyError
            If another process holds the write lock for longer than ``timeout_s``.
        """
        if not self.path.exists():
            self._write([])
        timeout = self.read_timeout_s if timeout_s is None else timeout_s
        conn, waited = self._connect(read_only=True, timeout_s=timeout)
        if conn is None:
            raise CatalogBusyError(
                "catalog locked by another process", path=str(self.path), waited_s=waited
            )
        return conn

    # ------------------------------------------------------------------ machinery

    def _read(self, fn: Callable[[duckdb.DuckDBPyConnection], _T]) -> _T:
        with self.connect_readonly() as conn:
            return fn(conn)

    def _connect(
        self, *, read_only: bool, timeout_s: float
    ) -> tuple[duckdb.DuckDBPyConnection | None, float]:
        """Open the database, retrying lock conflicts with jittered backoff; None after timeout."""
        start = time.monotonic()
        delay = _BACKOFF_FIRST_S
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only), time.monotonic() - start
            except (duckdb.IOException, duckdb.ConnectionException) as err:
                if not _is_busy(err):
                    raise
                waited = time.monotonic() - start
                if waited + delay > timeout_s:
                    return None, waited
                time.sleep(delay * (0.5 + random.random()))
                delay = min(2 * delay, _BACKOFF_MAX_S)

    def _write(self, ops: list[dict[str, Any]], *, timeout_s: float | None = None) -> WriteOutcome:
        """Write ``ops`` in one transaction after ingesting the spool, or spool them."""
        at = _now().isoformat()
        for op in ops:
            op["at"] = at
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
                conn.execute(_schema_sql())
                ingested = self._ingest_spool(conn)
                if ops:
                    _apply_in_transaction(conn, ops)
            except duckdb.TransactionException as err:
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

    def _spool(self, ops: list[dict[str, Any]]) -> Path:
        """Write ``ops`` atomically as a manifest; names sort by creation time."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:12]}.json"
        tmp = self.spool_dir / f".{name}.tmp"
        text = json.dumps({"format": _MANIFEST_FORMAT, "db": self.path.name, "ops": ops})
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        final = self.spool_dir / name
        os.replace(tmp, final)
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
            if data.get("format") != _MANIFEST_FORMAT or not isinstance(data.get("ops"), list):
                self._reject(manifest, ValueError("unknown manifest format"))
                continue
            try:
                _apply_in_transaction(conn, data["ops"])
            except (
                duckdb.ConstraintException,
                duckdb.ConversionException,
                duckdb.InvalidInputException,
                duckdb.BinderException,
                KeyError,
                TypeError,
                ValueError,
            ) as err:
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


_PARTITION_SQL = """
SELECT p.product, p.path FROM product_files p
WHERE p.level = ? AND (list_contains(?, p.product) OR ? IS NULL) AND (
    p.partition_day = ?
    OR (p.partition_day IS NULL AND (
        EXISTS (SELECT 1 FROM tm_file_days d WHERE d.scet_day = ? AND d.product = p.product
                AND list_contains(p.inputs, d.tm_name))
        OR EXISTS (SELECT 1 FROM product_files q JOIN tm_file_days d
                   ON d.product = q.product AND list_contains(q.inputs, d.tm_name)
                   WHERE q.level = 'LB' AND q.product = p.product AND d.scet_day = ?
                   AND list_contains(p.inputs, regexp_extract(q.path, '[^/]+$')))
    ))
)
ORDER BY p.product, p.path
"""


def _apply_in_transaction(conn: duckdb.DuckDBPyConnection, ops: list[dict[str, Any]]) -> None:
    conn.execute("BEGIN TRANSACTION")
    try:
        for op in ops:
            APPLY[op["op"]](conn, op)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _quarantine_op(items: Sequence[QuarantinedPacket]) -> dict[str, Any]:
    rows = [
        {
            "file": q.file,
            "packet_index": -1 if q.packet_index is None else int(q.packet_index),
            "reason": q.reason,
            "packet_id": None if q.packet_id is None else int(q.packet_id),
            "spid": None if q.spid is None else int(q.spid),
            "hex_prefix": q.hex_prefix or None,
        }
        for q in items
    ]
    return {"op": "quarantine", "rows": rows}


def _days_op(tm_name: str, days_by_product: Mapping[str, Iterable[date]]) -> dict[str, Any]:
    days = {str(p): sorted({d.isoformat() for d in ds}) for p, ds in days_by_product.items()}
    return {"op": "tm_days", "tm_name": tm_name, "days": days}


def _dicts(result: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


# ---------------------------------------------------------------------- operations
# Each write is a list of JSON-able ops; the same code applies them directly and from the spool.
# Every op is an upsert guarded by its time "at", so replaying or reordering ops is harmless.

_CHUNK_ROWS = 500

_TM_VERSION_UPSERT = """
INSERT INTO tm_file_versions (name, sha256, path, size, kind, status, error, n_packets, n_quarantined,
    packets_by_kind, scet_coarse_min, scet_coarse_max, first_seen, last_seen, last_indexed)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::TIMESTAMP, ?::TIMESTAMP, ?::TIMESTAMP)
ON CONFLICT (name, sha256) DO UPDATE SET path = excluded.path, size = excluded.size,
    kind = excluded.kind, status = excluded.status, error = excluded.error,
    n_packets = excluded.n_packets, n_quarantined = excluded.n_quarantined,
    packets_by_kind = excluded.packets_by_kind, scet_coarse_min = excluded.scet_coarse_min,
    scet_coarse_max = excluded.scet_coarse_max, last_indexed = excluded.last_indexed
WHERE excluded.last_indexed >= tm_file_versions.last_indexed
"""

_TM_VERSION_SEEN = """
UPDATE tm_file_versions SET first_seen = least(first_seen, ?::TIMESTAMP),
    last_seen = greatest(last_seen, ?::TIMESTAMP)
WHERE name = ? AND sha256 = ?
"""

# the current content of a name is the one seen last; tm_files is recomputed from the versions
_TM_FILE_REFRESH = """
INSERT OR REPLACE INTO tm_files
SELECT v.name, v.path, v.size, v.sha256, v.kind,
    (SELECT count(*) FROM tm_file_versions w WHERE w.name = v.name AND w.first_seen <= v.first_seen),
    (SELECT count(*) FROM tm_file_versions w WHERE w.name = v.name),
    v.status, v.error, v.n_packets, v.n_quarantined, v.packets_by_kind, v.scet_coarse_min,
    v.scet_coarse_max, (SELECT min(first_seen) FROM tm_file_versions w WHERE w.name = v.name),
    v.last_seen, v.last_indexed
FROM tm_file_versions v WHERE v.name = ? ORDER BY v.last_seen DESC, v.sha256 LIMIT 1
"""

_PRODUCT_COLUMNS = (
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


def _apply_tm_file(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    at, name, sha = op["at"], op["name"], op["sha256"]
    exists = conn.execute(
        "SELECT count(*) FROM tm_file_versions WHERE name = ? AND sha256 = ?", [name, sha]
    ).fetchone()[0]
    if not (op["status"] == "duplicate" and exists):
        conn.execute(
            _TM_VERSION_UPSERT,
            [
                name,
                sha,
                op["path"],
                op["size"],
                op["kind"],
                op["status"],
                op["error"],
                op["n_packets"],
                op["n_quarantined"],
                json.dumps(op["packets_by_kind"], sort_keys=True),
                op["scet_coarse_min"],
                op["scet_coarse_max"],
                at,
                at,
                at,
            ],
        )
    conn.execute(_TM_VERSION_SEEN, [at, at, name, sha])
    conn.execute(_TM_FILE_REFRESH, [name])


def _apply_tm_days(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    rows = [
        (op["tm_name"], product, d, op["at"]) for product, days in op["days"].items() for d in days
    ]
    _insert_rows(
        conn,
        "tm_file_days",
        [("tm_name", ""), ("product", ""), ("scet_day", "DATE"), ("recorded_at", "TIMESTAMP")],
        rows,
        "ON CONFLICT DO UPDATE SET recorded_at = least(recorded_at, excluded.recorded_at)",
    )


def _apply_products(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    newest: dict[str, dict[str, Any]] = {}
    for row in op["rows"]:  # one row per path per statement (DuckDB cannot update a row twice)
        if row["path"] not in newest or row["written_at"] >= newest[row["path"]]["written_at"]:
            newest[row["path"]] = row
    names = [c for c, _ in _PRODUCT_COLUMNS]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    _insert_rows(
        conn,
        "product_files",
        _PRODUCT_COLUMNS,
        [tuple(r.get(c) for c in names) for r in newest.values()],
        f"ON CONFLICT (path) DO UPDATE SET {updates} WHERE excluded.written_at >= product_files.written_at",
    )


def _apply_lb_inputs(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    # one LB file (``lb_path`` + ``tm_names``) or many (``pairs`` of [lb_path, tm_name])
    pairs = op.get("pairs") or [(op["lb_path"], name) for name in op["tm_names"]]
    rows = [(lb_path, name, op["at"]) for lb_path, name in pairs]
    _insert_rows(
        conn,
        "lb_inputs",
        [("lb_path", ""), ("tm_name", ""), ("recorded_at", "TIMESTAMP")],
        rows,
        "ON CONFLICT DO UPDATE SET recorded_at = least(recorded_at, excluded.recorded_at)",
    )


def _apply_quarantine(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    keyed = {(r["file"], r["packet_index"], r["reason"]): r for r in op["rows"]}
    rows = [
        (
            r["file"],
            r["packet_index"],
            r["reason"],
            r["packet_id"],
            r["spid"],
            r["hex_prefix"],
            op["at"],
        )
        for r in keyed.values()
    ]
    columns = [
        ("file", ""),
        ("packet_index", "BIGINT"),
        ("reason", ""),
        ("packet_id", "BIGINT"),
        ("spid", "BIGINT"),
        ("hex_prefix", "VARCHAR"),
        ("recorded_at", "TIMESTAMP"),
    ]
    _insert_rows(
        conn,
        "quarantine",
        columns,
        rows,
        "ON CONFLICT DO UPDATE SET recorded_at = least(recorded_at, excluded.recorded_at)",
    )


def _insert_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    conflict: str,
) -> None:
    """Multi-row INSERT ... VALUES in chunks (far faster than executemany in DuckDB)."""
    names = ", ".join(c for c, _ in columns)
    one = "(" + ", ".join(f"?::{t}" if t else "?" for _, t in columns) + ")"
    for start in range(0, len(rows), _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))} {conflict}"
        conn.execute(sql, [v for row in chunk for v in row])


APPLY: dict[str, Callable[[duckdb.DuckDBPyConnection, dict[str, Any]], None]] = {
    "tm_file": _apply_tm_file,
    "tm_days": _apply_tm_days,
    "products": _apply_products,
    "lb_inputs": _apply_lb_inputs,
    "quarantine": _apply_quarantine,
}


# ====================================================================== publish history (issue 4)
# SOAR delivery history (`stix_assets.core.publish`): the columns of STIXCore's published.sqlite
# plus the state of the delivery, the data version and the lineage. Publishing must never deliver
# without recording, so these writes never spool: `write_publish_history` raises
# `CatalogBusyError` when the lock cannot be had.

PUBLISH_HISTORY_SQL = """
CREATE TABLE IF NOT EXISTS publish_history (
    id VARCHAR PRIMARY KEY,       -- uuid of the decision
    name VARCHAR NOT NULL,        -- file name as published (complete, maybe version-bumped)
    path VARCHAR NOT NULL,        -- directory of the source file
    version INTEGER NOT NULL,     -- version of the published name
    p_date DOUBLE NOT NULL,       -- UNIX time of the decision
    m_date DOUBLE NOT NULL,       -- source mtime (STIXCore: ctime)
    esaname VARCHAR NOT NULL,     -- first five name parts of the published name
    modified_esaname VARCHAR,     -- '-supN' name (+ .fits) if published as supplement
    result INTEGER,               -- 10 PUBLISHED 11 IGNORED 12 MODIFIED 13 BLACKLISTED 14 ERROR
    state VARCHAR NOT NULL,       -- pending (transfer started) / done
    reason VARCHAR,
    source_name VARCHAR NOT NULL, -- file name in the archive (maybe with U)
    source_size BIGINT,
    identity VARCHAR,             -- name without version/status: one product over its versions
    delivered_name VARCHAR,       -- name at the target (supplement name for MODIFIED)
    target VARCHAR,               -- host:dir written to
    data_version VARCHAR,         -- sha256 of the DATA HDU (FITS) or of the file (SVG)
    file_sha256 VARCHAR,          -- sha256 of the delivered bytes
    supersedes VARCHAR,           -- earlier delivered name of the same identity (lineage)
    inputs VARCHAR[],             -- product_files.inputs of the source, if known
    product_day DATE,
    run_id VARCHAR,
    recorded_at TIMESTAMP NOT NULL
);
"""

PUBLISH_HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", ""),
    ("name", ""),
    ("path", ""),
    ("version", "INTEGER"),
    ("p_date", "DOUBLE"),
    ("m_date", "DOUBLE"),
    ("esaname", ""),
    ("modified_esaname", "VARCHAR"),
    ("result", "INTEGER"),
    ("state", ""),
    ("reason", "VARCHAR"),
    ("source_name", ""),
    ("source_size", "BIGINT"),
    ("identity", "VARCHAR"),
    ("delivered_name", "VARCHAR"),
    ("target", "VARCHAR"),
    ("data_version", "VARCHAR"),
    ("file_sha256", "VARCHAR"),
    ("supersedes", "VARCHAR"),
    ("inputs", "VARCHAR[]"),
    ("product_day", "DATE"),
    ("run_id", "VARCHAR"),
    ("recorded_at", "TIMESTAMP"),
)


def write_publish_history(
    catalog: Catalog, ops: list[dict[str, Any]], *, timeout_s: float | None = None
) -> None:
    """Apply publish-history ops now, in one transaction, or raise (never spooled).

    Ops: ``{"op": "publish_upsert", "rows": [row, ...]}`` (rows keyed by ``id``, columns of
    `PUBLISH_HISTORY_COLUMNS` without ``recorded_at``) and ``{"op": "publish_delete", "ids": [...]}``.
    An empty list only creates the table.

    Raises
    ------
    CatalogBusyError
        If another process holds the catalog for longer than ``timeout_s`` (default
        ``lock_timeout_s``); nothing is written then.
    """
    at = _now().isoformat()
    for op in ops:
        op["at"] = at
    catalog.path.parent.mkdir(parents=True, exist_ok=True)
    timeout = catalog.lock_timeout_s if timeout_s is None else timeout_s
    conn, waited = catalog._connect(read_only=False, timeout_s=timeout)
    if conn is None:
        raise CatalogBusyError(
            "catalog locked by another process, publish history not written",
            path=str(catalog.path),
            waited_s=waited,
        )
    try:
        conn.execute(_schema_sql())
        conn.execute(PUBLISH_HISTORY_SQL)
        catalog._ingest_spool(conn)
        if ops:
            _apply_in_transaction(conn, ops)
    finally:
        conn.close()


def read_publish_history(catalog: Catalog) -> list[dict[str, Any]]:
    """Every publish-history row, oldest decision first (empty if the table does not exist yet).

    Raises
    ------
    CatalogBusyError
        If the catalog stays locked for longer than ``read_timeout_s``.
    """

    def query(c: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        try:
            return _dicts(c.execute("SELECT * FROM publish_history ORDER BY p_date, id"))
        except duckdb.CatalogException:
            return []

    return catalog._read(query)


def _apply_publish_upsert(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    names = [c for c, _ in PUBLISH_HISTORY_COLUMNS]
    rows = [tuple({**r, "recorded_at": op["at"]}.get(c) for c in names) for r in op["rows"]]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    _insert_rows(
        conn,
        "publish_history",
        PUBLISH_HISTORY_COLUMNS,
        rows,
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
    )


def _apply_publish_delete(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    for row_id in op["ids"]:
        conn.execute("DELETE FROM publish_history WHERE id = ?", [row_id])


APPLY["publish_upsert"] = _apply_publish_upsert
APPLY["publish_delete"] = _apply_publish_delete
__all__ += ["PUBLISH_HISTORY_COLUMNS", "read_publish_history", "write_publish_history"]


# ====================================================================== kernel zips (issue 4, sync)
# SOC kernel zips extracted into the kernel store by `stix_assets.core.sync.extract_kernel_zips`
# (replaces the old cron's processed_files.txt). Writes may spool like every other write, so the
# reader also counts pending manifests: a zip recorded while the catalog was locked is known.

KERNEL_ZIPS_SQL = """
CREATE TABLE IF NOT EXISTS kernel_zips (
    name VARCHAR PRIMARY KEY,     -- zip file name (solo_ANC*20*zip)
    size BIGINT NOT NULL,         -- size and mtime identify the delivery (rsync keeps the mtime)
    mtime_ns BIGINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    n_files INTEGER NOT NULL,
    files VARCHAR[],              -- kernel files written, relative to the kernel root
    extracted_at TIMESTAMP NOT NULL,
    run_id VARCHAR
);
"""


def record_kernel_zip(
    catalog: Catalog,
    *,
    name: str,
    size: int,
    mtime_ns: int,
    sha256: str,
    files: Sequence[str],
    run_id: str | None = None,
) -> WriteOutcome:
    """Record one extracted kernel zip (a later record of the same name replaces it)."""
    row = {
        "name": name,
        "size": int(size),
        "mtime_ns": int(mtime_ns),
        "sha256": sha256,
        "files": [str(f) for f in files],
        "run_id": run_id,
    }
    return catalog._write([{"op": "kernel_zip", "row": row}])


def extracted_kernel_zips(catalog: Catalog) -> dict[str, tuple[int, int]]:
    """``{zip name: (size, mtime_ns)}`` of every extracted zip, pending spool records included.

    Raises
    ------
    CatalogBusyError
        If the catalog stays locked for longer than ``read_timeout_s``.
    """

    def query(c: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
        try:
            rows = c.execute("SELECT name, size, mtime_ns FROM kernel_zips").fetchall()
        except duckdb.CatalogException:
            return {}
        return {name: (int(size), int(mtime)) for name, size, mtime in rows}

    known = catalog._read(query)
    for manifest in catalog.pending_manifests():
        try:
            ops = json.loads(manifest.read_text("utf-8")).get("ops", [])
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            continue
        for op in ops:
            if isinstance(op, dict) and op.get("op") == "kernel_zip":
                row = op["row"]
                known[row["name"]] = (int(row["size"]), int(row["mtime_ns"]))
    return known


def _apply_kernel_zip(conn: duckdb.DuckDBPyConnection, op: dict[str, Any]) -> None:
    conn.execute(KERNEL_ZIPS_SQL)
    r = op["row"]
    conn.execute(
        "INSERT OR REPLACE INTO kernel_zips VALUES (?, ?, ?, ?, ?, ?::VARCHAR[], ?::TIMESTAMP, ?)",
        [
            r["name"],
            r["size"],
            r["mtime_ns"],
            r["sha256"],
            len(r["files"]),
            r["files"],
            op["at"],
            r["run_id"],
        ],
    )


APPLY["kernel_zip"] = _apply_kernel_zip
__all__ += ["KERNEL_ZIPS_SQL", "extracted_kernel_zips", "record_kernel_zip"]
