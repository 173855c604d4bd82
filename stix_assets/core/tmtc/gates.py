"""Plausibility gates at ingest: is this a STIX TM packet of a plausible kind, time and size.

A packet passes the SOC reader (`stix_assets.core.tmtc.soc`) when its bytes agree with its own
CCSDS length field. A damaged header can still agree with itself: a flipped bit can move a packet
to another APID, service, year or length. The gates below quarantine such packets at ingest, each
with a reason, before they reach an LB file (issue 10, docs/decisions.md):

============================  =====================================================================
reason (category)             rule
============================  =====================================================================
``not a PUS TM packet``       CCSDS version 0, secondary-header flag 1, PUS version 1 (domain 1.3,
                              1.4; byte 6 is ``0x10`` in every real packet of the kit)
``packet too long``           total length above ``max_packet_bytes`` (default 4112: 16 header
                              bytes plus 4096 bytes of source data; the largest real packet of
                              the kit, ``tm/hex/21_6_30_0x.hex``, has exactly 4112 bytes)
``SCET outside mission``      nominal UTC of the (masked) SCET outside ``[scet_start, scet_end]``
``unknown APID``              APID not in the IDB's PID table (``PID_APID``; IDB of the packet)
``unknown service``           (service, subtype) not in the IDB's PID table
``APID does not match``       the IDB lists the service/subtype only under other APIDs
``duplicate packet``          same kind, request, SCET and sequence count as an earlier packet of
                              the same file (LB would keep only the first)
============================  =====================================================================

`header_problems` needs only the headers, `idb_problems` the IDB of each packet's time (the
store is passed in; any object with ``get(version)`` returning a `PidTable`), and
`duplicate_problems` the PI1 and request ids. `stix_assets.core.ingest.index_tm_file` applies
them in this order; a packet is reported for the first gate it fails. The time window needs
"now": it is an argument (`PacketGates.window`), never read here.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.config import ConfigError, Settings
from stix_assets.core.time import nominal_scet, nominal_utc
from stix_assets.core.tmtc.batch import PacketBatch

__all__ = [
    "DEFAULT_MAX_PACKET_BYTES",
    "DEFAULT_SCET_START",
    "LAUNCH_UTC",
    "PacketGates",
    "PidTable",
    "duplicate_problems",
    "gates_from_settings",
    "header_problems",
    "idb_problems",
    "mission_gates",
]

LAUNCH_UTC = dt.datetime(2020, 2, 10, 4, 3, tzinfo=dt.UTC)
"""Launch of Solar Orbiter (Atlas V, Cape Canaveral)."""
DEFAULT_SCET_START = LAUNCH_UTC.date().replace(year=LAUNCH_UTC.year - 2)
"""Default start of the plausible SCET window: launch minus two years (ground tests included);
the ``[ingest] scet_window_start`` default in `stix_assets.core.config` is the same day."""
DEFAULT_MAX_PACKET_BYTES = 4112
"""Default largest plausible TM packet, headers included: 16 header bytes + 4096 bytes of data."""
_PUS_VERSION = 1


class PidTable(Protocol):
    """What the IDB gates read of one IDB version (`stix_assets.core.idb.Idb` provides it)."""

    version: str

    def apids(self) -> frozenset[int] | None: ...  # noqa: D102

    def apids_for(self, service: int, subtype: int) -> frozenset[int] | None: ...  # noqa: D102

    def has_service(self, service: int, subtype: int) -> bool: ...  # noqa: D102


class _Store(Protocol):
    def get(self, version: str) -> PidTable: ...


@dataclass(frozen=True, slots=True)
class PacketGates:
    """The configurable limits of a plausible packet.

    Attributes
    ----------
    window : ``(start, end)`` UTC of plausible packet times (SCET read as nominal UTC, the SCLK
        epoch 2000-01-01 plus coarse seconds, no SPICE), or ``None`` for no time gate
    max_packet_bytes : the largest plausible packet, headers included
    """

    window: tuple[dt.datetime, dt.datetime] | None = None
    max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES

    def scet_bounds(self) -> tuple[int, int] | None:
        """The window as inclusive coarse SCET seconds (``None`` without a window)."""
        if self.window is None:
            return None
        start, end = (int(nominal_scet(t)) for t in self.window)
        return start, end


def mission_gates(
    *,
    now: dt.datetime,
    scet_start: dt.date = DEFAULT_SCET_START,
    future_margin_s: float = 86400.0,
    max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES,
) -> PacketGates:
    """The gates of the mission: packets dated from ``scet_start`` to ``now + future_margin_s``.

    Parameters
    ----------
    now : the current time (timezone-aware); the caller's clock, never read here
    scet_start : first plausible day (default launch minus two years)
    future_margin_s : how far after ``now`` a packet may be dated (s; default one day)
    max_packet_bytes : largest plausible packet (bytes)

    Raises
    ------
    ValueError
        If ``now`` is naive or the window is empty.

    Examples
    --------
    >>> import datetime as dt
    >>> g = mission_gates(now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    >>> [t.date().isoformat() for t in g.window]
    ['2018-02-10', '2026-12-03']
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    start = dt.datetime.combine(scet_start, dt.time(), tzinfo=dt.UTC)
    end = now.astimezone(dt.UTC) + dt.timedelta(seconds=future_margin_s)
    if end <= start:
        raise ValueError(f"empty SCET window: {start.isoformat()} .. {end.isoformat()}")
    return PacketGates(window=(start, end), max_packet_bytes=int(max_packet_bytes))


def gates_from_settings(settings: Settings, *, now: dt.datetime) -> PacketGates:
    """The gates of the settings (``[ingest]`` window and size), for the caller's ``now``.

    Reads ``scet_window_start``, ``scet_window_future_s`` and ``max_packet_bytes``.

    Raises
    ------
    ConfigError
        If the window is empty (a start after ``now`` plus the margin).
    """
    try:
        return mission_gates(
            now=now,
            scet_start=settings.scet_window_start,
            future_margin_s=float(settings.scet_window_future_s),
            max_packet_bytes=int(settings.max_packet_bytes),
        )
    except ValueError as err:
        raise ConfigError(
            f"unusable [ingest] packet gates: {err}", key="scet_window_start"
        ) from err


def header_problems(batch: PacketBatch, gates: PacketGates) -> list[str | None]:
    """The first header gate each packet fails (``None``: passes).

    Parameters
    ----------
    batch : the packets (headers and lengths are read)
    gates : the limits

    Returns
    -------
    list of reason texts (or ``None``), one per packet
    """
    headers, length = batch.headers, batch.length
    n = len(headers)
    out: list[str | None] = [None] * n
    if n == 0:
        return out
    bad_format = (
        (headers["version"] != 0)
        | (headers["header_flag"] != 1)
        | (headers["pus_version"] != _PUS_VERSION)
    )
    too_long = np.asarray(length) > gates.max_packet_bytes
    bounds = gates.scet_bounds()
    coarse = headers["scet_coarse"].astype(np.int64)
    if bounds is None:
        outside = np.zeros(n, dtype=bool)
    else:
        outside = (coarse < bounds[0]) | (coarse > bounds[1])
    for i in np.flatnonzero(bad_format | too_long | outside).tolist():
        h = headers[i]
        if bad_format[i]:
            out[i] = (
                f"not a PUS TM packet: version {int(h['version'])}, secondary header flag "
                f"{int(h['header_flag'])}, PUS version {int(h['pus_version'])} "
                f"(expected 0, 1, {_PUS_VERSION})"
            )
        elif too_long[i]:
            out[i] = (
                f"packet too long: {int(length[i])} bytes, more than the largest TM packet "
                f"({gates.max_packet_bytes} bytes)"
            )
        else:
            out[i] = _outside_reason(int(coarse[i]), bool(h["time_sync"]), gates)
    return out


def _outside_reason(coarse: int, time_sync: bool, gates: PacketGates) -> str:
    start, end = gates.window  # type: ignore[misc]
    when = nominal_utc(coarse)
    sync = "" if time_sync else ", time not synchronised"
    return (
        f"SCET outside mission: coarse {coarse} ({when:%Y-%m-%d}{sync}) not in "
        f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
    )


def idb_problems(
    batch: PacketBatch, versions: NDArray[np.object_], store: _Store
) -> list[str | None]:
    """APID and service of each packet against the PID table of its IDB (``None``: passes).

    The rule comes from the IDB, not from a list: the APIDs of STIX are those of the PID table
    (``PID_APID``: 1441, 1444, 1447, 1448, 1449, 1451, 1468, 1500, 1509 in 2.26.34), and each
    (service, subtype) must be listed under the packet's APID. An IDB without the ``PID_APID``
    column (hand-made test IDBs) only gets the service rule.

    Parameters
    ----------
    batch : the packets
    versions : the IDB version of each packet
    store : gives the IDB of a version (`stix_assets.core.idb.IdbStore`)
    """
    out: list[str | None] = [None] * len(batch)
    h = batch.headers
    combo = (
        (h["apid"].astype(np.int64) << 16)
        | (h["service_type"].astype(np.int64) << 8)
        | h["service_subtype"].astype(np.int64)
    )
    for version in sorted(set(versions.tolist())):
        idb = store.get(version)
        sel = versions == version
        for key in np.unique(combo[sel]).tolist():
            reason = _idb_reason(idb, key >> 16, (key >> 8) & 0xFF, key & 0xFF)
            if reason is not None:
                for i in np.flatnonzero(sel & (combo == key)).tolist():
                    out[i] = reason
    return out


def _idb_reason(idb: PidTable, apid: int, service: int, subtype: int) -> str | None:
    known_apids = idb.apids()
    if known_apids is not None and apid not in known_apids:
        return (
            f"unknown APID: {apid} (PID {apid >> 4}, category {apid & 0xF}) is not in the PID "
            f"table of IDB {idb.version}"
        )
    if not idb.has_service(service, subtype):
        return f"unknown service: {service}/{subtype} is not in the PID table of IDB {idb.version}"
    listed = idb.apids_for(service, subtype)
    if listed is not None and apid not in listed:
        return (
            f"APID does not match: {service}/{subtype} has APID {apid}, IDB {idb.version} lists "
            f"{', '.join(str(a) for a in sorted(listed))}"
        )
    return None


def duplicate_problems(batch: PacketBatch, request_id: NDArray[np.int64]) -> list[str | None]:
    """Packets that repeat an earlier packet of the batch under the LB key (``None``: first).

    The key is what an LB file de-duplicates on within one product file: kind (service,
    subtype, PI1), request id (BSD), SCET coarse and fine, and sequence count. LB keeps the first
    of such packets; the others are reported here so every packet is accounted for.

    Parameters
    ----------
    batch : the packets, PI1 filled
    request_id : ``(n, 2)`` request ids (``-1`` for non-BSD packets)
    """
    out: list[str | None] = [None] * len(batch)
    if len(batch) < 2:
        return out
    h = batch.headers
    rec = np.stack(
        [
            h["service_type"].astype(np.int64) * 256 + h["service_subtype"].astype(np.int64),
            batch.pi1.astype(np.int64),
            np.asarray(request_id[:, 0], dtype=np.int64),
            np.asarray(request_id[:, 1], dtype=np.int64),
            h["scet_coarse"].astype(np.int64),
            h["scet_fine"].astype(np.int64),
            h["sequence_count"].astype(np.int64),
        ],
        axis=1,
    )
    _, first, inverse = np.unique(rec, axis=0, return_index=True, return_inverse=True)
    original = first[inverse.reshape(-1)]
    for i in np.flatnonzero(original != np.arange(len(batch))).tolist():
        j = int(original[i])
        where = batch.position_of(j)
        out[i] = (
            "duplicate packet: same kind, request, SCET and sequence count as packet "
            f"{where if where is not None else j} (LB keeps the first)"
        )
    return out
