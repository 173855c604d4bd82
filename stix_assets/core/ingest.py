"""Indexing of one TM file: packets, PI1, BSD request ids, packet kinds, SCET days, IDB versions.

`index_tm_file` is the first step after a TM file arrives. It reads the SOC XML
(`stix_assets.core.tmtc.decode_tm_file`), picks the IDB version of every packet, reads PI1 where
the IDB's PIC table says it is, resolves each packet kind against the IDB and reads the request
id of bulk-science (BSD) packets (domain doc 1.8). The result, a `TmIndex`, feeds the LB writer
and the catalog.

Decisions (docs/decisions.md):

* Packets that fail a plausibility gate (`stix_assets.core.tmtc.gates`: not a PUS TM packet, too
  long, SCET outside the mission window, an APID or service the IDB does not know, an APID that
  does not carry that service, a duplicate within the file) are **quarantined**: left out of
  `TmIndex.batch` (so out of LB) and listed in ``report.quarantined``. Every packet of the file is
  either in the batch or quarantined.
* A packet of a known service whose PI1 (SSID/SID) the IDB does not define is **kept at LB** under
  its registry product (``other`` when no entry claims it), as STIXCore's LB needs no IDB type. It
  is listed in ``report.kept`` (reason ``unknown packet type``) and flagged in
  `TmIndex.known_type` so the L0 step skips it.
* Every report names the file, the packet's position in it (``packet_index``, 0-based element)
  and its XML ``packetID``.
* A SCET outside every IDB history interval uses the store's fallback version (STIXCore raises,
  quirk 5); the report says so.
* A file whose XML breaks (a file still being written, or a damaged one) keeps every packet read
  before the break; `TmIndex.complete` is False and the report names the file and the position.
"""

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.idb import Idb, IdbStore
from stix_assets.core.products.registry import product_for
from stix_assets.core.steps import timed
from stix_assets.core.time import SECONDS_PER_DAY, scet_day, scet_day_index
from stix_assets.core.tmtc import (
    DecodeReport,
    PacketBatch,
    QuarantinedPacket,
    TMFile,
    assign_pi1,
    decode_tm_file,
)
from stix_assets.core.tmtc.gates import (
    PacketGates,
    duplicate_problems,
    header_problems,
    idb_problems,
)

__all__ = ["TmIndex", "index_tm_file", "kind_label"]

logger = logging.getLogger(__name__)

_TC_SEQ_CONTROL = "NIX00002"
_REQUEST_ID = "NIX00037"
_MALFORMED = "malformed XML"
_UNKNOWN_TYPE = "unknown packet type"


