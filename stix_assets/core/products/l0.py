"""Level 0 (L0): LB packets parsed, decompressed and reshaped into product tables, per SCET day.

The framework every L0 product family builds on (domain doc 3.3-3.5, 3.7, 7). A family is one
builder function registered under its registry key in `stix_assets.core.products.builders`
(``BUILDERS``); this module reads LB files, decodes them, calls the builder, splits and writes.

Flow of `build_l0_day`:

1. every LB file of the request is read (`core.fits.read_fits`); its DATA hex becomes one
   `PacketBatch` (one numpy buffer, headers decoded with `core.tmtc.headers`);
2. the IDB version of each packet comes from ``store.versions_for`` on the CONTROL SCET; each
   (version, SPID) group is decoded with `decode_parameters`; undecodable packets are reported;
3. the builder of the file's product gets an `LbInput` (the packets, one merged
   `ParameterTable` in packet order, raw file / packet id per packet, the parent name, the
   IDB version ranges, the configuration folder) and returns `L0Product` objects;
   if the builder raises `ProductBuildError` (or a shape error) for the whole file and the
   family allows it, the file is rebuilt packet by packet and only the failing packets are
   dropped and reported (`L0Issue`): one bad packet never costs the day;
4. the products of one family from several LB files are stacked (`concat_products`, data rows
   unique on the centisecond time, first wins), then daily products are split by the SCET day
   of the DATA bin centres (`split_by_day`) and only ``scet_day`` is kept. BSD (per-request)
   products are passed through whole.

`stix_assets.core.products.l0_writer.write_l0` names and writes the files (``L0/<st>/<sst>[/<ssid>]/``), HDUs PRIMARY, CONTROL,
DATA, IDB_VERSIONS and, if the product has energies, ENERGIES, through `core.fits.write_fits`
(atomic, deterministic: the same inputs and ``created`` give the same bytes).

No merge at L0: an L0 file is a pure function of the LB files of its day (or request). The LB
step already merged every TM file into those LB files (new packets win), so an L0 file is rewritten
whole, never combined with an older L0 file (STIXCore merges at L0 because its LB files were per
TM file). A BSD L0 file is rewritten as well (STIXCore kept the first one, quirk 17).

Product tables (`L0Product.control` / ``.data``) are ordered dicts of numpy columns with the
dtypes they are written with. Two DATA columns are special:

* ``time``: float64 SCET seconds of the bin centre, ``coarse + fine / 65536`` (the SCLK
  convention, exact to 0.1 us); written as uint32 centiseconds relative to ``OBT_BEG`` (or float32
  seconds when ``time_encoding == "s"``, the aspect-burst exception);
* ``timedel``: float64 seconds; written as uint32 centiseconds (or float32 seconds).

Header times: ``OBT_BEG``/``OBT_END`` = min(time - timedel/2) / max(time + timedel/2) as
STIXCore floats (``coarse + fine / 65535``, quirk 1), ``DATE-OBS``/``DATE-BEG``/``DATE-AVG``/
``DATE-END`` the same instants (AVG: midpoint) as SCET strings ``cccccccccc:fffff``.

Known differences from STIXCore (docs/decisions.md):

* software identity: ``CREATOR``, ``VERS_SW``, ``VERS_CFG``, ``HISTORY`` text; ``DATE`` and the
  checksum comments are the ``created`` argument;
* the ENERGIES table is chosen at the product start in SCET read as UTC (L0 has no SPICE,
  `stix_assets.core.energies.energies_table`); SCET and UTC differ by less than a minute, so only a product within a minute of a
  STIX-CONF switch could get the neighbouring table;
* no ASTROPY-SERIALIZED-COLUMNS comment cards and no column descriptions.
"""

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.catalog import Catalog
from stix_assets.core.energies import check_channel_index, energies_table
from stix_assets.core.errors import PacketDecodeError, ProductBuildError
from stix_assets.core.fits import Card, read_fits
from stix_assets.core.idb import Idb, IdbStore, ParameterTable, decode_parameters
from stix_assets.core.products.registry import PRODUCTS, ProductSpec, product_for
from stix_assets.core.time import (
    SCET_EPOCH,
    SECONDS_PER_DAY,
    scet_float,
    scet_split,
    scet_to_float,
    stixcore_float,
)
from stix_assets.core.tmtc import PacketBatch
from stix_assets.core.tmtc.headers import HEADER_DTYPE, HEADER_SIZE, decode_headers
from stix_assets.core.tmtc.pi1 import assign_pi1

