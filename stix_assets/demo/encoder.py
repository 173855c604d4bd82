"""IDB-driven packet encoder: the inverse of the parameter decoder, for the demo simulator and tests.

Layouts are read straight from an IDB SQLite file (`read_layouts`), independently of
`stix_assets.core.idb`, so a round trip through the real decoder checks both sides:

* fixed packets (``PID_TPSD == -1``): every PLF parameter at absolute bit ``OFFBY * 8 + OFFBI``
  from the packet start, ``PCF_WIDTH`` bits wide;
* variable packets (VPD): parameters in ``VPD_POS`` order from bit 128 (after the 16 header
  bytes), the cursor moved by ``VPD_OFFSET`` before each one; a parameter with ``VPD_GRPSIZE = N``
  is a counter whose group is the next N parameters, nested members included (domain doc 1.9).

Values are given as a mapping per packet. A leaf parameter takes an int. A counter takes either a
list of mappings (one per repetition; the counter value is the list length), or, when its group
holds no nested counter, a mapping ``name -> 1-D array`` of equal lengths (columnar form), or, when
the group is a single parameter, a 1-D array. "Global" container words (a parameter re-read by the
following negative-offset sub-fields) may be omitted: they default to 0 and the sub-fields are
written over them, so the decoder reads back their composite value.

All bit writing is done with numpy over the whole packet.
"""

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.tmtc import encode_header

__all__ = [
    "EncodedFields",
    "PacketLayout",
    "Param",
    "collect_fields",
    "encode_packet",
    "expected_parameters",
    "read_layouts",
]

logger = logging.getLogger(__name__)

_HEADER_BITS = 128
_SIGNED_PTC = 4
_MAX_WORD = 62


@dataclass(frozen=True, slots=True)
class Param:
    """One layout parameter; ``children`` is not ``None`` for a counter (its group)."""

    name: str
    width: int
    signed: bool
    offset: int
    container: bool = False
    children: "tuple[Param, ...] | None" = None


@dataclass(frozen=True, slots=True)
class PacketLayout:
    """Everything needed to encode one packet kind (one SPID)."""

    spid: int
    service_type: int
    service_subtype: int
    pi1: int
    apid: int
    variable: bool
    params: tuple[Param, ...]


@dataclass(frozen=True, slots=True)
class EncodedFields:
    """The parameter instances of one packet, in layout order, with absolute bit positions.

    Fields wider than 62 bits are written in 32-bit pieces: the first piece carries the name and
    ``full_width``, the following ones have an empty name.
    """

    names: tuple[str, ...]
    position: NDArray[np.int64]
    width: NDArray[np.int64]
    full_width: NDArray[np.int64]
    value: NDArray[np.int64]
    container: NDArray[np.bool_]
    signed: NDArray[np.bool_]
    end_bit: int


def _clean(value: object) -> object:
    if isinstance(value, str) and value.strip() in ("", "NULL"):
        return None
    return value


def _params_table(con: sqlite3.Connection) -> dict[str, tuple[int, bool]]:
    rows = con.execute("select PCF_NAME, PCF_WIDTH, PCF_PTC from PCF").fetchall()
    return {
        str(n): (int(_clean(w) or 0), int(ptc) == _SIGNED_PTC)  # type: ignore[arg-type]
        for n, w, ptc in rows
    }


def _vpd_tree(
    rows: list[tuple[str, int, int]], pcf: dict[str, tuple[int, bool]]
) -> tuple[Param, ...]:
    """Build the repeater tree recursively: a counter swallows the next ``grpsize`` rows."""

    def build(start: int, count: int) -> tuple[list[Param], int]:
        out: list[Param] = []
        i, used = start, 0
        while used < count and i < len(rows):
            name, grp, off = rows[i]
            width, signed = pcf[name]
            container = i + 1 < len(rows) and rows[i + 1][2] < 0
            i += 1
            used += 1
            if grp > 0:
                kids, i_next = build(i, grp)
                used += i_next - i
                i = i_next
                out.append(Param(name, width, signed, off, container, tuple(kids)))
            else:
                out.append(Param(name, width, signed, off, container))
        return out, i

    params, _ = build(0, len(rows))
    return tuple(params)


