"""File-system and catalog part of ``stix-assets status`` (the Dagster part is in ``status.py``).

Replaces the answers of STIXCore's status socket (``last``, ``next``, ``error``): which TM files
wait (in the waiting folder, not staged yet, and in the incoming folder, not yet ingested), the
last processed TM file and the quarantined packets. A locked catalog is reported, not raised.
"""

import logging
from pathlib import Path
from typing import Any

from stix_assets.core.catalog import Catalog, CatalogBusyError
from stix_assets.core.sync import scan_waiting
from stix_assets.core.tmtc import is_tm_file_name

__all__ = ["catalog_status", "pipeline_status", "tm_backlog"]

logger = logging.getLogger(__name__)

_LATEST_QUARANTINE = 5


def _tm_sizes(catalog: Catalog) -> dict[str, int]:
    with catalog.connect_readonly() as conn:
        return {
            n: int(s or 0) for n, s in conn.execute("SELECT name, size FROM tm_files").fetchall()
        }


def tm_backlog(
    waiting_dir: Path, incoming_dir: Path, known: dict[str, int] | None
) -> dict[str, Any]:
    """TM files not processed yet.

    Parameters
    ----------
    waiting_dir, incoming_dir : the two folders of the TM path
    known : ``{name: size}`` of the files the catalog has ingested; None if it could not be read
    """
    waiting = [f.name for f in scan_waiting(waiting_dir, incoming_dir) if not f.staged]
    incoming = []
    if Path(incoming_dir).is_dir():
        for path in sorted(Path(incoming_dir).iterdir()):
            if is_tm_file_name(path.name) and path.is_file():
                if known is None or known.get(path.name) != path.stat().st_size:
                    incoming.append(path.name)
    return {
        "waiting": waiting,
        "incoming_not_ingested": incoming if known is not None else None,
        "n_waiting": len(waiting),
        "n_incoming_not_ingested": len(incoming) if known is not None else None,
    }


def catalog_status(catalog: Catalog) -> dict[str, Any]:
    """Last processed TM file and quarantine counts (``busy`` when the catalog is locked).

    ``quarantine`` counts quarantined packets by reason category (the reason up to its first
    colon: ``unknown APID``, ``SCET outside mission``, ``layout beyond packet length`` ...);
    ``quarantine_latest`` lists the latest with file, position in it and packetID.
    """
    if not catalog.exists():
        return {"busy": False, "last_tm_file": None, "quarantine": {}, "quarantine_latest": []}
    try:
        with catalog.connect_readonly() as conn:
            last = conn.execute(
                "SELECT name, status, last_indexed, n_packets, n_quarantined FROM tm_files"
                " ORDER BY last_indexed DESC, name DESC LIMIT 1"
            ).fetchone()
            # by category: the reason up to its first colon ("SCET outside mission", ...)
            counts = dict(
                conn.execute(
                    "SELECT trim(split_part(reason, ':', 1)), count(*) FROM quarantine"
                    " GROUP BY 1 ORDER BY 2 DESC, 1"
                ).fetchall()
            )
            latest = conn.execute(
                "SELECT file, packet_index, packet_id, reason, recorded_at FROM quarantine"
                f" ORDER BY recorded_at DESC, file, packet_index LIMIT {_LATEST_QUARANTINE}"
            ).fetchall()
    except CatalogBusyError as err:
        logger.warning("catalog busy for status error=%s", err)
        return {"busy": True, "error": str(err)}
    return {
        "busy": False,
        "last_tm_file": None
        if last is None
        else {
            "name": last[0],
            "status": last[1],
            "processed_at": last[2].isoformat(),
            "n_packets": last[3],
            "n_quarantined": last[4],
        },
        "quarantine": {k: int(v) for k, v in counts.items()},
        "quarantine_latest": [
            {
                "file": f,
                "packet_index": None if i is None or i < 0 else int(i),
                "packet_id": None if pid is None else int(pid),
                "reason": r,
                "recorded_at": t.isoformat(),
            }
            for f, i, pid, r, t in latest
        ],
        "spool_pending": len(catalog.pending_manifests()),
    }


def pipeline_status(waiting_dir: Path, incoming_dir: Path, catalog: Catalog) -> dict[str, Any]:
    """The file-system and catalog status in one plain dict (JSON-able)."""
    cat = catalog_status(catalog)
    known: dict[str, int] | None = {}
    if catalog.path.exists() and not cat.get("busy"):
        try:
            known = _tm_sizes(catalog)
        except CatalogBusyError:
            known = None
    elif cat.get("busy"):
        known = None
    return {"tm": tm_backlog(waiting_dir, incoming_dir, known), "catalog": cat}