@dataclass(frozen=True, slots=True)
class TmIndex:
    """What one TM file holds.

    Attributes
    ----------
    tm : identity of the file (name, size, sha256, kind ``TM``/``TC``)
    batch : its packets, ``pi1`` filled (-1 where the type has none)
    report : quarantined packets and warnings (file, packet index, reason)
    request_id : (n, 2) int64, ``(tc sequence control, request id)`` of BSD packets, -1 otherwise
    idb_version : (n,) object, the IDB version used for each packet
    known_type : (n,) bool, the packet kind exists in that IDB (False: kept at LB only)
    packets_by_kind : ``"21_6_30" -> n`` (``"1_1"`` for kinds without PI1)
    days_by_product : product key -> sorted SCET days touched
    idb_versions : distinct IDB versions used, sorted
    scet_span : (min, max) coarse SCET of the packets, ``None`` for no packets
    complete : False when the XML broke off (file damaged or still being written)
    """

    tm: TMFile
    batch: PacketBatch
    report: DecodeReport
    request_id: NDArray[np.int64]
    idb_version: NDArray[np.object_]
    known_type: NDArray[np.bool_]
    packets_by_kind: dict[str, int]
    days_by_product: dict[str, list[date]]
    idb_versions: list[str]
    scet_span: tuple[int, int] | None
    complete: bool

    def __len__(self) -> int:
        return len(self.batch)

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata and the catalog."""
        return {
            "tm_file": self.tm.name,
            "kind": self.tm.kind,
            "sha256": self.tm.sha256,
            "packets": len(self.batch),
            "packets_by_kind": dict(self.packets_by_kind),
            "scet_days": {k: [d.isoformat() for d in v] for k, v in self.days_by_product.items()},
            "idb_versions": list(self.idb_versions),
            "scet_span": list(self.scet_span) if self.scet_span else None,
            "complete": self.complete,
            "report": self.report.as_metadata(),
        }


def kind_label(service: int, subtype: int, pi1: int) -> str:
    """``"21_6_30"``, or ``"1_1"`` when the kind has no PI1 (``pi1 < 0``)."""
    return f"{service}_{subtype}" if pi1 < 0 else f"{service}_{subtype}_{pi1}"


@timed("index")
def index_tm_file(
    path: Path | str, store: IdbStore, *, gates: PacketGates | None = None
) -> TmIndex:
    """Read and index one SOC TM XML file (a TC report file gives an empty index).

    Parameters
    ----------
    path : the ``*PktTmRaw*.xml`` (or ``*PktTcReport*.xml``) file
    store : the installed IDBs
    gates : plausibility limits (time window, packet size); default `PacketGates()`, which has
        no time window (the window needs the caller's "now": `stix_assets.core.tmtc.gates.
        mission_gates`)

    Returns
    -------
    TmIndex

    Raises
    ------
    TMFileError
        If the file is empty or not a SOC/EDDS response at all.
    """
    tm, batch, report = decode_tm_file(path)
    batch = batch.take(_quarantine(batch, header_problems(batch, gates or PacketGates()), report))
    versions = _versions(batch, store)
    keep = _quarantine(batch, idb_problems(batch, versions, store), report)
    batch, versions = batch.take(keep), versions[keep]
    _record_fallbacks(tm.name, store, batch, report)
    batch = batch.with_pi1(_pi1(batch, versions, store))
    known, request_id = _resolve_kinds(tm.name, batch, versions, store, report)
    keep = _quarantine(batch, duplicate_problems(batch, request_id), report)
    batch, versions, known, request_id = (
        batch.take(keep), versions[keep], known[keep], request_id[keep]
    )  # fmt: skip
    index = TmIndex(
        tm=tm,
        batch=batch,
        report=report,
        request_id=request_id,
        idb_version=versions,
        known_type=known,
        packets_by_kind=_packets_by_kind(batch),
        days_by_product=_days_by_product(batch),
        idb_versions=sorted(set(versions.tolist())),
        scet_span=_scet_span(batch),
        complete=not any(q.reason.startswith(_MALFORMED) for q in report.quarantined),
    )
    logger.info(
        "tm indexed file=%s kind=%s packets=%d kinds=%d quarantined=%d complete=%s",
        tm.name,
        tm.kind,
        len(batch),
        len(index.packets_by_kind),
        len(report.quarantined),
        index.complete,
    )
    return index


def _versions(batch: PacketBatch, store: IdbStore) -> NDArray[np.object_]:
    if len(batch) == 0:
        return np.zeros(0, dtype=object)
    return store.versions_for(batch.headers["scet_coarse"], batch.headers["scet_fine"])


def _pi1(batch: PacketBatch, versions: NDArray[np.object_], store: IdbStore) -> NDArray[np.int64]:
    pi1 = np.full(len(batch), -1, dtype=np.int64)
    for version in sorted(set(versions.tolist())):
        idx = np.flatnonzero(versions == version)
        pi1[idx] = assign_pi1(batch.take(idx), store.get(version).pic()).pi1
    return pi1


def _resolve_kinds(
    name: str,
    batch: PacketBatch,
    versions: NDArray[np.object_],
    store: IdbStore,
    report: DecodeReport,
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Per packet: is its kind in its IDB, and its BSD request id (``-1`` for other kinds)."""
    n = len(batch)
    known = np.ones(n, dtype=bool)
    request_id = np.full((n, 2), -1, dtype=np.int64)
    kinds = _kind_keys(batch)
    for key in np.unique(kinds):
        service, subtype, p1 = (int(x) for x in _split_key(int(key)))
        sel = kinds == key
        for version in sorted(set(versions[sel].tolist())):
            idx = np.flatnonzero(sel & (versions == version))
            idb = store.get(version)
            ptype = idb.packet_type(service, subtype, None if p1 < 0 else p1)
            if ptype is None:
                known[idx] = False
                _record_unknown(name, batch, idx, idb.version, report)
            if product_for(service, subtype, None if p1 < 0 else p1).per_request:
                spid = None if ptype is None else ptype.spid
                request_id[idx] = _read_request_ids(batch, idx, idb, spid)
    return known, request_id


def _quarantine(
    batch: PacketBatch, reasons: list[str | None], report: DecodeReport
) -> NDArray[np.int64]:
    """Quarantine the packets that have a reason; return the indices of the others."""
    bad = [i for i, r in enumerate(reasons) if r is not None]
    for i in bad:
        report.add(_quarantined(batch, i, str(reasons[i])))
    if bad:
        logger.warning(
            "tm packets quarantined file=%s count=%d first_index=%s first_reason=%s",
            batch.source_file(bad[0]),
            len(bad),
            batch.position_of(bad[0]),
            reasons[bad[0]],
        )
    return np.flatnonzero([r is None for r in reasons]).astype(np.int64)


def _quarantined(batch: PacketBatch, i: int, reason: str) -> QuarantinedPacket:
    return QuarantinedPacket(
        batch.source_file(i),
        batch.position_of(i),
        reason,
        packet_id=int(batch.packet_id[i]),
        hex_prefix=batch.hex(i)[:32],
    )


def _kind_keys(batch: PacketBatch) -> NDArray[np.int64]:
    """One int64 per packet encoding (service, subtype, pi1 + 1)."""
    h = batch.headers
    return (
        (h["service_type"].astype(np.int64) << 40)
        | (h["service_subtype"].astype(np.int64) << 32)
        | (batch.pi1 + 1)
    )


def _split_key(key: int) -> tuple[int, int, int]:
    return key >> 40, (key >> 32) & 0xFF, (key & 0xFFFFFFFF) - 1


def _packets_by_kind(batch: PacketBatch) -> dict[str, int]:
    keys, counts = np.unique(_kind_keys(batch), return_counts=True)
    return {kind_label(*_split_key(int(k))): int(c) for k, c in zip(keys, counts, strict=True)}


def _days_by_product(batch: PacketBatch) -> dict[str, list[date]]:
    out: dict[str, set[int]] = {}
    kinds = _kind_keys(batch)
    days = scet_day_index(batch.headers["scet_coarse"])
    for key in np.unique(kinds):
        service, subtype, p1 = _split_key(int(key))
        product = product_for(service, subtype, None if p1 < 0 else p1).key
        out.setdefault(product, set()).update(np.unique(days[kinds == key]).tolist())
    return {k: [scet_day(d * SECONDS_PER_DAY) for d in sorted(v)] for k, v in sorted(out.items())}


def _scet_span(batch: PacketBatch) -> tuple[int, int] | None:
    if len(batch) == 0:
        return None
    coarse = batch.headers["scet_coarse"]
    return int(coarse.min()), int(coarse.max())


def _read_bits(
    batch: PacketBatch, idx: NDArray[np.int64], bit_offset: int, width: int
) -> NDArray[np.int64]:
    """Unsigned big-endian field ``[bit_offset, bit_offset + width)`` of each selected packet."""
    first, last = bit_offset // 8, (bit_offset + width - 1) // 8
    raw = batch.payload_matrix(idx, last + 1)[:, first:].astype(np.int64)
    value = np.zeros(len(idx), dtype=np.int64)
    for b in range(raw.shape[1]):
        value = (value << 8) | raw[:, b]
    value >>= (last + 1) * 8 - (bit_offset + width)
    return value & ((1 << width) - 1)


def _read_request_ids(
    batch: PacketBatch, idx: NDArray[np.int64], idb: Idb, spid: int | None
) -> NDArray[np.int64]:
    """``(tc seq control, request id)`` per packet (domain 1.8: a missing member reads 0).

    Without NIX00037 in the layout (aspect packets in IDB <= 2.26.35) the id is ``(0, 0)``.
    """
    out = np.zeros((len(idx), 2), dtype=np.int64)
    if spid is None:
        return out
    fields = idb.leading_fields(spid)
    if _REQUEST_ID not in fields:
        return out
    for col, name in enumerate((_TC_SEQ_CONTROL, _REQUEST_ID)):
        if name in fields:
            bit_offset, width = fields[name]
            out[:, col] = _read_bits(batch, idx, bit_offset, width)
    return out


def _record_unknown(
    name: str, batch: PacketBatch, idx: NDArray[np.int64], version: str, report: DecodeReport
) -> None:
    h = batch.headers
    kind = kind_label(
        int(h["service_type"][idx[0]]), int(h["service_subtype"][idx[0]]), int(batch.pi1[idx[0]])
    )
    for i in idx.tolist():
        report.keep(
            _quarantined(
                batch, i, f"{_UNKNOWN_TYPE}: {kind} not in IDB {version} (kept at LB only)"
            )
        )
    logger.warning(
        "tm unknown packet type file=%s kind=%s idb=%s packets=%d first_index=%s",
        name,
        kind,
        version,
        len(idx),
        batch.position_of(int(idx[0])),
    )


def _record_fallbacks(name: str, store: IdbStore, batch: PacketBatch, report: DecodeReport) -> None:
    if len(batch) == 0:
        return
    for res in store.resolutions_for(batch.headers["scet_coarse"], batch.headers["scet_fine"]):
        if res.reason in ("outside history", "not installed"):
            report.warnings.append(
                f"idb fallback: history version {res.history} ({res.reason}), used {res.used}"
            )
            logger.warning(
                "tm idb fallback file=%s history=%s used=%s reason=%s",
                name,
                res.history,
                res.used,
                res.reason,
            )