def _fixed_params(
    con: sqlite3.Connection, spid: int, pcf: dict[str, tuple[int, bool]]
) -> tuple[Param, ...]:
    rows = con.execute(
        "select PLF_NAME, PLF_OFFBY, PLF_OFFBI from PLF where PLF_SPID = ? "
        "order by PLF_OFFBY, PLF_OFFBI",
        (spid,),
    ).fetchall()
    pos = [int(by) * 8 + int(_clean(bi) or 0) for _, by, bi in rows]  # type: ignore[arg-type]
    widths = [pcf[str(r[0])][0] for r in rows]
    params = []
    for k, (name, *_) in enumerate(rows):
        # a container (global word) holds a narrower parameter inside its bits
        container = any(
            pos[j] >= pos[k] and pos[j] + widths[j] <= pos[k] + widths[k] and widths[j] < widths[k]
            for j in range(len(rows))
        )
        params.append(Param(str(name), widths[k], pcf[str(name)][1], pos[k], container))
    return tuple(params)


def _variable_params(
    con: sqlite3.Connection, tpsd: int, pcf: dict[str, tuple[int, bool]]
) -> tuple[Param, ...]:
    rows = con.execute(
        "select VPD_NAME, VPD_GRPSIZE, VPD_OFFSET from VPD where VPD_TPSD = ? order by VPD_POS",
        (tpsd,),
    ).fetchall()
    clean = [
        (str(n), int(_clean(g) or 0), int(_clean(o) or 0))  # type: ignore[arg-type]
        for n, g, o in rows
    ]
    return _vpd_tree(clean, pcf)


