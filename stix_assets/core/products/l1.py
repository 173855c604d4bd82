"""Level 1 (L1): L0 products with engineering values, UTC header times and ephemeris, per UTC day.

Domain doc 3.3-3.5, 3.8, 4.4, 4.6, 6. `build_l1_day` reads L0 files (the caller passes the daily
L0 files of SCET days D-1..D+1, since a SCET day overlaps two UTC days, and the BSD L0 files that
may start on D) and, for every product:

1. reads the file back into an `L0Product` (``level = "L1"``): absolute bin-centre times from
   ``OBT_BEG`` plus the relative ``time`` column, ``timedel`` signed (a negative duration written
   as uint32 at L0 is read back negative, not as 42949032 s as STIXCore did);
2. BSD X-ray families: the off-by-one fix for IDB < 2.26.36
   (`stix_assets.core.products.l1_families.bsd_time_shift`);
3. engineering conversion of the raw columns, row by row with the IDB owning the row's time
   (periods of ``IDB_VERSIONS`` sorted by start, the first open to the past, each ending at the
   next start, the last open to the future; domain doc 2.4). The raw columns are the DATA
   parameter columns of HK and generic products (matched by name to the parameters of the
   packet's IDB layout, since our L0 files do not carry STIXCore's ``PCF_CURTX`` column metadata)
   and the cal-energy CONTROL columns of `l1_families.CAL_ENERGY_RAW`. Numbers become float64
   with the IDB unit (degC -> K), textual calibrations strings or booleans;
4. family fixes (`l1_families.apply_fixes`) and the CONTROL ``parent`` column set to the complete
   (``U``-less) L0 file name;
5. daily products of one family are stacked (`concat_products`: new rows win on equal
   centisecond time) and only the bins whose centre lies on the UTC day are kept; BSD products
   are kept when their UTC start lies on the day;
6. the ENERGIES table is recomputed with the channel table valid at the UTC time of the first
   CONTROL row (`stix_assets.core.energies`);
7. header values: ``OBT_BEG``/``OBT_END`` (STIXCore floats), ``DATE-OBS``/``-BEG``/``-AVG``/
   ``-END`` in UTC (ms), ``TIMESYS = UTC``, ``LEVEL = L1``, SOOP keywords ``none`` (no SOOP
   files yet), the ephemeris keywords of `stix_assets.core.ephemeris.ephemeris_header` at the UTC
   centre (``SPICE_ER = '1'`` with empty values where the kernels do not cover the time).

SCET -> UTC goes through `stix_assets.core.time.scet_to_utc` (the SCLK model, exact ticks).
Nothing is written by `build_l1_day`; `write_l1` writes whole files atomically
(`stix_assets.core.fits.write_fits`), so a day that fails while building leaves no file.

Reprocessing: `L1Build.needs_reprocessing` says the day's files would change with better kernels
(a product with ``SPICE_ER``, a time after the SCLK kernel's last correlation point, or the
orbit of the day only from a predicted kernel); each `L1FileResult` carries the same flag.

Known differences from STIXCore (docs/decisions.md): software identity keywords; ``HAEZ_OBS`` and
``OBS_VR`` (see `stix_assets.core.ephemeris`); ``SCI_TCC`` filled for BSD files; ``TRIG_SCA`` and
``DATAWARN`` carried from L0 (STIXCore drops them at L1); signed ``timedel`` (see 1.);
``OBT_BEG``/``OBT_END`` from the smallest bin start / largest bin end (STIXCore: first and last
row, identical for ordered data).
"""

import dataclasses
import functools
import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.time import Time
from numpy.typing import NDArray

from stix_assets.core.catalog import Catalog
from stix_assets.core.energies import energies_for_mask
from stix_assets.core.ephemeris import EPHEMERIS_COMMENTS, DayCoverage, coverage, ephemeris_header
from stix_assets.core.errors import IDBVersionError, ProductBuildError
from stix_assets.core.fits import Card, read_fits, write_fits
from stix_assets.core.idb import IdbStore, calibrate_parameter
from stix_assets.core.products import l1_families
from stix_assets.core.products.generic import column_name
from stix_assets.core.products.header import common_cards, creation_time, obt_utc_cards
from stix_assets.core.products.l0 import L0Product, concat_products
from stix_assets.core.products.l0_writer import l0_tables
from stix_assets.core.products.registry import ProductSpec, product_for
from stix_assets.core.spice import LoadedKernels
from stix_assets.core.time import (
    FINE_PER_SECOND,
    SECONDS_PER_DAY,
    day_index,
    float_to_scet,
    scet_float,
    scet_split,
    scet_to_float,
    scet_to_utc,
    sclk_extrapolated,
    split_scet_seconds,
    stixcore_float,
    utc_day_index,
)