__all__ = [
    "BuilderEntry",
    "L0Build",
    "L0FileResult",
    "L0Issue",
    "L0Product",
    "LbInput",
    "build_l0_day",
    "build_l0_files",
    "concat_products",
    "energies_table",
    "lb_files_for_day",
    "merge_tables",
    "min_uint",
    "read_lb_file",
    "run_builder",
    "scet_float",
    "scet_split",
    "split_by_day",
    "stixcore_float",
]

logger = logging.getLogger(__name__)


# -- value objects ------------------------------------------------------------------------------
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
    """A packet or an LB file that did not make it into its L0 product, and why."""

    file: str
    packet_index: int | None
    reason: str
    packet_id: int | None = None

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


# -- small helpers shared by the families --------------------------------------------------------
def min_uint(values: NDArray | int) -> type[np.unsignedinteger]:
    """Smallest unsigned dtype holding ``values`` (STIXCore's ``get_min_uint``)."""
    top = int(np.max(values)) if np.size(values) else 0
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if top <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


def merge_tables(tables: Sequence[ParameterTable]) -> ParameterTable:
    """One `ParameterTable` in batch-row order from tables of several IDB versions.

    Parameters present in only some tables get zero counts for the packets of the others.
    """
    if len(tables) == 1:
        return tables[0]
    rows = np.concatenate([t.rows for t in tables])
    order = np.argsort(rows, kind="stable")
    names: list[str] = []
    for t in tables:
        names.extend(n for n in t.values if n not in names)
    values: dict[str, NDArray] = {}
    counts: dict[str, NDArray[np.int64]] = {}
    for name in names:
        cnt_parts, val_parts = [], []
        for t in tables:
            if name in t.values:
                cnt_parts.append(t.counts[name])
                val_parts.append(np.asarray(t.values[name]))
            else:
                cnt_parts.append(np.zeros(len(t), dtype=np.int64))
        cnt = np.concatenate(cnt_parts)
        flat = np.concatenate(val_parts) if val_parts else np.zeros(0, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        new_cnt = cnt[order]
        seg_starts = starts[order]
        idx = np.repeat(seg_starts - np.concatenate([[0], np.cumsum(new_cnt)[:-1]]), new_cnt)
        idx = idx + np.arange(int(new_cnt.sum()))
        values[name] = flat[idx]
        counts[name] = new_cnt
    first = tables[0]
    return ParameterTable(
        version="+".join(t.version for t in tables),
        spid=first.spid,
        rows=rows[order],
        values=values,
        counts=counts,
        end_bits=np.concatenate([t.end_bits for t in tables])[order],
        length_bits=np.concatenate([t.length_bits for t in tables])[order],
        files=first.files,
        description=first.description,
        rejected=tuple(q for t in tables for q in t.rejected),
    )


def _empty_table(spid: int, files: tuple[str, ...]) -> ParameterTable:
    return ParameterTable(
        version="",
        spid=spid,
        rows=np.zeros(0, dtype=np.int64),
        values={},
        counts={},
        end_bits=np.zeros(0, dtype=np.int64),
        length_bits=np.zeros(0, dtype=np.int64),
        files=files,
    )


# -- reading LB files ----------------------------------------------------------------------------
def read_lb_file(path: Path | str) -> tuple[PacketBatch, dict[str, NDArray], dict[str, object]]:
    """An LB file as a `PacketBatch` plus its CONTROL columns and primary header values.

    The DATA hex strings become one byte buffer (numpy, no per-packet Python decode of bytes);
    headers are decoded from the packet bytes exactly as from a TM file.
    """
    path = Path(path)
    content = read_fits(path)
    control, data = content.tables["CONTROL"], content.tables["DATA"]
    order = np.argsort(data["control_index"], kind="stable")
    pos = np.searchsorted(data["control_index"][order], control["index"])
    hexes = np.char.rstrip(data["data"][order][pos])
    n = len(hexes)
    lengths = np.char.str_len(hexes).astype(np.int64) // 2
    joined = b"".join(hexes.tolist())
    buffer = np.frombuffer(bytes.fromhex(joined.decode("ascii")), dtype=np.uint8).copy()
    offset = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=offset[1:])
    head = buffer[offset[:, None] + np.arange(HEADER_SIZE)[None, :]]
    headers = decode_headers(head) if n else np.zeros(0, dtype=HEADER_DTYPE)
    raw = control["raw_file"]
    files = tuple(sorted({r.decode("ascii") for r in raw.tolist()})) or (path.name,)
    file_index = np.searchsorted(np.array([f.encode("ascii") for f in files]), raw)
    pi1 = (
        control["ssid"].astype(np.int64)
        if "ssid" in (control.dtype.names or ())
        else np.full(n, -1, dtype=np.int64)
    )
    batch = PacketBatch(
        headers=headers,
        pi1=pi1,
        offset=offset,
        length=lengths,
        packet_id=control["packet"].astype(np.int64),
        file_index=file_index.astype(np.int32),
        buffer=buffer,
        files=files,
    )
    cols = {name: control[name] for name in control.dtype.names or ()}
    prim = {k: content.primary[k] for k in content.primary if k not in ("COMMENT", "HISTORY", "")}
    return batch, cols, prim


