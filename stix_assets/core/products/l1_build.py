"""Building L1: L0 products with engineering values, UTC header times and ephemeris, per UTC day.

Domain doc 3.3-3.5, 3.8, 4.4, 4.6, 6. `build_l1_day` reads L0 files (the caller passes the daily
L0 files of SCET days D-1..D+1, since a SCET day overlaps two UTC days, and the BSD L0 files that
may start on D) and, for every product:

1. reads the file back into an `L0Product` (``level = "L1"``,
   `stix_assets.core.products.l0_reader.read_l0_product`): absolute bin-centre times from
   ``OBT_BEG`` plus the relative ``time`` column, ``timedel`` signed (a negative duration written
   as uint32 at L0 is read back negative, not as 42949032 s as STIXCore did);
2. BSD X-ray families: the off-by-one fix for IDB < 2.26.36
   (`stix_assets.core.products.l1_families.bsd_time_shift`);
3. engineering conversion of the raw columns
   (`stix_assets.core.products.l1_calibrate.calibrate_product`), row by row with the IDB owning
   the row's time (periods of ``IDB_VERSIONS`` sorted by start, the first open to the past, each ending at the
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
Nothing is written by `build_l1_day`; `stix_assets.core.products.l1_writer.write_l1` writes
whole files atomically
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
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time
from numpy.typing import NDArray

from stix_assets.core.energies import energies_for_mask
from stix_assets.core.ephemeris import coverage, ephemeris_header
from stix_assets.core.errors import IDBVersionError, ProductBuildError
from stix_assets.core.idb import IdbStore
from stix_assets.core.products import l1_families
from stix_assets.core.products.file_cache import FileCache
from stix_assets.core.products.l0_reader import complete_name, read_l0_product
from stix_assets.core.products.l0_stack import concat_products, shape_difference
from stix_assets.core.products.l0_writer import l0_start_day
from stix_assets.core.products.l1_calibrate import calibrate_product
from stix_assets.core.products.l1_model import L1Build, L1Issue, L1Product
from stix_assets.core.products.model import L0Product
from stix_assets.core.products.registry import ProductSpec
from stix_assets.core.spice import LoadedKernels
from stix_assets.core.time import (
    FINE_PER_SECOND,
    day_index,
    scet_split,
    scet_to_utc,
    sclk_extrapolated,
    split_scet_seconds,
    utc_day_index,
)

__all__ = ["build_l1_day", "l1_file_name"]

logger = logging.getLogger(__name__)


def _utc(seconds: NDArray, kernels: LoadedKernels) -> tuple[Time, bool]:
    coarse, fine = split_scet_seconds(seconds)
    late = bool(np.any(sclk_extrapolated(coarse, fine, kernels)))
    return scet_to_utc(coarse, fine, kernels, warn=False), late


def _fits_ms(time: Time) -> str:
    t = time.utc.copy()
    t.precision = 3
    return str(t.isot)


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


@dataclass(frozen=True, slots=True)
class _Part:
    prod: L0Product
    primary: fits.Header
    name: str
    notes: tuple[str, ...]
    start: tuple[int, bool] | None = None
    """A BSD file's UTC start: (day index, extrapolated), computed once for the three days."""


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


_CONVERTED: FileCache[_Part] = FileCache(maxsize=256)
"""L0 files in engineering values, reused by the (up to three) UTC days that read each."""


def _convert(path: Path, store: IdbStore, kernels: LoadedKernels) -> _Part:
    return _CONVERTED.get(path, (store, kernels), lambda: _convert_file(path, store, kernels))


def _convert_file(path: Path, store: IdbStore, kernels: LoadedKernels) -> _Part:
    prod, primary = read_l0_product(path)
    notes: list[str] = []
    if prod.spec.key in l1_families.BSD_SHIFT_KEYS:
        start, _ = prod.time_range()
        utc_start, _ = _utc(np.array([start]), kernels)
        prod, n = l1_families.bsd_time_shift(prod, utc_start[0].to_datetime(timezone=UTC))
        notes.extend(n)
    prod, n = calibrate_product(prod, _ssid(primary), store)
    notes.extend(n)
    prod = l1_families.apply_fixes(prod)
    start = None
    if prod.spec.per_request and prod.n_rows:
        utc, late = _utc(np.array([prod.time_range()[0]]), kernels)
        start = (int(utc_day_index(utc)[0]), late)
    return _Part(prod, primary, path.name, tuple(notes), start)


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