__all__ = [
    "L1Build",
    "L1FileResult",
    "L1Issue",
    "L1Product",
    "build_l1_day",
    "calibrate_columns",
    "complete_name",
    "l0_files_for_day",
    "l1_file_name",
    "read_l0_product",
    "write_l1",
]

logger = logging.getLogger(__name__)

SOOP_KEYWORDS = (
    ("OBS_MODE", "Observation mode"),
    ("OBS_TYPE", "Encoded version of OBS_MODE"),
    ("OBS_ID", "Unique ID of the individual observation"),
    ("SOOPNAME", "Name of the SOOP Campaign that the data belong to"),
    ("SOOPTYPE", "Campaign ID(s) that the data belong to"),
    ("TARGET", "Type of target from planning"),
)
_CARRIED = ("TRIG_SCA", "DATAWARN")
_U_STATUS = re.compile(r"_V(\d+)U([._])")


# -- value objects ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class L1Issue:
    """An L0 file or product that did not make it into L1, and why."""

    file: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        """Plain values for metadata."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class L1Product:
    """One L1 product ready to write.

    Attributes
    ----------
    tables : CONTROL/DATA/IDB_VERSIONS/ENERGIES content (an `L0Product` with ``level = "L1"``)
    utc_day : UTC day of the product (daily: the partition day; BSD: the start day)
    file_name : file name (daily products with the ``U`` status)
    directory : ``L1/<YYYY>/<MM>/<DD>/<TYPE>`` relative to the archive root
    ids : ``(STYPE, SSTYPE, SSID, SCI_RID, SCI_TCC)`` header values
    utc : UTC of start, centre and end (FITS strings, ms)
    ephemeris : ``SPICE_MK``, ``SPICE_ER`` (only when not covered) and the ephemeris keywords
    extrapolated : some time lies after the SCLK kernel's last correlation point
    notes : fixes applied (for metadata)
    """

    tables: L0Product
    utc_day: date
    file_name: str
    directory: Path
    ids: tuple[object, object, object, str, str]
    utc: tuple[str, str, str]
    ephemeris: Mapping[str, float | str]
    extrapolated: bool = False
    notes: tuple[str, ...] = ()

    @property
    def spice_error(self) -> bool:
        """The ephemeris keywords are empty because the kernels do not cover the time."""
        return "SPICE_ER" in self.ephemeris

    @property
    def n_rows(self) -> int:
        """Number of DATA rows."""
        return self.tables.n_rows


@dataclass(frozen=True, slots=True)
class L1Build:
    """Result of `build_l1_day`.

    Attributes
    ----------
    products : what is ready to write
    issues : L0 files or products left out, with the reason
    coverage : how the kernels cover the day
    """

    products: list[L1Product]
    issues: list[L1Issue]
    coverage: DayCoverage

    @property
    def needs_reprocessing(self) -> bool:
        """Whether better kernels would change the day's files (see the module docstring)."""
        return self.coverage.orbit == "predicted" or any(
            p.spice_error or p.extrapolated for p in self.products
        )


@dataclass(frozen=True, slots=True)
class L1FileResult:
    """One L1 file written."""

    path: Path
    product_key: str
    utc_day: date
    request_id: str | None
    sha256: str
    n_rows: int
    inputs: tuple[str, ...]
    spice_error: bool = False
    needs_reprocessing: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_metadata(self) -> dict[str, object]:
        """Plain values for metadata and the catalog."""
        return {
            "path": str(self.path),
            "product": self.product_key,
            "utc_day": self.utc_day.isoformat(),
            "request_id": self.request_id,
            "rows": self.n_rows,
            "sha256": self.sha256,
            "inputs": list(self.inputs),
            "spice_error": self.spice_error,
            "needs_reprocessing": self.needs_reprocessing,
            "notes": list(self.notes),
        }