def _decode(
    batch: PacketBatch, store: IdbStore, name: str
) -> tuple[
    ParameterTable, NDArray[np.object_], list[L0Issue], tuple[tuple[str, float, float], ...]
]:
    h = batch.headers
    versions = store.versions_for(h["scet_coarse"], h["scet_fine"])
    tables: list[ParameterTable] = []
    issues: list[L0Issue] = []
    ranges: list[tuple[str, float, float]] = []
    spid = 0
    for version in sorted(set(versions.tolist())):
        idb = store.get(version)
        rows = np.flatnonzero(versions == version)
        with_pi1 = assign_pi1(batch, idb.pic())
        svc, sub = int(h["service_type"][rows[0]]), int(h["service_subtype"][rows[0]])
        pi1 = int(with_pi1.pi1[rows[0]])
        ptype = idb.packet_type(svc, sub, pi1 if pi1 >= 0 else None)
        if ptype is None:
            issues.extend(
                L0Issue(name, int(i), f"unknown packet type {svc}/{sub}/{pi1} idb {version}")
                for i in rows.tolist()
            )
            continue
        spid = ptype.spid
        try:
            table = decode_parameters(with_pi1, idb, spid, rows=rows)
        except PacketDecodeError as err:
            issues.extend(L0Issue(name, int(i), f"layout error: {err.reason}") for i in rows)
            continue
        issues.extend(L0Issue(name, q.packet_index, q.reason, q.packet_id) for q in table.rejected)
        if len(table):
            tables.append(table)
            t = scet_to_float(h["scet_coarse"][table.rows], h["scet_fine"][table.rows])
            ranges.append((version, float(t.min()), float(t.max())))
    params = merge_tables(tables) if tables else _empty_table(spid, batch.files)
    return params, versions, issues, tuple(ranges)


def _lb_input(path: Path, store: IdbStore, conf_dir: Path) -> tuple[LbInput, list[L0Issue]]:
    batch, control, _prim = read_lb_file(path)
    if len(batch) == 0:
        raise ProductBuildError(f"LB file {path.name} has no packets")
    h = batch.headers
    ssid = int(batch.pi1[0]) if batch.pi1[0] >= 0 else None
    spec = product_for(int(h["service_type"][0]), int(h["service_subtype"][0]), ssid)
    params, versions, issues, ranges = _decode(batch, store, path.name)
    rid = None
    if spec.per_request and "request_id" in control and control["request_id"].ndim == 2:
        tcc, req = (int(v) for v in control["request_id"][0])
        rid = (tcc, req)
    return (
        LbInput(
            spec=spec,
            batch=batch,
            params=params,
            versions=versions,
            raw_file=control["raw_file"],
            packet=control["packet"].astype(np.int64),
            parent=path.name,
            request_id=rid,
            conf_dir=Path(conf_dir),
            idb_versions=ranges,
            idbs={str(v): store.get(str(v)) for v in set(versions.tolist()) if v},
        ),
        issues,
    )


def _subset(inp: LbInput, packet: int) -> LbInput:
    """The input restricted to one packet (for the packet-by-packet retry)."""
    p = inp.params
    keep = p.rows == packet
    sel = np.flatnonzero(keep)
    values, counts = {}, {}
    for name, vals in p.values.items():
        off = p.offsets(name)
        values[name] = np.asarray(vals)[off[sel[0]] : off[sel[0] + 1]] if len(sel) else vals[:0]
        counts[name] = p.counts[name][sel]
    table = dataclasses.replace(
        p,
        rows=p.rows[sel],
        values=values,
        counts=counts,
        end_bits=p.end_bits[sel],
        length_bits=p.length_bits[sel],
        engineering={},
    )
    return dataclasses.replace(inp, params=table)


# -- building ------------------------------------------------------------------------------------
_SHAPE_ERRORS = (ProductBuildError, ValueError, IndexError, KeyError)


