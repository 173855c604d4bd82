"""Packets a level left out, named as at ingest: TM file, position in it, packet id and SPID.

An L0 build finds a bad packet in an LB file, which keeps of its origin only the TM file name
(``raw_file``) and the XML ``packetID``. `level_issues` adds the packet's position in the TM file
(from the TM files this run indexed, else by reading the TM file the catalog names), so every
report of a packet, whatever the level, reads the same way: ``<TM file> packet <position>``.
`quarantine_records` turns them into catalog quarantine rows.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from stix_assets.core.products.file_cache import FileCache
from stix_assets.core.tmtc import QuarantinedPacket
from stix_assets.core.tmtc.soc import packet_positions

__all__ = ["level_issues", "quarantine_records"]

logger = logging.getLogger(__name__)

_POSITIONS: FileCache[dict[int, int]] = FileCache(maxsize=64)
"""packetID -> position of TM files read for this purpose (only when a level left packets out)."""


class _Catalog(Protocol):
    def tm_file(self, name: str) -> dict[str, Any] | None: ...


def _positions_of(
    tm_file: str, indexed: Mapping[str, Any], catalog: _Catalog | None
) -> dict[int, int] | None:
    index = indexed.get(tm_file)
    batch = getattr(index, "batch", None)
    if batch is not None and batch.position is not None:
        return dict(zip(batch.packet_id.tolist(), batch.position.tolist(), strict=True))
    row = catalog.tm_file(tm_file) if catalog is not None else None
    path = Path(row["path"]) if row and row.get("path") else None
    if path is None or not path.is_file():
        return None
    try:
        return _POSITIONS.get(path, (), lambda: packet_positions(path))
    except OSError as err:
        logger.warning("tm positions unreadable file=%s error=%s", tm_file, err)
        return None


def level_issues(
    level: str,
    issues: Iterable[Any],
    *,
    indexed: Mapping[str, Any] | None = None,
    catalog: _Catalog | None = None,
) -> tuple[dict[str, object], ...]:
    """Issues of a level build as plain dicts, packets named by TM file and position.

    Parameters
    ----------
    level : ``"L0"``, ``"L1"`` or ``"CAL"``
    issues : `L0Issue` / `L1Issue` values (anything with ``as_dict()``)
    indexed : TM files this run indexed, by name (`stix_assets.core.ingest.TmIndex`)
    catalog : where the path of another TM file is found

    Returns
    -------
    One dict per issue, de-duplicated: ``level``, ``file`` (the TM file of a packet, else the
    product file), ``packet_index`` (position in the TM file, ``None`` if unknown or for a whole
    file), ``packet_id``, ``spid``, ``reason``, ``source`` (the LB/L0 file where it was found) and
    ``source_row`` (the row there).
    """
    cache: dict[str, dict[int, int] | None] = {}
    out: dict[tuple, dict[str, object]] = {}
    for issue in issues:
        d = issue.as_dict()
        tm_file, packet_id = d.get("tm_file"), d.get("packet_id")
        position = None
        if tm_file and packet_id is not None:
            if tm_file not in cache:
                cache[tm_file] = _positions_of(str(tm_file), indexed or {}, catalog)
            position = (cache[tm_file] or {}).get(int(packet_id))
        row = {
            "level": level,
            "file": tm_file or d.get("file"),
            "packet_index": position,
            "packet_id": packet_id,
            "spid": d.get("spid"),
            "reason": d["reason"],
            "source": d.get("file"),
            "source_row": d.get("packet_index"),
        }
        out.setdefault((row["file"], position, packet_id, row["reason"]), row)
    return tuple(out.values())


def quarantine_records(issues: Sequence[Mapping[str, object]]) -> list[QuarantinedPacket]:
    """Catalog quarantine rows for the packets among level issues (whole-file issues excluded).

    The reason keeps its category first (``layout beyond packet length: ...``) and ends with the
    level and where the packet was found, e.g. ``[L0, solo_LB_stix-21-6-30_..._V02.fits row 7]``.
    """
    out = []
    for issue in issues:
        if issue.get("packet_id") is None or not issue.get("file"):
            continue
        where = f"{issue['level']}, {issue['source']}"
        if issue.get("source_row") is not None:
            where += f" row {issue['source_row']}"
        spid = issue.get("spid")
        out.append(
            QuarantinedPacket(
                str(issue["file"]),
                None if issue.get("packet_index") is None else int(issue["packet_index"]),
                f"{issue['reason']} [{where}]",
                packet_id=int(issue["packet_id"]),  # type: ignore[call-overload]
                spid=None if spid is None else int(spid),  # type: ignore[call-overload]
            )
        )
    return out