# -- reading L0 files ---------------------------------------------------------------------------
def complete_name(name: str) -> str:
    """File name without the ``U`` status (``..._V02U.fits`` -> ``..._V02.fits``)."""
    return _U_STATUS.sub(r"_V\1\2", name)


def _units(header: fits.Header) -> dict[str, str]:
    out = {}
    for i in range(1, int(header.get("TFIELDS", 0)) + 1):
        unit = str(header.get(f"TUNIT{i}", "")).strip()
        if unit:
            out[str(header[f"TTYPE{i}"])] = unit
    return out


def _columns(table: NDArray[np.void]) -> dict[str, NDArray]:
    return {name: np.asarray(table[name]) for name in table.dtype.names or ()}


def _spec_of(primary: fits.Header, name: str) -> ProductSpec:
    ssid = primary.get("SSID", "")
    ssid = None if ssid in ("", None) else int(ssid)
    service, subtype = int(primary["STYPE"]), int(primary["SSTYPE"])
    spec = product_for(service, subtype, ssid)
    if spec.generic:
        product_name = name.split("_")[2].removeprefix("stix-")
        spec = dataclasses.replace(
            spec,
            name=product_name,
            service=service,
            subtypes=(subtype,),
            ssids=(ssid,) if ssid is not None else (),
        )
    return spec


def _absolute_times(
    primary: fits.Header, data: dict[str, NDArray], units: Mapping[str, str]
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    coarse, fine = float_to_scet(float(primary["OBT_BEG"]))
    beg = float(scet_float(coarse, fine))
    t, dt = np.asarray(data["time"]), np.asarray(data["timedel"])
    if units.get("time") == "s" and t.dtype.kind == "f":
        return beg + t.astype(np.float64), dt.astype(np.float64), "s"
    dt = dt.astype(np.int64)
    dt = np.where(dt >= 2**31, dt - 2**32, dt)  # negative durations written as uint32 at L0
    return beg + t.astype(np.float64) / 100.0, dt / 100.0, "cs"


def _text_cards(primary: fits.Header) -> tuple[Card, ...]:
    cards: list[Card] = [(k, primary[k], primary.comments[k]) for k in _CARRIED if k in primary]
    for key in ("COMMENT", "HISTORY"):
        if key in primary:
            cards.extend((key, str(v), "") for v in primary[key])
    return tuple(cards)


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def read_l0_product(path: Path | str) -> tuple[L0Product, fits.Header]:
    """An L0 file read back into an `L0Product` (``level = "L1"``) plus its primary header.

    ``time`` becomes absolute SCET seconds (1/65536 convention) of the bin centres, ``timedel``
    signed seconds; the CONTROL ``parent`` column is set to the complete name of this L0 file.
    A file is read once per process while it is unchanged (an L1 day reads the SCET days around
    it, so each L0 file serves up to three days); the cached arrays are read-only.
    """
    path = Path(path)
    st = path.stat()
    return _read_l0_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=512)
def _read_l0_cached(path_text: str, _mtime_ns: int, _size: int) -> tuple[L0Product, fits.Header]:
    path = Path(path_text)
    content = read_fits(path)
    for table in content.tables.values():
        table.flags.writeable = False
    primary = content.primary
    spec = _spec_of(primary, path.name)
    control = _columns(content.tables["CONTROL"])
    data = _columns(content.tables["DATA"])
    control_units = _units(content.headers["CONTROL"])
    data_units = _units(content.headers["DATA"])
    time, timedel, encoding = _absolute_times(primary, data, data_units)
    data["time"], data["timedel"] = time, timedel
    data_units = {k: v for k, v in data_units.items() if k not in ("time", "timedel")}
    parent = complete_name(path.name)
    n_control = len(next(iter(control.values()))) if control else 0
    control["parent"] = np.full(n_control, parent.encode("ascii"))
    versions = tuple(
        (v.decode("ascii").strip(), float(s), float(e))
        for v, s, e in content.tables.get("IDB_VERSIONS", np.zeros(0, "S1,f8,f8")).tolist()
    )
    energies = content.tables.get("ENERGIES")
    prod = L0Product(
        spec=spec,
        control=control,
        data=data,
        control_units=control_units,
        data_units=data_units,
        idb_versions=versions,
        energies=_columns(energies) if energies is not None else None,
        header=_text_cards(primary),
        parents=(parent,),
        raw_files=tuple(r for r in str(primary.get("RAW_FILE", "")).split(";") if r),
        data_range=(_number(primary.get("DATAMIN")), _number(primary.get("DATAMAX"))),
        bunit=str(primary.get("BUNIT", "")),
        time_encoding=encoding,
        level="L1",
    )
    return prod, primary


