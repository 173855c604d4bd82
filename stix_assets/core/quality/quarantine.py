"""Quarantined packets of one TM file: what the ingest gates and the levels set aside.

The catalog's ``quarantine`` table holds one row per packet left out (file, position in the file,
packetID, SPID, reason), from the ingest gates (`stix_assets.core.tmtc.gates`: not a PUS TM
packet, too long, SCET outside the mission, unknown APID or service, duplicate; and the reader's
invalid hex, truncated packet, length mismatch, malformed XML) and from the levels (a packet L0
could not decode or build). The reason's category is its text up to the first colon.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from stix_assets.core.quality.base import LISTED, WARN, QualityResult

__all__ = ["quarantine_category", "quarantine_result"]


def quarantine_category(reason: str) -> str:
    """The category of a quarantine reason: its text up to the first colon.

    >>> quarantine_category("SCET outside mission: coarse 10 (2000-01-01) not in ...")
    'SCET outside mission'
    """
    return reason.split(":", 1)[0].strip()


def quarantine_result(
    rows: Sequence[Mapping[str, Any]], *, file: str, max_quarantined: int = 0
) -> QualityResult:
    """No packet of a TM file was quarantined (more than ``max_quarantined``).

    Parameters
    ----------
    rows : the file's quarantine rows (`stix_assets.core.catalog.Catalog.quarantined`)
    file : the TM file name
    max_quarantined : how many quarantined packets still pass

    Returns
    -------
    QualityResult
        WARN when more packets were quarantined; metadata: counts by category and the first
        cases with position, packetID and reason.
    """
    by_category: dict[str, int] = {}
    for row in rows:
        category = quarantine_category(str(row["reason"]))
        by_category[category] = by_category.get(category, 0) + 1
    n = len(rows)
    passed = n <= max_quarantined
    summary = (
        f"{file}: no packet quarantined"
        if n == 0
        else f"{file}: {n} packets quarantined ("
        + ", ".join(f"{k} {v}" for k, v in sorted(by_category.items(), key=lambda kv: -kv[1]))
        + ")"
    )
    examples = [
        {
            "packet_index": row.get("packet_index"),
            "packet_id": row.get("packet_id"),
            "spid": row.get("spid"),
            "reason": row["reason"],
        }
        for row in rows[:LISTED]
    ]
    return QualityResult(
        passed,
        WARN,
        summary,
        {"file": file, "quarantined": n, "by_category": by_category, "first": examples},
    )
