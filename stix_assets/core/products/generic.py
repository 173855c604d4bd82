"""Generic L0 products (STIXCore's ``DefaultProduct``): one column per packet parameter.

Every parseable packet kind that has no dedicated product (services 1, 5, 6, 9, 17, 20, 22,
236-239, 300; domain doc 4.1) becomes a daily L0 file named ``stix-<service name>-<subtype>
[-<pi1>]``. CONTROL holds one row per packet (SCET, ``integration_time`` 0, ``index``); DATA one
row per packet with ``time`` = packet SCET, ``timedel`` 0, one column per parameter (raw values,
named from ``PCF_DESCR`` as domain doc 4.7 says, metadata ``NIXS`` and ``PCF_CURTX``) and
``control_index``.

Rules, checked against the STIXCore reference products
(``stix_assets_tests/realdata/test_l0_reference_hk_generic_bsd.py``):

* a parameter becomes a column only if at least one packet holds it (a repeater group with count
  0 gives no columns, as in STIXCore, which builds the columns from the parsed packet);
* when the packet holds NIX00103 or NIX00104 (number of structures) every column is reshaped to
  one row per packet holding all of that packet's values (FITS ``TDIM``);
* two parameters with the same ``PCF_DESCR`` share one column: the later parameter's values, at
  the first one's position (what assigning the same astropy column name twice does);
* fixed layouts keep STIXCore's order: PLF byte offset, then parameter name.

Known differences from STIXCore (docs/decisions.md):

* quirk 11: a parseable service missing from the name map is not an error; its product is named
  by the service number (``stix-<service>-<subtype>[-<pi1>]``);
* several packets per file whose repeated groups have different lengths: STIXCore stacks all
  values into one row and then fails; we keep one row per packet and pad shorter rows with 0
  (the pad is reported in the result ``notes``);
* index columns use the smallest unsigned integer type that holds them (STIXCore wrote ``B`` for
  the one-packet reference files and would overflow nothing only by luck).
"""

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import Idb, ParameterTable
from stix_assets.core.products.model import L0Product, LbInput
from stix_assets.core.products.registry import ProductSpec
from stix_assets.core.time import scet_float

__all__ = [
    "SERVICE_NAMES",
    "Column",
    "ProductColumns",
    "build_generic",
    "build_generic_l0",
    "column_name",
    "generic_product_name",
    "lb_idbs",
    "merge_tables",
    "min_uint",
    "packet_columns",
    "split_versions",
    "to_l0_product",
    "with_packet_time",
]

logger = logging.getLogger(__name__)

SERVICE_NAMES: dict[int, str] = {
    1: "tc-verify",
    5: "events",
    6: "memory",
    9: "time",
    17: "conn-test",
    20: "info-dist",
    22: "context",
    236: "config",
    237: "params",
    238: "archive",
    239: "diagnostics",
    300: "low-latency",
}
_RESHAPE_TRIGGERS = frozenset({"NIX00103", "NIX00104"})


@dataclass(frozen=True, slots=True)
class Column:
    """One product column: values (first axis = rows), unit and metadata (``NIXS``, ...)."""

    values: NDArray
    unit: str = ""
    meta: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProductColumns:
    """CONTROL and DATA columns of one product, in file order, plus what the header needs.

    Time is kept exact until the writer: ``time_coarse``/``time_fine`` (SCET of each DATA row,
    bin centre) and ``timedel_s`` (bin width in s, may be negative only where STIXCore's own
    algorithm makes it so). The writer turns them into the relative ``time``/``timedel`` columns,
    which sit in DATA at the position of the ``"time"``/``"timedel"`` placeholder keys.

    Attributes
    ----------
    control, data : column name -> `Column`; ``data`` holds ``time``/``timedel`` placeholders
    time_s : float64 SCET seconds of each DATA row (coarse + fine / 65536)
    timedel_s : float64 bin widths, s
    cards : extra primary header cards ``(key, value, comment)`` (``DATAWARN``, ``TRIG_SCA``)
    history, comments : HISTORY / COMMENT lines
    datamin, datamax, bunit : header ``DATAMIN``/``DATAMAX``/``BUNIT``
    energy_bin_edge_mask : 33 flags for the ENERGIES table (None: no ENERGIES HDU)
    notes : things a reviewer should know (padding, fixes applied)
    """

    control: dict[str, Column]
    data: dict[str, Column]
    time_s: NDArray[np.float64]
    timedel_s: NDArray[np.float64]
    cards: tuple[tuple[str, object, str], ...] = ()
    history: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()
    datamin: float | int = 0.0
    datamax: float | int = 0.0
    bunit: str = " "
    energy_bin_edge_mask: NDArray[np.uint8] | None = None
    notes: tuple[str, ...] = ()