# -- engineering values ---------------------------------------------------------------------------
def _row_versions(
    times: NDArray[np.float64], periods: Sequence[tuple[str, float, float]]
) -> NDArray[np.object_]:
    """IDB version of each row: periods sorted by start, each running to the next start."""
    ordered = sorted(periods, key=lambda p: p[1])
    starts = np.array([p[1] for p in ordered])
    idx = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, None)
    return np.array([p[0] for p in ordered], dtype=object)[idx]


def _layout_parameters(spec: ProductSpec, ssid: int | None, store: IdbStore, versions) -> dict:
    """Column name -> parameter name of a packet-parameter product (later parameters win)."""
    out: dict[str, str] = {}
    for version in versions:
        idb = store.get(version)
        ptype = idb.packet_type(int(spec.service or 0), int(spec.subtypes[0]), ssid)
        if ptype is None:
            continue
        if ptype.is_variable:
            names = [name for _pos, name, _grp, _off in idb.vpd_rows(ptype.tpsd)]
        else:
            names = [name for name, _byte, _bit in idb.plf_rows(ptype.spid)]
        for name in names:
            param = idb.parameter(name)
            if param is not None:
                out[column_name(param.description)] = name
    return out


def _combine(raw: NDArray, groups: list[tuple[NDArray, object]], column: str) -> tuple:
    """One column from per-IDB calibration results; returns (values, unit or None)."""
    results = [r for _, r in groups]
    if all(r is None for r in results):
        return raw, None
    if any(r is None for r in results):
        raise ProductBuildError(f"column {column} is calibrated by only some of its IDB versions")
    if all(isinstance(r, u.Quantity) for r in results):
        unit = results[0].unit  # type: ignore[union-attr]
        out = np.zeros(raw.shape, dtype=np.float64)
        for rows, r in groups:
            out[rows] = r.to_value(unit)  # type: ignore[union-attr]
        return out, unit.to_string()
    if all(np.asarray(r).dtype == bool for r in results):
        out = np.zeros(raw.shape, dtype=bool)
        for rows, r in groups:
            out[rows] = r
        return out, ""
    text = np.empty(raw.shape, dtype=object)
    for rows, r in groups:
        text[rows] = np.asarray(r, dtype=object)
    strings = np.vectorize(str, otypes=[object])(text).astype(str)
    return np.char.encode(strings, "ascii"), ""


def calibrate_columns(
    table: Mapping[str, NDArray],
    parameters: Mapping[str, str],
    row_versions: NDArray[np.object_],
    store: IdbStore,
) -> tuple[dict[str, NDArray], dict[str, str], list[str]]:
    """Engineering values of the raw columns of one table, per IDB version of each row.

    Parameters
    ----------
    table : the columns
    parameters : raw column -> IDB parameter name
    row_versions : IDB version of each row
    store : installed IDBs

    Returns
    -------
    columns : the converted columns only
    units : their units (``""`` for textual ones)
    notes : calibration issues (raw values without a text, ...)
    """
    out: dict[str, NDArray] = {}
    units: dict[str, str] = {}
    notes: list[str] = []
    versions = sorted(set(row_versions.tolist()))
    for col, pname in parameters.items():
        if col not in table:
            continue
        raw = np.asarray(table[col])
        groups = []
        for version in versions:
            rows = np.flatnonzero(row_versions == version)
            idb = store.get(version)
            param = idb.parameter(pname)
            values, issue = (
                (None, None) if param is None else calibrate_parameter(raw[rows], param, idb)
            )
            if issue:
                notes.append(f"{col} (IDB {version}): {issue}")
            groups.append((rows, values))
        values, unit = _combine(raw, groups, col)
        if unit is not None:
            out[col], units[col] = values, unit
    return out, units, notes


