"""The publish history in the DuckDB catalog: decisions, pending deliveries, reconciliation.

One row per decision about one state (path, mtime) of an archive file, with the columns of
STIXCore's ``published.sqlite`` (``name, path, version, p_date, m_date, esaname,
modified_esaname, result``) plus ``state``, ``reason``, the data version and the lineage (see
`stix_assets.core.catalog.PUBLISH_HISTORY_SQL`).

Crash safety. A delivery is recorded before and after the transfer:

1. row with ``state='pending'`` (delivered name, sha256 of the staged bytes, target);
2. transfer to ``.<name>.part`` in the target, then rename to ``<name>``;
3. the row becomes ``state='done'``.

`PublishHistory.reconcile` runs at the start of every publish: a pending row whose file is at the
target with the recorded sha256 becomes done; otherwise its ``.part`` leftover is removed and the
row deleted, so the file is decided again. History and target therefore agree after any crash.

Verification (issue 10). An archive file that fails its checksums gets a row with result
``REFUSED`` (15): it is not offered again until it changes, and it is nobody's ESA-name neighbour
(it never reached SOAR). A delivered copy that fails verification is removed from the target and
its row becomes ``state='removed'`` (result ERROR): kept as a record, but not a decision, so the
file is offered again next run.

Every write happens now or fails (`write_publish_history` never spools): publishing never
delivers without recording. A catalog locked by another process is a `PublishError`.
"""

import logging
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stix_assets.core.catalog import (
    Catalog,
    CatalogBusyError,
    read_publish_history,
    write_publish_history,
)
from stix_assets.core.errors import PublishError
from stix_assets.core.publish.transfer import Target

__all__ = [
    "REMOVED",
    "RESULT_CODES",
    "RESULT_NAMES",
    "PublishHistory",
    "import_published_sqlite",
    "new_row_id",
]

logger = logging.getLogger(__name__)

RESULT_CODES = {
    "PUBLISHED": 10,
    "IGNORED": 11,
    "MODIFIED": 12,
    "BLACKLISTED": 13,
    "ERROR": 14,
    "REFUSED": 15,  # new: failed checksum verification, never staged or delivered
}
RESULT_NAMES = {v: k for k, v in RESULT_CODES.items()}
DELIVERED = frozenset({10, 12})
REMOVED = "removed"
"""State of a row whose delivered copy failed verification and was removed from the target."""


def new_row_id() -> str:
    """A fresh history row id."""
    return uuid.uuid4().hex


def _busy(err: CatalogBusyError, what: str) -> PublishError:
    return PublishError(
        f"publish history locked by another process ({err.path}, waited {err.waited_s:.1f} s); "
        f"{what}"
    )