def _products_of(built: object) -> tuple[list[L0Product], list[object]]:
    # a builder returns its products, or an object with ``products`` and ``waiting`` (BSD)
    if isinstance(built, list):
        return built, []
    return list(built.products), list(getattr(built, "waiting", []))


def run_builder(
    entry: BuilderEntry, inp: LbInput
) -> tuple[list[L0Product], list[L0Issue], list[object]]:
    """Run a family builder; on a shape error retry packet by packet (if the entry allows).

    Returns
    -------
    products : what could be built
    issues : the LB file (retry not allowed) or the packets that failed, with the reason
    waiting : incomplete BSD sequences the builder left for later TM
    """
    try:
        products, waiting = _products_of(entry.build(inp))
        return products, [], waiting
    except _SHAPE_ERRORS as err:
        if not entry.per_packet_retry or len(inp.params) <= 1:
            return [], [L0Issue(inp.parent, None, f"{type(err).__name__}: {err}")], []
        logger.warning(
            "l0 build failed, retrying per packet file=%s product=%s error=%s",
            inp.parent,
            inp.spec.key,
            err,
        )
    products = []
    issues: list[L0Issue] = []
    for row in inp.params.rows.tolist():
        try:
            products.extend(_products_of(entry.build(_subset(inp, row)))[0])
        except _SHAPE_ERRORS as err:
            issues.append(
                L0Issue(inp.parent, row, f"{type(err).__name__}: {err}", int(inp.packet[row]))
            )
    return products, issues, []


def build_l0_files(
    lb_files: Iterable[Path | str],
    store: IdbStore,
    conf_dir: Path | str,
    *,
    products: Collection[str] | None = None,
) -> L0Build:
    """Build the L0 products of LB files, one family per file, without day splitting.

    Products of the same family from several files are stacked (`concat_products`) for daily
    families; BSD products stay one per request.
    """
    from stix_assets.core.products.builders import BUILDERS  # registry of families

    check_channel_index(conf_dir)
    by_key: dict[str, list[L0Product]] = {}
    issues: list[L0Issue] = []
    waiting: list[object] = []
    for path in sorted(Path(p) for p in lb_files):
        try:
            inp, decode_issues = _lb_input(path, store, Path(conf_dir))
        except ProductBuildError as err:
            issues.append(L0Issue(path.name, None, str(err)))
            continue
        issues.extend(decode_issues)
        if products is not None and inp.spec.key not in products:
            continue
        entry = BUILDERS.get(inp.spec.key)
        if entry is None:
            logger.debug("no l0 builder product=%s file=%s", inp.spec.key, path.name)
            continue
        if len(inp.params) == 0:
            issues.append(L0Issue(path.name, None, "no decodable packet"))
            continue
        built, build_issues, build_waiting = run_builder(entry, inp)
        issues.extend(build_issues)
        waiting.extend(build_waiting)
        for prod in built:
            # generic families name their products per packet kind (events-1-33, ...)
            by_key.setdefault(prod.spec.name, []).append(prod)
    out: list[L0Product] = []
    for _key, prods in sorted(by_key.items()):
        if not prods:
            continue
        if prods[0].spec.per_request:
            out.extend(prods)
        else:
            out.append(concat_products(prods))
    for issue in issues:
        logger.warning(
            "l0 packet left out file=%s packet=%s reason=%s",
            issue.file,
            issue.packet_index,
            issue.reason,
        )
    return L0Build(out, issues, waiting)


def build_l0_day(
    lb_files: Iterable[Path | str],
    scet_day: date,
    store: IdbStore,
    conf_dir: Path | str,
    *,
    products: Collection[str] | None = None,
) -> L0Build:
    """Build the L0 products of one SCET day from the LB files that may hold it.

    Parameters
    ----------
    lb_files : LB files (a daily product's bins may come from the LB files of the day before or
        after: pass those too)
    scet_day : the SCET day (``coarse // 86400``) whose DATA bin centres are kept
    store : installed IDBs
    conf_dir : STIX-CONF root
    products : only these registry keys

    Returns
    -------
    L0Build
        Daily products restricted to ``scet_day`` (empty ones dropped) and BSD products whole.
    """
    built = build_l0_files(lb_files, store, conf_dir, products=products)
    out: list[L0Product] = []
    for prod in built.products:
        if prod.spec.per_request:
            out.append(prod)
            continue
        out.extend(p for p in split_by_day(prod) if p.scet_day == scet_day)
    return L0Build(out, built.issues, built.waiting)