def _engineering(prod: L0Product, ssid: int | None, store: IdbStore) -> tuple[L0Product, list[str]]:
    if not prod.idb_versions:
        return prod, []
    notes: list[str] = []
    data, control = dict(prod.data), dict(prod.control)
    data_units, control_units = dict(prod.data_units), dict(prod.control_units)
    if prod.spec.generic or prod.spec.type == "hk":
        versions = sorted({v for v, _, _ in prod.idb_versions})
        params = _layout_parameters(prod.spec, ssid, store, versions)
        params = {c: p for c, p in params.items() if c in data and c not in ("time", "timedel")}
        rows = _row_versions(stixcore_float(data["time"]), prod.idb_versions)
        cols, units, n = calibrate_columns(data, params, rows, store)
        data.update(cols)
        data_units.update({k: v for k, v in units.items() if v})
        notes.extend(n)
    control_params = l1_families.raw_control_columns(prod.spec.key)
    if control_params:
        t = scet_to_float(control["scet_coarse"], control["scet_fine"])
        rows = _row_versions(t, prod.idb_versions)
        cols, units, n = calibrate_columns(control, control_params, rows, store)
        control.update(cols)
        control_units.update({k: v for k, v in units.items() if v})
        notes.extend(n)
    return (
        dataclasses.replace(
            prod, data=data, control=control, data_units=data_units, control_units=control_units
        ),
        notes,
    )


# -- time -----------------------------------------------------------------------------------------
def _utc(seconds: NDArray, kernels: LoadedKernels) -> tuple[Time, bool]:
    coarse, fine = split_scet_seconds(seconds)
    late = bool(np.any(sclk_extrapolated(coarse, fine, kernels)))
    return scet_to_utc(coarse, fine, kernels, warn=False), late


def _fits_ms(time: Time) -> str:
    t = time.utc.copy()
    t.precision = 3
    return str(t.isot)


# -- naming ---------------------------------------------------------------------------------------
def _type_dir(spec: ProductSpec) -> str:
    return spec.type.upper()


def l1_file_name(
    spec: ProductSpec, utc_day: date, *, bsd: tuple[Time, Time, str] | None = None
) -> str:
    """File name of an L1 product (domain doc 3.3).

    Daily: ``solo_L1_stix-<name>_<YYYYMMDD>_V<NN>[U].fits``; BSD:
    ``solo_L1_stix-<name>_<start>-<end>_V<NN>_<rid>[-<tcc>].fits`` with UTC ``YYYYMMDDTHHMMSS``.
    """
    version = f"V{spec.processing_version:02d}"
    if bsd is not None:
        start, end, suffix = bsd
        fmt = "%Y%m%dT%H%M%S"
        span = f"{start.utc.to_datetime().strftime(fmt)}-{end.utc.to_datetime().strftime(fmt)}"
        return f"solo_L1_stix-{spec.name}_{span}_{version}_{suffix}.fits"
    status = "U" if spec.daily else ""
    return f"solo_L1_stix-{spec.name}_{utc_day:%Y%m%d}_{version}{status}.fits"


def _bsd_suffix(l0_name: str) -> str:
    parts = complete_name(l0_name).removesuffix(".fits").split("_")
    return "_".join(parts[5:]) if len(parts) > 5 else "0000000000"


# -- building -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Part:
    prod: L0Product
    primary: fits.Header
    name: str
    notes: tuple[str, ...]


def _ids(primary: fits.Header) -> tuple[object, object, object, str, str]:
    return (
        primary.get("STYPE", ""),
        primary.get("SSTYPE", ""),
        primary.get("SSID", ""),
        str(primary.get("SCI_RID", "")),
        str(primary.get("SCI_TCC", "")),
    )


def _ssid(primary: fits.Header) -> int | None:
    value = primary.get("SSID", "")
    return None if value in ("", None) else int(value)