class PublishHistory:
    """The publish-history rows of one catalog, read once and kept current in memory.

    Parameters
    ----------
    catalog : the DuckDB catalog
    dry_run : keep changes in memory only
    """

    def __init__(self, catalog: Catalog, *, dry_run: bool = False) -> None:
        self.catalog = catalog
        self.dry_run = dry_run
        try:
            if not dry_run:
                write_publish_history(catalog, [])
            self.rows: list[dict[str, Any]] = read_publish_history(catalog)
        except CatalogBusyError as err:
            raise _busy(err, "nothing delivered") from err

    # ------------------------------------------------------------------ writes
    def upsert(self, row: Mapping[str, Any], *, what: str = "nothing delivered") -> None:
        """Insert or replace one row (by ``id``), in the catalog now, then in memory.

        Raises
        ------
        PublishError
            If the catalog is locked (the row is then not recorded anywhere).
        """
        clean = dict(row)
        clean["inputs"] = list(clean.get("inputs") or [])
        day = clean.get("product_day")
        clean["product_day"] = day.isoformat() if hasattr(day, "isoformat") else day
        if not self.dry_run:
            try:
                write_publish_history(self.catalog, [{"op": "publish_upsert", "rows": [clean]}])
            except CatalogBusyError as err:
                raise _busy(err, what) from err
        self.rows = [r for r in self.rows if r["id"] != clean["id"]] + [clean]

    def delete(self, row_id: str, *, what: str = "") -> None:
        """Delete one row (a pending delivery that did not happen)."""
        if not self.dry_run:
            try:
                write_publish_history(self.catalog, [{"op": "publish_delete", "ids": [row_id]}])
            except CatalogBusyError as err:
                raise _busy(err, what or f"pending row {row_id} left for the next run") from err
        self.rows = [r for r in self.rows if r["id"] != row_id]

    # ------------------------------------------------------------------ reads
    def decided(self) -> set[tuple[str, float]]:
        """(source path, mtime) of every decided file state (a removed delivery is not one)."""
        return {
            (str(Path(r["path"]) / r["source_name"]), float(r["m_date"]))
            for r in self.rows
            if r.get("source_name") and r["state"] != REMOVED
        }

    def imported_names(self) -> set[str]:
        """Names from an imported STIXCore history (rows without identity)."""
        return {r["name"] for r in self.rows if not r.get("identity")}

    def by_identity(self, identity: str) -> list[dict[str, Any]]:
        """Rows of one product identity (all versions), oldest first."""
        return [r for r in self.rows if r.get("identity") == identity]

    def by_esaname(self, esaname: str) -> list[dict[str, Any]]:
        """Rows with this ESA name, oldest first, without REFUSED rows and removed deliveries."""
        return sorted(
            (
                r
                for r in self.rows
                if r["esaname"] == esaname
                and r["result"] != RESULT_CODES["REFUSED"]
                and r["state"] != REMOVED
            ),
            key=lambda r: r["p_date"],
        )

    def delivered_names(self) -> set[str]:
        """Names at the target of done or pending deliveries."""
        return {
            r["delivered_name"]
            for r in self.rows
            if r.get("delivered_name") and (r["state"] == "pending" or r["result"] in DELIVERED)
        }

    # ------------------------------------------------------------------ crash recovery
    def reconcile(self, target: Target) -> list[str]:
        """Settle pending rows against the target folder; return what was done per row.

        A pending row of another target is left alone (reported as ``unreconciled``).
        """
        notes: list[str] = []
        for row in [r for r in self.rows if r["state"] == "pending"]:
            name = row["delivered_name"]
            if row.get("target") != target.label:
                notes.append(f"unreconciled {name}: pending for {row.get('target')}")
                continue
            sha = target.sha256(name)
            if sha is not None and sha == row.get("file_sha256"):
                self.upsert({**row, "state": "done"}, what="reconciliation not recorded")
                notes.append(f"completed {name}: found at the target")
            elif sha is None:
                target.remove_partial(name)
                self.delete(row["id"])
                notes.append(f"rolled back {name}: not at the target")
            else:
                notes.append(f"unreconciled {name}: a different file has this name at the target")
            logger.warning("publish reconcile %s", notes[-1])
        return notes


def import_published_sqlite(path: Path | str) -> list[dict[str, Any]]:
    """Rows of a STIXCore ``published.sqlite`` as publish-history rows (to `PublishHistory.upsert`).

    Imported rows have no identity or data version: they block their file names (the old rule)
    and count as ESA-name neighbours, but cannot take part in data comparisons.
    """
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        old = [dict(r) for r in conn.execute("SELECT * FROM published ORDER BY p_date")]
    return list(_converted(old))


def _converted(rows: Iterable[Mapping[str, Any]]) -> Iterable[dict[str, Any]]:
    for r in rows:
        yield {
            "id": f"stixcore-{r['id']}",
            "name": r["name"],
            "path": r["path"],
            "version": int(r["version"]),
            "p_date": float(r["p_date"]),
            "m_date": float(r["m_date"]),
            "esaname": r["esaname"],
            "modified_esaname": r.get("modified_esaname"),
            "result": r.get("result"),
            "state": "done",
            "reason": "imported from published.sqlite",
            "source_name": r["name"],
            "delivered_name": r.get("modified_esaname") or r["name"],
        }