def lb_files_for_day(
    catalog: Catalog, scet_day: date, products: Collection[str] | None = None
) -> list[Path]:
    """LB files an L0 day is built from, per the catalog.

    Daily products take the LB files of the day and of both neighbours (bins near midnight sit in
    the neighbour's file); BSD products take the request files recorded for the day itself.
    """
    keys = set(products) if products is not None else None
    per_request = {p.key for p in PRODUCTS if p.per_request}
    found: set[Path] = set()
    for offset in (-1, 0, 1):
        day = scet_day + timedelta(days=offset)
        for product, paths in catalog.partition_files("LB", day, keys).items():
            if offset == 0 or product not in per_request:
                found.update(p for p in paths if p.is_file())
    return sorted(found)


# -- stacking and splitting ----------------------------------------------------------------------
def _take(table: Mapping[str, NDArray], idx: NDArray) -> dict[str, NDArray]:
    return {k: np.asarray(v)[idx] for k, v in table.items()}


def _fit_index(col: NDArray, template: NDArray) -> NDArray:
    dtype = template.dtype
    if dtype.kind in "ui" and len(col) and int(col.max()) > np.iinfo(dtype).max:
        dtype = np.dtype(min_uint(col))
    return col.astype(dtype)


def _stack(cols: list[NDArray]) -> NDArray:
    if cols[0].dtype.kind == "S":
        width = max(c.dtype.itemsize for c in cols)
        return np.concatenate([c.astype(f"S{width}") for c in cols])
    return np.concatenate(cols)


def concat_products(prods: Sequence[L0Product]) -> L0Product:
    """Stack products of one family: control re-indexed, data unique on centisecond time.

    Rows are sorted by time; of rows with the same rounded centisecond time the first (in input
    order) is kept; control rows no longer referenced are dropped and indices renumbered.
    """
    if len(prods) == 1:
        return _reindex(prods[0])
    base = 0
    controls, datas = [], []
    for p in prods:
        c = dict(p.control)
        d = dict(p.data)
        c["index"] = c["index"].astype(np.int64) + base
        d["control_index"] = d["control_index"].astype(np.int64) + base
        base = int(c["index"].max()) + 1 if len(c["index"]) else base
        controls.append(c)
        datas.append(d)
    control = {k: _stack([c[k] for c in controls]) for k in controls[0]}
    data = {k: _stack([d[k] for d in datas]) for k in datas[0]}
    first = prods[0]
    key = np.round(data["time"] * 100.0).astype(np.int64)
    _, keep = np.unique(key, return_index=True)
    data = _take(data, keep)
    ranges: dict[str, tuple[float, float]] = {}
    for p in prods:
        for v, s, e in p.idb_versions:
            lo, hi = ranges.get(v, (s, e))
            ranges[v] = (min(lo, s), max(hi, e))
    merged = dataclasses.replace(
        first,
        control=control,
        data=data,
        idb_versions=tuple((v, s, e) for v, (s, e) in sorted(ranges.items())),
        parents=tuple(sorted({x for p in prods for x in p.parents})),
        raw_files=tuple(sorted({x for p in prods for x in p.raw_files})),
        data_range=(
            min(p.data_range[0] for p in prods),
            max(p.data_range[1] for p in prods),
        ),
    )
    return _reindex(merged, template=first)


def _reindex(prod: L0Product, template: L0Product | None = None) -> L0Product:
    """Keep referenced control rows, renumber ``index``/``control_index`` from 0."""
    template = template or prod
    used, inverse = np.unique(prod.data["control_index"].astype(np.int64), return_inverse=True)
    cidx = prod.control["index"].astype(np.int64)
    pos = np.searchsorted(cidx, used) if np.all(np.diff(cidx) > 0) else None
    if pos is None:
        order = np.argsort(cidx, kind="stable")
        pos = order[np.searchsorted(cidx[order], used)]
    control = _take(prod.control, pos)
    control["index"] = _fit_index(np.arange(len(pos)), template.control["index"])
    data = dict(prod.data)
    data["control_index"] = _fit_index(
        inverse.reshape(-1).astype(np.int64), template.data["control_index"]
    )
    return dataclasses.replace(prod, control=control, data=data)


def split_by_day(prod: L0Product) -> list[L0Product]:
    """Split a daily product by the SCET day of its DATA bin centres (domain doc 3.7)."""
    days = np.floor(prod.data["time"] / SECONDS_PER_DAY).astype(np.int64)
    out = []
    for day in np.unique(days).tolist():
        idx = np.flatnonzero(days == day)
        part = dataclasses.replace(
            prod,
            data=_take(prod.data, idx),
            scet_day=SCET_EPOCH + np.timedelta64(day, "D").astype(object),
        )
        out.append(_reindex(part, template=prod))
    return out