def _convert(path: Path, store: IdbStore, kernels: LoadedKernels) -> _Part:
    prod, primary = read_l0_product(path)
    notes: list[str] = []
    if prod.spec.key in l1_families.BSD_SHIFT_KEYS:
        start, _ = prod.time_range()
        utc_start, _ = _utc(np.array([start]), kernels)
        prod, n = l1_families.bsd_time_shift(prod, utc_start[0].to_datetime(timezone=UTC))
        notes.extend(n)
    prod, n = _engineering(prod, _ssid(primary), store)
    notes.extend(n)
    return _Part(l1_families.apply_fixes(prod), primary, path.name, tuple(notes))


def _with_parents(prod: L0Product, raw_by_parent: Mapping[str, tuple[str, ...]]) -> L0Product:
    parents = tuple(sorted({p.decode("ascii").strip() for p in prod.control["parent"].tolist()}))
    raws = tuple(sorted({r for p in parents for r in raw_by_parent.get(p, ())}))
    return dataclasses.replace(prod, parents=parents, raw_files=raws)


def _energies(prod: L0Product, conf_dir: Path, kernels: LoadedKernels) -> L0Product:
    if prod.energies is None:
        return prod
    if "scet_coarse" in prod.control:
        first = float(np.asarray(prod.control["scet_coarse"])[0])
    else:
        first = prod.time_range()[0]
    when, _ = _utc(np.array([first]), kernels)
    mask = prod.control.get("energy_bin_edge_mask")
    energies = energies_for_mask(
        conf_dir, when[0].to_datetime(timezone=UTC), None if mask is None else mask[0]
    )
    if len(energies["channel"]) != len(prod.energies["channel"]):
        raise ProductBuildError(
            f"{prod.spec.key}: {len(energies['channel'])} energy channels from STIX-CONF, "
            f"{len(prod.energies['channel'])} in the L0 file"
        )
    return dataclasses.replace(prod, energies=energies)


def _finish(
    prod: L0Product,
    primary: fits.Header,
    utc_day: date,
    kernels: LoadedKernels,
    conf_dir: Path,
    *,
    bsd_suffix: str | None,
    notes: Sequence[str],
    late: bool,
) -> L1Product:
    prod = _energies(prod, conf_dir, kernels)
    beg, end = prod.time_range()
    (b, e) = (scet_split(beg), scet_split(end))
    avg = ((b[0] * 65536 + b[1]) + (e[0] * 65536 + e[1])) // 2 / FINE_PER_SECOND
    utc, late_range = _utc(np.array([beg, avg, end]), kernels)
    eph = ephemeris_header(utc[1], kernels, utc_start=utc[0])
    if bsd_suffix is not None:
        name = l1_file_name(prod.spec, utc_day, bsd=(utc[0], utc[2], bsd_suffix))
    else:
        name = l1_file_name(prod.spec, utc_day)
    directory = Path("L1", f"{utc_day:%Y}", f"{utc_day:%m}", f"{utc_day:%d}", _type_dir(prod.spec))
    return L1Product(
        tables=prod,
        utc_day=utc_day,
        file_name=name,
        directory=directory,
        ids=_ids(primary),
        utc=(_fits_ms(utc[0]), _fits_ms(utc[1]), _fits_ms(utc[2])),
        ephemeris=eph,
        extrapolated=late or late_range,
        notes=tuple(notes),
    )


def _primary_header(path: Path) -> fits.Header:
    return read_l0_product(path)[1]


def _key_of(path: Path) -> tuple[str, bool]:
    primary = _primary_header(path)
    spec = _spec_of(primary, path.name)
    return spec.key, spec.per_request