def generic_product_name(base: str | None, service: int, subtype: int, pi1: int | None) -> str:
    """File-name type of a generic product: ``<service name>-<subtype>[-<pi1>]``.

    ``base`` is the registry name; without one (quirk 11) the service number is used.

    Examples
    --------
    >>> generic_product_name("events", 5, 1, 33)
    'events-1-33'
    >>> generic_product_name(None, 42, 3, None)
    '42-3'
    """
    head = base or SERVICE_NAMES.get(service) or str(service)
    tail = f"-{subtype}" + (f"-{pi1}" if pi1 is not None and pi1 >= 0 else "")
    return head + tail


def column_name(description: str) -> str:
    """Column name from ``PCF_DESCR`` (domain doc 4.7).

    Examples
    --------
    >>> column_name("Mean - ASIC ch")
    'mean-asic_ch'
    """
    return description.lower().replace(" ", "_").replace("_-_", "-")


def min_uint(n: int) -> np.dtype:
    """Smallest unsigned dtype holding ``0..n``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)


@dataclass(frozen=True, slots=True)
class _Merged:
    values: NDArray
    counts: NDArray[np.int64]


def merge_tables(
    tables: Sequence[ParameterTable], n_packets: int
) -> tuple[dict[str, _Merged], list[str], dict[str, str]]:
    """Merge parameter tables (e.g. two IDB versions) into batch order.

    Returns
    -------
    merged : name -> flat values of all packets in batch order, and counts per batch row (rows
        no table decoded count 0)
    order : parameter names, first table's layout order, then new names of later tables
    versions : name -> IDB version of the first table holding it (for PCF lookups)
    """
    order: list[str] = []
    versions: dict[str, str] = {}
    for t in tables:
        for name in t.values:
            if name not in versions:
                versions[name] = t.version
                order.append(name)
    all_rows = np.concatenate([t.rows for t in tables]) if tables else np.zeros(0, np.int64)
    disjoint = len(np.unique(all_rows)) == len(all_rows)
    merged: dict[str, _Merged] = {}
    for name in order:
        merge = _merge_disjoint if disjoint else _merge_overlapping
        merged[name] = merge([t for t in tables if name in t.values], name, n_packets)
    return merged, order, versions


def _merge_disjoint(tables: Sequence[ParameterTable], name: str, n_packets: int) -> _Merged:
    """Values of tables that decoded different packets, put in batch order with one sort."""
    counts = np.zeros(n_packets, dtype=np.int64)
    rows, values = [], []
    for t in tables:
        counts[t.rows] = t.counts[name]
        rows.append(np.repeat(np.asarray(t.rows, dtype=np.int64), t.counts[name]))
        values.append(np.asarray(t.values[name]))
    flat = np.concatenate(values) if values else np.zeros(0, dtype=np.int64)
    if len(flat) == 0:
        return _Merged(np.zeros(0, dtype=np.int64), counts)
    return _Merged(flat[np.argsort(np.concatenate(rows), kind="stable")], counts)


def _merge_overlapping(tables: Sequence[ParameterTable], name: str, n_packets: int) -> _Merged:
    """Values of tables that share packets: per packet, the last table holding it wins."""
    counts = np.zeros(n_packets, dtype=np.int64)
    per_row: list[NDArray | None] = [None] * n_packets
    for t in tables:
        counts[t.rows] = t.counts[name]
        for r, part in zip(t.rows.tolist(), t.split(name), strict=True):
            per_row[r] = part
    chunks = [p for p in per_row if p is not None and len(p)]
    values = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    return _Merged(values, counts)


def _rows_2d(m: _Merged, rows: NDArray[np.int64]) -> tuple[NDArray, bool]:
    """One row per packet (padded with 0); second value says whether padding happened."""
    counts = m.counts[rows]
    width = int(counts.max()) if len(counts) else 0
    out = np.zeros((len(rows), width), dtype=m.values.dtype)
    offsets = np.concatenate([[0], np.cumsum(m.counts)])
    for i, r in enumerate(rows.tolist()):
        c = int(m.counts[r])
        out[i, :c] = m.values[offsets[r] : offsets[r] + c]
    return out, bool(np.any(counts != width))


def packet_columns(
    tables: Sequence[ParameterTable],
    idbs: Mapping[str, Idb],
    n_packets: int,
    *,
    skip: frozenset[str] = frozenset(),
    skip_prefixes: tuple[str, ...] = (),
    fixed_order: bool = False,
) -> tuple[dict[str, Column], tuple[str, ...]]:
    """One DATA column per parameter, as STIXCore's DefaultProduct / HK products build them.

    Parameters
    ----------
    tables : decoded tables whose ``rows`` index a batch of ``n_packets`` packets
    idbs : IDB by version label (for ``PCF_DESCR`` and ``PCF_CURTX``)
    skip, skip_prefixes : parameter names / name prefixes that get no column
    fixed_order : order by (PLF byte offset, name) as STIXCore does for fixed layouts

    Returns
    -------
    columns, notes
    """
    merged, order, versions = merge_tables(tables, n_packets)
    present = [
        n
        for n in order
        if n not in skip and not n.startswith(skip_prefixes) and merged[n].counts.sum() > 0
    ]
    if fixed_order and tables:
        t0 = tables[0]
        plf = {name: offby for name, offby, _bit in idbs[t0.version].plf_rows(t0.spid)}
        present.sort(key=lambda n: (plf.get(n, 1 << 30), n))
    reshape = bool(_RESHAPE_TRIGGERS.intersection(present))
    rows = np.arange(n_packets, dtype=np.int64)
    columns: dict[str, Column] = {}
    notes: list[str] = []
    for name in present:
        m = merged[name]
        pdef = idbs[versions[name]].parameter(name)
        col = column_name(pdef.description if pdef else name)
        if not reshape and np.all(m.counts == 1):
            values: NDArray = m.values.astype(np.int64, copy=False)
        else:
            values, padded = _rows_2d(m, rows)
            values = values.astype(np.int64, copy=False)
            if padded:
                notes.append(f"{col}: rows of different length padded with 0")
        meta = {"NIXS": name, "PCF_CURTX": pdef.curtx if pdef else None}
        columns[col] = Column(values, meta=meta)
    return columns, tuple(notes)


def build_generic(
    tables: Sequence[ParameterTable],
    idbs: Mapping[str, Idb],
    scet_coarse: NDArray[np.integer],
    scet_fine: NDArray[np.integer],
) -> ProductColumns:
    """Build a generic (DefaultProduct) L0 product from one kind's packets.

    Parameters
    ----------
    tables : decoded parameters (``rows`` index the packets below)
    idbs : IDB by version label
    scet_coarse, scet_fine : packet header SCET of every packet, in product (time) order

    Returns
    -------
    ProductColumns
        CONTROL ``scet_coarse``, ``scet_fine``, ``integration_time``, ``index``; DATA ``time``,
        ``timedel``, one column per parameter, ``control_index``. The writer adds ``raw_file``,
        ``packet`` and ``parent`` to CONTROL.
    """
    n = len(scet_coarse)
    params, notes = packet_columns(tables, idbs, n)
    return with_packet_time(params, scet_coarse, scet_fine, notes, index_dtype=min_uint(n))


def with_packet_time(
    params: dict[str, Column],
    scet_coarse: NDArray[np.integer],
    scet_fine: NDArray[np.integer],
    notes: tuple[str, ...],
    *,
    index_dtype: np.dtype,
) -> ProductColumns:
    """Packet-time product: CONTROL SCET/``integration_time``/``index``, DATA time + params."""
    n = len(scet_coarse)
    index = np.arange(n).astype(index_dtype)
    control = {
        "scet_coarse": Column(np.asarray(scet_coarse, dtype=np.int64)),
        "scet_fine": Column(np.asarray(scet_fine, dtype=np.int64)),
        "integration_time": Column(np.zeros(n, dtype=np.int64)),
        "index": Column(index),
    }
    data: dict[str, Column] = {"time": Column(np.zeros(n)), "timedel": Column(np.zeros(n))}
    data.update(params)
    data["control_index"] = Column(index.copy())
    return ProductColumns(
        control=control,
        data=data,
        time_s=scet_float(np.asarray(scet_coarse), np.asarray(scet_fine)),
        timedel_s=np.zeros(n),
        notes=notes,
    )


# -- L0 framework adapters (``LbInput`` -> ``L0Product``) ----------------------------------------
def lb_idbs(inp: "LbInput") -> Mapping[str, Idb]:
    """IDBs of an `LbInput` by version label (the framework passes them as ``inp.idbs``)."""
    idbs = getattr(inp, "idbs", None)
    if idbs is None:
        raise ProductBuildError(f"{inp.parent}: the L0 input carries no IDBs")
    return idbs


def split_versions(table: ParameterTable) -> ParameterTable:
    """The table with ``rows`` renumbered 0..n-1 and the first IDB version of a merged label."""
    return dataclasses.replace(
        table, rows=np.arange(len(table), dtype=np.int64), version=table.version.split("+")[0]
    )


def _versioned_idbs(table: ParameterTable, idbs: Mapping[str, Idb]) -> Mapping[str, Idb]:
    first = table.version.split("+")[0]
    return {**idbs, table.version: idbs[first]}


def to_l0_product(
    inp: "LbInput",
    spec: ProductSpec,
    built: ProductColumns,
    rows: NDArray[np.int64],
) -> "L0Product":
    """Wrap packet-based columns (HK, generic) into the framework's `L0Product`.

    ``rows`` are the batch rows of the packets, one per CONTROL row; CONTROL gets ``raw_file``,
    ``packet`` and ``parent`` after ``index`` as STIXCore writes them.
    """
    control = {k: c.values for k, c in built.control.items()}
    control["raw_file"] = np.asarray(inp.raw_file)[rows]
    control["packet"] = np.asarray(inp.packet, dtype=np.int64)[rows]
    control["parent"] = np.full(len(rows), inp.parent.encode("ascii"))
    data = {k: c.values for k, c in built.data.items()}
    data["time"] = built.time_s
    data["timedel"] = built.timedel_s
    raws = sorted({r.decode("ascii") for r in control["raw_file"].tolist()})
    return L0Product(
        spec=spec,
        control=control,
        data=data,
        data_units={k: c.unit for k, c in built.data.items() if c.unit},
        control_units={k: c.unit for k, c in built.control.items() if c.unit},
        idb_versions=tuple(inp.idb_versions),
        header=tuple(built.cards)
        + tuple(("HISTORY", h, "") for h in built.history)
        + tuple(("COMMENT", c, "") for c in built.comments),
        parents=(inp.parent,),
        raw_files=tuple(raws),
        data_range=(built.datamin, built.datamax),
        bunit=built.bunit,
    )


def build_generic_l0(inp: "LbInput") -> list["L0Product"]:
    """L0 builder of every generic family (registered in ``products.builders``)."""
    params = inp.params
    if len(params) == 0:
        return []
    idbs = lb_idbs(inp)
    rows = params.rows
    h = inp.batch.headers
    service = int(h["service_type"][rows[0]])
    subtype = int(h["service_subtype"][rows[0]])
    pi1 = int(inp.batch.pi1[rows[0]])
    table = split_versions(params)
    built = build_generic(
        [table], _versioned_idbs(table, idbs), h["scet_coarse"][rows], h["scet_fine"][rows]
    )
    base = None if inp.spec.service is None else inp.spec.name
    spec = dataclasses.replace(
        inp.spec,
        name=generic_product_name(base, service, subtype, pi1),
        service=service,
        subtypes=(subtype,),
        ssids=(pi1,) if pi1 >= 0 else (),
    )
    return [to_l0_product(inp, spec, built, rows)]