def _key_of(path: Path) -> tuple[str, bool]:
    spec = read_l0_product(path)[0].spec
    return spec.key, spec.per_request


def _may_hold(l0_name: str, utc_day: date) -> bool:
    """False when the SCET date in an L0 name is more than a day away from ``utc_day``.

    SCET and UTC differ by less than a minute, so an L0 daily file of SCET day ``d`` (or a BSD
    file starting at SCET ``s``) can only hold bins of UTC days ``d - 1 .. d + 1``.
    """
    start = l0_start_day(l0_name)
    return start is None or abs((start - utc_day).days) <= 1


def _on_day(
    parts: list[_Part], utc_day: date, kernels: LoadedKernels
) -> tuple[L0Product, bool] | None:
    """The stacked rows of ``parts`` whose bin centre lies on the UTC day (and extrapolation)."""
    merged = concat_products([p.prod for p in parts])
    utc, late = _utc(merged.data["time"], kernels)
    keep = np.flatnonzero(utc_day_index(utc) == day_index(utc_day))
    if len(keep) == 0:
        return None
    data = {k: np.asarray(v)[keep] for k, v in merged.data.items()}
    return concat_products([dataclasses.replace(merged, data=data)]), late


def _daily(
    parts: list[_Part], utc_day: date, kernels: LoadedKernels, conf_dir: Path
) -> tuple[L1Product | None, list[L1Issue]]:
    """The day's product of one family; L0 files of another column layout are left out.

    L0 files of neighbouring days may differ in layout (a configuration change between days);
    each layout is stacked apart and the one with the most rows on the UTC day is kept.
    """
    groups: dict[tuple, list[_Part]] = {}
    for part in parts:
        groups.setdefault(part.prod.signature(), []).append(part)
    candidates = []
    for group in groups.values():
        found = _on_day(group, utc_day, kernels)
        if found is not None:
            candidates.append((found, group))
    if not candidates:
        return None, []
    candidates.sort(key=lambda c: -c[0][0].n_rows)  # stable: the first of equals stays first
    (day_prod, late), used = candidates[0]
    issues = [
        L1Issue(
            p.name,
            f"layout differs from the day's {day_prod.spec.name}: "
            f"{shape_difference(day_prod, p.prod)}; {other.n_rows} rows on the day left out",
        )
        for (other, _), group in candidates[1:]
        for p in group
    ]
    raw_by_parent = {complete_name(p.name): p.prod.raw_files for p in used}
    day_prod = _with_parents(day_prod, raw_by_parent)
    notes = [n for p in used for n in p.notes]
    prod = _finish(
        day_prod, used[-1].primary, utc_day, kernels, conf_dir,
        bsd_suffix=None, notes=notes, late=late,
    )  # fmt: skip
    return prod, issues


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
            prod, left_out = _daily(parts, utc_day, kernels, conf_dir)
        except ProductBuildError as err:
            if "STIX-CONF" in str(err):
                raise
            issues.append(L1Issue(";".join(p.name for p in parts), str(err)))
            continue
        issues.extend(left_out)
        if prod is not None:
            out.append(prod)
    for issue in issues:
        logger.warning("l1 left out file=%s reason=%s", issue.file, issue.reason)
    return L1Build(sorted(out, key=lambda p: p.file_name), issues, coverage(kernels, utc_day))


def _bsd_on_day(
    part: _Part, utc_day: date, kernels: LoadedKernels, conf_dir: Path
) -> list[L1Product]:
    """The L1 product of a BSD L0 file if its UTC start lies on ``utc_day``."""
    assert part.start is not None  # set by _convert_file for every per-request product
    start_day, late = part.start
    if start_day != day_index(utc_day):
        return []
    prod = _with_parents(part.prod, {complete_name(part.name): part.prod.raw_files})
    prod = _finish(
        prod, part.primary, utc_day, kernels, conf_dir,
        bsd_suffix=_bsd_suffix(part.name), notes=part.notes, late=late,
    )  # fmt: skip
    return [prod]
