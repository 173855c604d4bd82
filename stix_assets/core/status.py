"""File-system and catalog part of ``stix-assets status`` (the Dagster part is in ``status.py``).

Replaces the answers of STIXCore's status socket (``last``, ``next``, ``error``): which TM files
wait (in the waiting folder, not staged yet, and in the incoming folder, not yet ingested), the
last processed TM file and the quarantined packets. A locked catalog is reported, not raised.

The folders are read with ``os.scandir``: name, type and inode come from the directory entries,
so a file is ``stat``'ed only when its entry cannot answer (issue 12: ``waiting/`` and
``incoming/`` hold every TM file of the mission).
"""

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

from stix_assets.core.catalog import Catalog, CatalogBusyError, catalog_location
from stix_assets.core.config import Settings
from stix_assets.core.tmtc import is_tm_file_name

__all__ = ["catalog_status", "pipeline_status", "status_document", "tm_backlog"]

logger = logging.getLogger(__name__)

_LATEST_QUARANTINE = 5


def _tm_entries(folder: Path) -> dict[str, os.DirEntry]:
    """TM file entries of a folder by name, without a ``stat`` (an absent folder is empty)."""
    try:
        with os.scandir(folder) as entries:
            return {e.name: e for e in entries if is_tm_file_name(e.name) and e.is_file()}
    except FileNotFoundError:
        return {}


def _same_version(a: os.DirEntry, b: os.DirEntry) -> bool:
    """Whether two entries hold the same version of a file (size and mtime, as the stage step)."""
    if a.inode() == b.inode():
        return True  # a hard link (how the stage step puts a file into incoming/)
    try:
        sa, sb = a.stat(), b.stat()
    except FileNotFoundError:
        return False
    return (sa.st_size, sa.st_mtime_ns) == (sb.st_size, sb.st_mtime_ns)


def _unstaged(waiting: dict[str, os.DirEntry], incoming: dict[str, os.DirEntry]) -> list[str]:
    """Names in ``waiting`` whose version is not in ``incoming`` yet, sorted."""
    return sorted(
        name
        for name, entry in waiting.items()
        if name not in incoming or not _same_version(entry, incoming[name])
    )


def _not_ingested(incoming: dict[str, os.DirEntry], known: dict[str, int]) -> list[str]:
    """Names in ``incoming`` the catalog does not know, or knows with another size, sorted."""
    out = []
    for name, entry in incoming.items():
        if name not in known:
            out.append(name)  # no stat needed
            continue
        try:
            if entry.stat().st_size != known[name]:
                out.append(name)
        except FileNotFoundError:
            continue  # moved away meanwhile: not in the inbox any more
    return sorted(out)


def tm_backlog(
    waiting_dir: Path, incoming_dir: Path, known: dict[str, int] | None
) -> dict[str, Any]:
    """TM files not processed yet.

    Parameters
    ----------
    waiting_dir, incoming_dir : the two folders of the TM path
    known : ``{name: size}`` of the files the catalog has ingested; None if it could not be read
    """
    incoming_entries = _tm_entries(Path(incoming_dir))
    waiting = _unstaged(_tm_entries(Path(waiting_dir)), incoming_entries)
    incoming = _not_ingested(incoming_entries, known) if known is not None else []
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
            known = catalog.tm_sizes()
        except CatalogBusyError:
            known = None
    elif cat.get("busy"):
        known = None
    return {"tm": tm_backlog(waiting_dir, incoming_dir, known), "catalog": cat}


def status_document(
    settings: Settings,
    *,
    runs: dict[str, Any] | None,
    checks: dict[str, Any] | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """Everything ``stix-assets status`` shows, as one JSON-able dict.

    ``runs`` and ``checks`` are the orchestrator's part as the caller read it (None without a
    Dagster instance); the TM folders and the catalog are read here.
    """
    out: dict[str, Any] = {"generated_at": now.isoformat(), "runs": runs, "checks": checks}
    # not a catalog opened for writing: status creates no folder
    catalog = Catalog(catalog_location(settings), archive_root=settings.archive_dir)
    out.update(pipeline_status(settings.waiting_dir, settings.incoming_dir, catalog))
    return out