def _may_hold(l0_name: str, utc_day: date) -> bool:
    """False when the SCET date in an L0 name is more than a day away from ``utc_day``.

    SCET and UTC differ by less than a minute, so an L0 daily file of SCET day ``d`` (or a BSD
    file starting at SCET ``s``) can only hold bins of UTC days ``d - 1 .. d + 1``.
    """
    try:
        start = int(l0_name.split("_")[3].split("-")[0])
    except (IndexError, ValueError):
        return True
    return abs(start // SECONDS_PER_DAY - day_index(utc_day)) <= 1


def _daily(
    parts: list[_Part], utc_day: date, kernels: LoadedKernels, conf_dir: Path
) -> L1Product | None:
    merged = concat_products([p.prod for p in parts])
    utc, late = _utc(merged.data["time"], kernels)
    keep = np.flatnonzero(utc_day_index(utc) == day_index(utc_day))
    if len(keep) == 0:
        return None
    data = {k: np.asarray(v)[keep] for k, v in merged.data.items()}
    day_prod = concat_products([dataclasses.replace(merged, data=data)])
    raw_by_parent = {complete_name(p.name): p.prod.raw_files for p in parts}
    day_prod = _with_parents(day_prod, raw_by_parent)
    notes = [n for p in parts for n in p.notes]
    return _finish(
        day_prod, parts[-1].primary, utc_day, kernels, conf_dir,
        bsd_suffix=None, notes=notes, late=late,
    )  # fmt: skip


def build_l1_day(
    l0_files: Iterable[Path | str],
    utc_day: date,
    store: IdbStore,
    kernels: LoadedKernels,
    conf_dir: Path | str,
    *,
    products: Collection[str] | None = None,
) -> L1Build:
    """Build the L1 products of one UTC day from L0 files.

    Parameters
    ----------
    l0_files : daily L0 files of the SCET days ``utc_day - 1 .. utc_day + 1`` and the BSD L0 files
        that may start on ``utc_day`` (others are read and left out)
    utc_day : the UTC day; daily products keep the bins whose centre lies on it, BSD products
        are kept when they start on it
    store : installed IDBs (engineering conversion)
    kernels : the loaded kernel set (`stix_assets.core.spice.loaded_kernels`)
    conf_dir : STIX-CONF root (energy channel tables)
    products : only these registry keys

    Returns
    -------
    L1Build

    Raises
    ------
    SpiceKernelError
        If ``kernels`` is not the loaded kernel set or SPICE fails at a covered time.
    ProductBuildError
        If STIX-CONF lacks the energy tables a product needs (message names the file).
    """
    conf_dir = Path(conf_dir)
    issues: list[L1Issue] = []
    daily: dict[tuple[str, str], list[_Part]] = {}
    out: list[L1Product] = []
    for path in sorted({Path(p) for p in l0_files}, key=lambda p: p.name):
        if not _may_hold(path.name, utc_day):
            continue
        key, per_request = _key_of(path)
        if products is not None and key not in products:
            continue
        try:
            part = _convert(path, store, kernels)
        except (ProductBuildError, IDBVersionError, ValueError, KeyError) as err:
            issues.append(L1Issue(path.name, f"{type(err).__name__}: {err}"))
            continue
        if part.prod.n_rows == 0:
            continue
        if per_request:
            out.extend(_bsd_on_day(part, utc_day, kernels, conf_dir))
            continue
        daily.setdefault((key, part.prod.spec.name), []).append(part)
    for (_key, _name), parts in sorted(daily.items()):
        try:
            prod = _daily(parts, utc_day, kernels, conf_dir)
        except ProductBuildError as err:
            if "STIX-CONF" in str(err):
                raise
            issues.append(L1Issue(";".join(p.name for p in parts), str(err)))
            continue
        if prod is not None:
            out.append(prod)
    for issue in issues:
        logger.warning("l1 left out file=%s reason=%s", issue.file, issue.reason)
    return L1Build(sorted(out, key=lambda p: p.file_name), issues, coverage(kernels, utc_day))


def _bsd_on_day(
    part: _Part, utc_day: date, kernels: LoadedKernels, conf_dir: Path
) -> list[L1Product]:
    """The L1 product of a BSD L0 file if its UTC start lies on ``utc_day``."""
    start, _ = part.prod.time_range()
    utc, late = _utc(np.array([start]), kernels)
    if utc_day_index(utc)[0] != day_index(utc_day):
        return []
    prod = _with_parents(part.prod, {complete_name(part.name): part.prod.raw_files})
    prod = _finish(
        prod, part.primary, utc_day, kernels, conf_dir,
        bsd_suffix=_bsd_suffix(part.name), notes=part.notes, late=late,
    )  # fmt: skip
    return [prod]


# -- writing --------------------------------------------------------------------------------------
def _float_or_empty(value: float) -> float | str:
    return "" if value is None or np.isnan(value) else value


def _primary_cards(
    prod: L1Product, created: datetime, software_version: str, config_version: str
) -> list[Card]:
    t = prod.tables
    spec = t.spec
    beg, end = t.time_range()
    timedel = np.asarray(t.data["timedel"], dtype=np.float64)
    dmin, dmax = t.data_range
    cards: list[Card] = [
        *common_cards(
            file_name=prod.file_name,
            raw_files=t.raw_files,
            parents=t.parents,
            created=created,
            level="L1",
            software_version=software_version,
            config_version=config_version,
            version=spec.processing_version,
            ids=prod.ids,
        ),
        ("DATAMIN", _float_or_empty(dmin), "Minimum valid physical value"),
        ("DATAMAX", _float_or_empty(dmax), "Maximum valid physical value"),
        ("BUNIT", t.bunit, "Units of physical value, after application of BSCALE, BZERO"),
        ("XPOSURE", float(timedel.min()) if len(timedel) else 0.0, "[s] shortest exposure time"),
        ("XPOMAX", float(timedel.max()) if len(timedel) else 0.0, "[s] maximum exposure time"),
        *((key, "none", comment) for key, comment in SOOP_KEYWORDS),
        *obt_utc_cards(beg, end, prod.utc),
    ]
    cards.extend((k, v, EPHEMERIS_COMMENTS.get(k, "")) for k, v in prod.ephemeris.items())
    cards.extend(c for c in t.header if c[0] not in ("COMMENT", "HISTORY"))
    cards.extend(c for c in t.header if c[0] == "COMMENT")
    cards.extend(c for c in t.header if c[0] == "HISTORY")
    cards.append(("HISTORY", "Processed by stix-assets L1", ""))
    return cards


def write_l1(
    products: Iterable[L1Product],
    archive_root: Path | str,
    *,
    created: datetime,
    software_version: str,
    config_version: str = "",
    needs_reprocessing: bool = False,
) -> list[L1FileResult]:
    """Write L1 products under ``<archive_root>/L1/<YYYY>/<MM>/<DD>/<TYPE>/`` (whole rewrite).

    Parameters
    ----------
    products : from `build_l1_day`
    archive_root : archive root
    created : timezone-aware creation time (``DATE``, checksum comments)
    software_version, config_version : ``VERS_SW``, ``VERS_CFG``
    needs_reprocessing : the day's flag (`L1Build.needs_reprocessing`), copied into every result

    Returns
    -------
    list of L1FileResult in file-name order
    """
    created, stamp = creation_time(created)
    root = Path(archive_root)
    results = []
    for prod in products:
        if prod.n_rows == 0:
            continue
        path = root / prod.directory / prod.file_name
        cards = _primary_cards(prod, created, software_version, config_version)
        sha = write_fits(
            path,
            cards,
            l0_tables(prod.tables),
            checksum_comment=stamp,
        )
        logger.info("l1 written file=%s rows=%d", prod.file_name, prod.n_rows)
        suffix = _request_suffix(prod)
        results.append(
            L1FileResult(
                path=path,
                product_key=prod.tables.spec.key,
                utc_day=prod.utc_day,
                request_id=suffix,
                sha256=sha,
                n_rows=prod.n_rows,
                inputs=prod.tables.parents,
                spice_error=prod.spice_error,
                needs_reprocessing=needs_reprocessing or prod.spice_error or prod.extrapolated,
                notes=prod.notes,
            )
        )
    return sorted(results, key=lambda r: r.path.name)


def _request_suffix(prod: L1Product) -> str | None:
    if not prod.tables.spec.per_request:
        return None
    return prod.file_name.removesuffix(".fits").split("_", 5)[-1]


# -- catalog glue --------------------------------------------------------------------------------
def l0_files_for_day(
    catalog: Catalog, utc_day: date, products: Collection[str] | None = None
) -> list[Path]:
    """L0 files an L1 UTC day may need: the SCET days around it (`build_l1_day` keeps its bins)."""
    found: set[Path] = set()
    for offset in (-1, 0, 1):
        day = utc_day + timedelta(days=offset)
        for paths in catalog.partition_files("L0", day, products).values():
            found.update(p for p in paths if p.is_file())
    return sorted(found)
