"""The L0 product model: what a family builder gets (`LbInput`) and returns (`L0Product`).

These value types are the contract between the L0 framework (`stix_assets.core.products.l0_build`),
the family builders registered in `stix_assets.core.products.builders`, the writer
(`stix_assets.core.products.l0_writer`) and the later levels, which read L0 files back into
`L0Product` (`stix_assets.core.products.l0_reader`). The module imports nothing from the other
product modules, so every one of them can import it.

Product tables (`L0Product.control` / ``.data``) are ordered dicts of numpy columns with the
dtypes they are written with. Two DATA columns are special:

* ``time``: float64 SCET seconds of the bin centre, ``coarse + fine / 65536`` (the SCLK
  convention, exact to 0.1 us, `stix_assets.core.time.scet_float`);
* ``timedel``: float64 seconds.
"""

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.fits import Card
from stix_assets.core.idb import Idb, ParameterTable
from stix_assets.core.products.registry import ProductSpec
from stix_assets.core.time import SECONDS_PER_DAY, nominal_utc
from stix_assets.core.tmtc import PacketBatch

__all__ = [
    "Builder",
    "BuilderEntry",
    "L0Build",
    "L0FileResult",
    "L0Issue",
    "L0Product",
    "LbInput",
]


@dataclass(frozen=True, slots=True)
class L0Product:
    """One L0 product (a day of a daily family, or one BSD request) before writing.

    Attributes
    ----------
    spec : registry entry
    control : CONTROL columns in write order (key column ``index``)
    data : DATA columns in write order; ``time`` (float64 SCET s, bin centre) and ``timedel``
        (float64 s) are converted by the writer; ``control_index`` links to ``control["index"]``
    control_units, data_units : column -> ``TUNIT``
    idb_versions : ``(version, obt_start, obt_end)`` with STIXCore SCET floats of the packets
    energies : ``channel`` (uint8), ``e_low``/``e_high`` (float32 keV) or ``None``
    header : extra primary cards (``TRIG_SCA``, ``DATAWARN``, COMMENT/HISTORY)
    parents : LB file names
    raw_files : TM file names
    data_range : ``DATAMIN``/``DATAMAX``
    bunit : ``BUNIT``
    scet_day : SCET day of a daily product (set by the split), else ``None``
    request_id : ``(tc seq control, request id)`` of a BSD product, else ``None``
    time_encoding : ``"cs"`` (uint32 centiseconds) or ``"s"`` (float32 seconds, aspect burst)
    level : ``"L0"``
    """

    spec: ProductSpec
    control: dict[str, NDArray]
    data: dict[str, NDArray]
    control_units: Mapping[str, str] = field(default_factory=dict)
    data_units: Mapping[str, str] = field(default_factory=dict)
    idb_versions: tuple[tuple[str, float, float], ...] = ()
    energies: dict[str, NDArray] | None = None
    header: tuple[Card, ...] = ()
    parents: tuple[str, ...] = ()
    raw_files: tuple[str, ...] = ()
    data_range: tuple[float, float] = (0.0, 0.0)
    bunit: str = ""
    scet_day: date | None = None
    request_id: tuple[int, int] | None = None
    time_encoding: str = "cs"
    level: str = "L0"

    @property
    def n_rows(self) -> int:
        """Number of DATA rows."""
        return len(self.data["time"])

    def time_range(self) -> tuple[float, float]:
        """Start and end (SCET seconds, 1/65536 convention) of the product."""
        t, dt = self.data["time"], self.data["timedel"]
        return float(np.min(t - dt / 2)), float(np.max(t + dt / 2))

    def shape_problem(self) -> str | None:
        """What makes the tables unwritable, or ``None``.

        Every CONTROL column must have one row per CONTROL row, every DATA column one per DATA
        row, ``control_index`` must point at a CONTROL row and ``time``/``timedel`` must be
        finite. A builder's product is checked before it leaves the builder, so a packet whose
        counters disagree with its own data is found there (and dropped), not at the writer.
        """
        for table, key in ((self.control, "index"), (self.data, "time")):
            if key not in table:
                return f"no {key!r} column"
            n = len(np.asarray(table[key]))
            for name, col in table.items():
                arr = np.asarray(col)
                if arr.dtype == object or arr.ndim == 0 or len(arr) != n:
                    return f"column {name!r} has shape {arr.shape}, expected {n} rows"
        ci = np.asarray(self.data.get("control_index", np.zeros(0, np.int64)))
        n_control = len(np.asarray(self.control["index"]))
        if len(ci) and (ci.min() < 0 or ci.max() >= n_control):
            return f"control_index outside 0..{n_control - 1}"
        for name in ("time", "timedel"):
            values = np.asarray(self.data[name], dtype=np.float64)
            if not np.all(np.isfinite(values)):
                return f"non-finite {name}"
        return None

    def time_problem(self, packet_coarse: NDArray[np.integer]) -> str | None:
        """Data times the packets could not have, or ``None``.

        ``packet_coarse`` are the header SCETs of the packets the product was built from. Data
        are measured before they are sent, so no bin may start more than a day after the last
        packet; and a daily product's bins must lie on the SCET days an L0 build of the packets'
        days reads (`stix_assets.core.levels.windows`: the packet's day and the days next to
        it), or they would silently fall on a day that is never built. A flipped bit in a
        payload time (QL NIX00445, BSD NIX00402) fails here.
        """
        t = np.asarray(self.data["time"], dtype=np.float64)
        dt = np.asarray(self.data["timedel"], dtype=np.float64)
        coarse = np.asarray(packet_coarse, dtype=np.int64)
        if len(t) == 0 or len(coarse) == 0:
            return None
        start = t - np.abs(dt) / 2
        if float(start.max()) > float(coarse.max() + SECONDS_PER_DAY):
            return (
                f"data time {nominal_utc(float(start.max())):%Y-%m-%d} is after its packets "
                f"were sent ({nominal_utc(float(coarse.max())):%Y-%m-%d})"
            )
        if not self.spec.per_request:
            days = np.floor(t / SECONDS_PER_DAY)
            first = coarse.min() // SECONDS_PER_DAY - 1
            last = coarse.max() // SECONDS_PER_DAY + 1
            if days.min() < first or days.max() > last:
                bad = float(t[np.argmin(days)] if days.min() < first else t[np.argmax(days)])
                return (
                    f"data time {nominal_utc(bad):%Y-%m-%d} is more than a day from its packets' "
                    f"SCET day ({nominal_utc(float(coarse.min())):%Y-%m-%d})"
                )
        return None

    def signature(self) -> tuple[tuple[str, str, str, tuple[int, ...]], ...]:
        """Column names, dtype kinds and per-row shapes: products with equal ones can be stacked."""
        return tuple(
            (table, name, np.asarray(col).dtype.kind, np.asarray(col).shape[1:])
            for table, cols in (("control", self.control), ("data", self.data))
            for name, col in cols.items()
        )

    def packets_of_rows(self, rows: NDArray[np.integer]) -> list[tuple[str, int]]:
        """``(TM file, XML packetID)`` of the packets behind DATA rows (via CONTROL), sorted."""
        control = self.control
        if "raw_file" not in control or "packet" not in control:
            return []
        ci = np.asarray(self.data["control_index"])[np.asarray(rows, dtype=np.int64)]
        out = set()
        for c in np.unique(ci).tolist():
            raw = np.atleast_1d(np.asarray(control["raw_file"])[c])[0]
            text = raw.decode("ascii") if isinstance(raw, bytes) else str(raw)
            for pid in np.atleast_1d(np.asarray(control["packet"])[c]).tolist():
                out.add((text.strip(), int(pid)))
        return sorted(out)