def read_layouts(idb_path: Path, spids: Sequence[int] | None = None) -> dict[int, PacketLayout]:
    """Read the packet layouts of an IDB SQLite file.

    Parameters
    ----------
    idb_path : the ``idb.sqlite`` file
    spids : SPIDs to read (default: every PID row)

    Returns
    -------
    ``spid -> PacketLayout``.
    """
    con = sqlite3.connect(f"{Path(idb_path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        pcf = _params_table(con)
        pid = con.execute(
            "select PID_SPID, PID_TYPE, PID_STYPE, PID_PI1_VAL, PID_APID, PID_TPSD from PID"
        ).fetchall()
        out: dict[int, PacketLayout] = {}
        for spid, st, sst, pi1, apid, tpsd_raw in pid:
            if spids is not None and int(spid) not in spids:
                continue
            tpsd = int(_clean(tpsd_raw) or -1)  # type: ignore[arg-type]
            variable = tpsd != -1
            params = _variable_params(con, tpsd, pcf) if variable else _fixed_params(con, spid, pcf)
            out[int(spid)] = PacketLayout(
                int(spid), int(st), int(sst), int(pi1), int(apid), variable, params
            )
        return out
    finally:
        con.close()


class _Collector:
    """Accumulates (name, position, width, value) while the layout is walked.

    Single instances go to plain lists (cheap), repeated groups to numpy chunks; `finish` joins
    them (scalars first; order does not matter for writing, and readers sort by position).
    """

    _COLS = ("pos", "width", "full_width", "value", "container", "signed")

    def __init__(self) -> None:
        self.names: list[str] = []
        self.scalars: dict[str, list] = {c: [] for c in self._COLS}
        self.chunk_names: list[str] = []
        self.chunks: dict[str, list[NDArray]] = {c: [] for c in self._COLS}

    def add(self, param: Param, pos: NDArray[np.int64], value: NDArray[np.int64]) -> None:
        n = len(pos)
        self.chunk_names.extend([param.name] * n)
        c = self.chunks
        c["pos"].append(pos)
        c["width"].append(np.full(n, param.width, np.int64))
        c["full_width"].append(np.full(n, param.width, np.int64))
        c["value"].append(value)
        c["container"].append(np.full(n, param.container, bool))
        c["signed"].append(np.full(n, param.signed, bool))

    def _scalar(self, name: str, pos: int, width: int, full: int, value: int, p: Param) -> None:
        self.names.append(name)
        s = self.scalars
        s["pos"].append(pos)
        s["width"].append(width)
        s["full_width"].append(full)
        s["value"].append(value)
        s["container"].append(p.container)
        s["signed"].append(p.signed)

    def add_one(self, param: Param, pos: int, value: int) -> None:
        """One instance; wide fields (> 62 bits) are split into 32-bit pieces."""
        if param.width <= _MAX_WORD:
            self._scalar(param.name, pos, param.width, param.width, value, param)
            return
        if value < 0:
            value += 1 << param.width
        for k, edge in enumerate(range(0, param.width, 32)):
            w = min(32, param.width - edge)
            piece = (value >> (param.width - edge - w)) & ((1 << w) - 1)
            name, full = (param.name, param.width) if k == 0 else ("", 0)
            self._scalar(name, pos + edge, w, full, piece, param)

    def finish(self, end: int) -> "EncodedFields":
        dtypes = (np.int64, np.int64, np.int64, np.int64, bool, bool)
        cols = [
            np.concatenate([np.array(self.scalars[c], dt), *self.chunks[c]]).astype(dt)
            for c, dt in zip(self._COLS, dtypes, strict=True)
        ]
        return EncodedFields(tuple(self.names + self.chunk_names), *cols, end)


def _leaf_value(param: Param, values: Mapping[str, object]) -> int:
    if param.name in values:
        return int(values[param.name])  # type: ignore[call-overload]
    if param.container:
        return 0
    raise KeyError(f"no value for parameter {param.name}")


def _walk(
    params: Sequence[Param], values: Mapping[str, object], cursor: int, col: _Collector
) -> int:
    for p in params:
        cursor += p.offset
        if p.children is None:
            col.add_one(p, cursor, _leaf_value(p, values))
            cursor += p.width
            continue
        reps = values.get(p.name, [])
        if isinstance(reps, Mapping) or isinstance(reps, np.ndarray):
            n = _columnar_count(p, reps)
            col.add(p, np.array([cursor], np.int64), np.array([n], np.int64))
            cursor = _columnar(p, reps, cursor + p.width, n, col)
            continue
        reps = list(reps)  # type: ignore[call-overload]
        col.add(p, np.array([cursor], np.int64), np.array([len(reps)], np.int64))
        cursor += p.width
        for rep in reps:
            cursor = _walk(p.children, rep, cursor, col)
    return cursor


def _columnar_count(p: Param, reps: object) -> int:
    if isinstance(reps, np.ndarray):
        return len(reps)
    lengths = {len(v) for v in reps.values()}  # type: ignore[attr-defined]
    if len(lengths) != 1:
        raise ValueError(f"columns of group {p.name} differ in length: {sorted(lengths)}")
    return lengths.pop()


def _columnar(p: Param, reps: object, cursor: int, n: int, col: _Collector) -> int:
    """All repetitions of a flat group at once."""
    kids = p.children or ()
    if any(k.children is not None for k in kids):
        raise ValueError(f"group {p.name} has nested counters; give a list of mappings")
    if isinstance(reps, np.ndarray):
        if len(kids) != 1:
            raise ValueError(f"group {p.name} has {len(kids)} members; give a mapping of columns")
        reps = {kids[0].name: reps}
    rel, bits = [], 0
    for k in kids:
        bits += k.offset
        rel.append(bits)
        bits += k.width
    start = cursor + np.arange(n, dtype=np.int64) * bits
    for k, r in zip(kids, rel, strict=True):
        if k.name in reps:  # type: ignore[operator]
            vals = np.asarray(reps[k.name], dtype=np.int64)  # type: ignore[index]
        elif k.container:
            vals = np.zeros(n, np.int64)
        else:
            raise KeyError(f"no values for parameter {k.name} in group {p.name}")
        col.add(k, start + r, vals)
    return cursor + n * bits


def collect_fields(layout: PacketLayout, values: Mapping[str, object]) -> EncodedFields:
    """Walk a layout with values: every parameter instance with its absolute bit position.

    Raises
    ------
    KeyError
        If a (non-container) parameter has no value.
    """
    col = _Collector()
    if layout.variable:
        end = _walk(layout.params, values, _HEADER_BITS, col)
    else:
        for p in layout.params:
            col.add_one(p, p.offset, _leaf_value(p, values))
        end = max((p.offset + p.width for p in layout.params), default=_HEADER_BITS)
    return col.finish(end)


def _write_bits(bits: NDArray[np.uint8], pos: NDArray, width: NDArray, value: NDArray) -> None:
    if len(pos) == 0:
        return
    raw = np.where(value < 0, value + (np.int64(1) << width), value).astype(np.uint64)
    too_big = (raw >> width.astype(np.uint64)) != 0
    if too_big.any():
        i = int(np.flatnonzero(too_big)[0])
        raise ValueError(f"value {int(value[i])} does not fit in {int(width[i])} bits")
    k = np.arange(int(width.max()), dtype=np.int64)
    valid = k[None, :] < width[:, None]
    shift = np.clip(width[:, None] - 1 - k[None, :], 0, None).astype(np.uint64)
    b = ((raw[:, None] >> shift) & np.uint64(1)).astype(np.uint8)
    bits[(pos[:, None] + k[None, :])[valid]] = b[valid]


def _payload(fields: EncodedFields) -> bytes:
    n_bytes = -(-fields.end_bit // 8)
    bits = np.zeros(n_bytes * 8, np.uint8)
    order = (fields.container, ~fields.container)  # containers first, sub-fields written over
    for sel in order:
        _write_bits(bits, fields.position[sel], fields.width[sel], fields.value[sel])
    return np.packbits(bits)[_HEADER_BITS // 8 :].tobytes()


def encode_packet(
    layout: PacketLayout,
    values: Mapping[str, object],
    *,
    sequence_count: int,
    scet_coarse: int,
    scet_fine: int,
    sequence_flag: int = 3,
    destination_id: int = 0,
) -> bytes:
    """Encode one TM packet (16-byte header + parameters) of a packet kind.

    Parameters
    ----------
    layout : the packet kind (`read_layouts`)
    values : parameter values (see module docstring)
    sequence_count : per-APID counter, taken modulo 16384
    scet_coarse, scet_fine : data-field-header time
    sequence_flag : 3 standalone, 1 first, 0 middle, 2 last

    Returns
    -------
    The packet bytes; the header's data length is ``len - 7``.
    """
    data = _payload(collect_fields(layout, values))
    header = encode_header(
        apid=layout.apid,
        sequence_flag=sequence_flag,
        sequence_count=sequence_count % 16384,
        data_length=len(data) + 16 - 7,
        service_type=layout.service_type,
        service_subtype=layout.service_subtype,
        scet_coarse=scet_coarse,
        scet_fine=scet_fine,
        destination_id=destination_id,
    )
    return header + data


def expected_parameters(layout: PacketLayout, values: Mapping[str, object]) -> dict[str, list[int]]:
    """Return what a decoder must read from the packet: ``name -> values`` in packet order.

    Container words get the composite value of their sub-fields, read back from the bits.
    """
    fields = collect_fields(layout, values)
    data = np.frombuffer(bytes(_HEADER_BITS // 8) + _payload(fields), np.uint8)
    bits = np.unpackbits(data)
    out: dict[str, list[int]] = {}
    order = np.argsort(fields.position, kind="stable")
    names = [fields.names[i] for i in order]
    for name, pos, width, signed in zip(
        names, fields.position[order], fields.full_width[order], fields.signed[order], strict=True
    ):
        if not name:
            continue
        raw = int("".join(map(str, bits[pos : pos + width])), 2)
        if signed and raw >= 1 << (int(width) - 1):
            raw -= 1 << int(width)
        out.setdefault(name, []).append(raw)
    return out