@dataclass(frozen=True, slots=True)
class LbInput:
    """What a builder gets: the packets of one LB file (or of one packet of it), decoded.

    Attributes
    ----------
    spec : registry entry of the file
    batch : the packets (LB order: sorted by SCET and sequence count)
    params : parameters of every decoded packet, one table in batch order (``params.rows``
        index ``batch``; packets that could not be decoded are absent)
    versions : IDB version of each packet of ``batch``
    raw_file : TM file name of each packet (bytes, from the LB CONTROL)
    packet : XML packet id of each packet
    parent : LB file name
    request_id : ``(tcc, rid)`` of a BSD file, else ``None``
    conf_dir : STIX-CONF root (``detector/science_echan_index.csv`` ...)
    idb_versions : ``(version, obt_start, obt_end)`` over the decoded packets
    idbs : the IDB of every version in ``versions`` (names, descriptions, calibrations)
    """

    spec: ProductSpec
    batch: PacketBatch
    params: ParameterTable
    versions: NDArray[np.object_]
    raw_file: NDArray[np.bytes_]
    packet: NDArray[np.int64]
    parent: str
    request_id: tuple[int, int] | None
    conf_dir: Path
    idb_versions: tuple[tuple[str, float, float], ...]
    idbs: Mapping[str, Idb] = field(default_factory=dict)

    def decoded_rows(self) -> NDArray[np.int64]:
        """Batch index of every decoded packet (the rows of ``params``)."""
        return self.params.rows


@dataclass(frozen=True, slots=True)
class L0Issue:
    """A packet or an LB file that did not make it into its L0 product, and why.

    Attributes
    ----------
    file : the LB file (or the product) where the problem was found
    packet_index : the packet's row in that LB file (``None``: the whole file or product)
    reason : why
    packet_id : the packet's XML ``packetID``
    tm_file : the TM file the packet came from (LB CONTROL ``raw_file``)
    spid : the packet's SPID, where known
    """

    file: str
    packet_index: int | None
    reason: str
    packet_id: int | None = None
    tm_file: str | None = None
    spid: int | None = None

    def as_dict(self) -> dict[str, object]:
        """Plain values for metadata."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class L0Build:
    """Result of building: the products, what was left out, and BSD sequences still waiting."""

    products: list[L0Product]
    issues: list[L0Issue]
    waiting: list[object] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class L0FileResult:
    """One L0 file written."""

    path: Path
    product_key: str
    scet_day: date | None
    request_id: tuple[int, int] | None
    sha256: str
    n_rows: int
    inputs: tuple[str, ...]

    def as_metadata(self) -> dict[str, object]:
        """Plain values for metadata and the catalog."""
        return {
            "path": str(self.path),
            "product": self.product_key,
            "scet_day": self.scet_day.isoformat() if self.scet_day else None,
            "request_id": list(self.request_id) if self.request_id else None,
            "rows": self.n_rows,
            "sha256": self.sha256,
            "inputs": list(self.inputs),
        }


Builder = Callable[[LbInput], list[L0Product]]


@dataclass(frozen=True, slots=True)
class BuilderEntry:
    """A registered family builder.

    Attributes
    ----------
    build : the function
    per_packet_retry : on failure of a whole LB file, retry packet by packet (daily families);
        BSD families, whose products span packet sequences, set False
    """

    build: Builder
    per_packet_retry: bool = True
