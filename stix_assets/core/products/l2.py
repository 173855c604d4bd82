"""Level 2 (L2) and CAL: what is built from L1 files, per UTC day.

Domain doc 3.2, 3.3, 3.5, 3.9, 4.6, 7.2. STIXCore creates L2 objects for the QL families, HK mini/
maxi and the spectrogram, but writes only CAL (and ANC) files (quirk 13): its QL/HK L2 classes
are the L1 tables with ``LEVEL = L2``, and the L2 spectrogram adds ``DATA_CORRECTED``, a copy of
DATA (a placeholder for an attenuator correction that does not exist). Those files would repeat
the L1 content under a second name, so we do not build them either (docs/decisions.md); the one
L2-stage product is CAL (`L2_PRODUCTS`).

CAL energy calibration (STIXCore ``products/CAL/energy.py``, processing version 2): for each L1
``cal-energy`` file of the day and each spectrum (DATA row) in it:

1. a spectrum without counts is left out with an `L2Issue` (nothing to fit; e.g. the 2019
   ground-test spectra of the kit); one whose counts are not ``(32, 12, 1024)`` likewise;
2. the onboard ELUT valid at the spectrum's UTC start must be the one valid at its end
   (`stix_assets.core.energies.elut_file`), the ECC configuration comes from
   ``ecc/ecc_conf_index.json`` (`stix_assets.core.products.cal`);
3. `calibrate_spectrum` fits gain and offset per pixel;
4. one CAL product per spectrum: CONTROL = the spectrum's L1 CONTROL row plus ``ob_elut_name``
   (ELUT file name without ``.csv``) and ``ecc_config_name``; DATA = ``time``, ``timedel``,
   ``control_index`` (0), ``live_time`` (s), ``offset`` (4096-channel ADC), ``gain`` (keV per
   4096-channel ADC), ``goc``, ``ecc_error`` (4, 32, 12: err_P31, err_dE31, err_P81, err_dE81,
   keV), ``gain_range_ok``, ``e_edges_actual`` (32, 12, 33 keV) and our ``fit_ok`` (32, 12);
   HDUs PRIMARY, CONTROL, DATA, IDB_VERSIONS;
5. header: the L1 header rules for the spectrum's own time range (``OBT_*``, ``DATE-*``,
   ephemeris at its UTC centre) with ``LEVEL = CAL``, ``VERSION = '02'``, ``DATAMIN = 4``,
   ``DATAMAX = 150``, ``BUNIT = keV``, ``XPOSURE``/``XPOMAX`` = integration time (s),
   ``LIVETIME`` (s), ``PARENT`` = the complete L1 name.

Name ``solo_CAL_stix-cal-energy_<UTC start>-<UTC end>_V02.fits`` (``YYYYMMDDTHHMMSS``, no ``U``),
directory ``CAL/<YYYY>/<MM>/<DD>/CAL/`` by the UTC centre. A CAL file is rewritten whole (STIXCore
kept the first one, quirk 17). Differences from STIXCore: ``gain`` has the unit ``keV / adu``
(its values; STIXCore labels them ``adu / keV``), ``fit_ok`` added, software keywords.
"""

import dataclasses
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.time import Time

from stix_assets.core.energies import elut_file, read_elut
from stix_assets.core.ephemeris import EPHEMERIS_COMMENTS, ephemeris_header
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.fits import Card, write_fits
from stix_assets.core.products.cal import calibrate_spectrum, ecc_config_dir, read_ecc_config
from stix_assets.core.products.header import common_cards, creation_time, obt_utc_cards
from stix_assets.core.products.l0_reader import complete_name, read_l0_product
from stix_assets.core.products.l0_writer import l0_tables
from stix_assets.core.products.l1_model import L1FileResult, L1Issue
from stix_assets.core.products.model import L0Product
from stix_assets.core.spice import LoadedKernels
from stix_assets.core.time import scet_split, scet_to_utc

__all__ = [
    "CAL_PROCESSING_VERSION",
    "L2_PRODUCTS",
    "L2Build",
    "L2FileResult",
    "L2Issue",
    "L2Product",
    "build_l2_day",
    "cal_file_name",
    "write_l2",
]

logger = logging.getLogger(__name__)

L2_PRODUCTS = ("cal_energy",)
"""Registry keys of the L1 families that have an L2-stage product (CAL for ``cal_energy``)."""
CAL_PROCESSING_VERSION = 2
_CONTROL_EXTRA = ("ob_elut_name", "ecc_config_name")
_SOOP = ("OBS_MODE", "OBS_TYPE", "OBS_ID", "SOOPNAME", "SOOPTYPE", "TARGET")


L2Issue = L1Issue
"""An L1 file or spectrum that gave no L2/CAL product, and why (the L1 issue type)."""


@dataclass(frozen=True, slots=True)
class L2Product:
    """One CAL product (one calibration spectrum) ready to write.

    Attributes
    ----------
    tables : CONTROL/DATA/IDB_VERSIONS content (``level = "CAL"``)
    product_key : registry key of the L1 family (``cal_energy``)
    utc_day : UTC day of the spectrum centre
    file_name, directory : name and ``CAL/<YYYY>/<MM>/<DD>/CAL`` (relative to the archive root)
    utc : UTC start, centre, end (FITS strings, ms)
    ephemeris : ``SPICE_MK`` [, ``SPICE_ER``] and the ephemeris keywords
    live_time_s : ``LIVETIME``
    n_fitted : pixels whose two lines were fitted
    """

    tables: L0Product
    product_key: str
    utc_day: date
    file_name: str
    directory: Path
    utc: tuple[str, str, str]
    ephemeris: dict[str, float | str]
    live_time_s: float
    n_fitted: int

    @property
    def n_rows(self) -> int:
        """Number of DATA rows (1)."""
        return self.tables.n_rows


@dataclass(frozen=True, slots=True)
class L2Build:
    """Result of `build_l2_day`: the products and what was left out."""

    products: list[L2Product]
    issues: list[L2Issue]


L2FileResult = L1FileResult
"""One L2/CAL file written (the L1 result type; ``request_id`` is always ``None``)."""


def cal_file_name(utc_start: Time, utc_end: Time) -> str:
    """``solo_CAL_stix-cal-energy_<start>-<end>_V02.fits`` with UTC ``YYYYMMDDTHHMMSS``."""
    fmt = "%Y%m%dT%H%M%S"
    span = f"{utc_start.utc.to_datetime().strftime(fmt)}-{utc_end.utc.to_datetime().strftime(fmt)}"
    return f"solo_CAL_stix-cal-energy_{span}_V{CAL_PROCESSING_VERSION:02d}.fits"


def _fits_ms(t: Time) -> str:
    t = t.utc.copy()
    t.precision = 3
    return str(t.isot)


def _utc(seconds: Iterable[float], kernels: LoadedKernels) -> Time:
    parts = [scet_split(s) for s in seconds]
    return scet_to_utc([c for c, _ in parts], [f for _, f in parts], kernels, warn=False)


def _l1_day(name: str) -> date | None:
    try:
        text = name.split("_")[3][:8]
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except (IndexError, ValueError):
        return None


def _cal_tables(prod: L0Product, row: int, extra: dict[str, np.ndarray]) -> L0Product:
    """One spectrum's CONTROL/DATA (control index 0) with the calibration columns."""
    c_idx = int(np.asarray(prod.data["control_index"])[row])
    pos = int(np.flatnonzero(np.asarray(prod.control["index"]) == c_idx)[0])
    control = {k: np.asarray(v)[pos : pos + 1] for k, v in prod.control.items()}
    control["index"] = np.zeros(1, dtype=np.asarray(prod.control["index"]).dtype)
    control.update({k: v for k, v in extra.items() if k in _CONTROL_EXTRA})
    data = {
        k: np.asarray(v)[row : row + 1]
        for k, v in prod.data.items()
        if k not in ("counts", "counts_comp_err")
    }
    data["control_index"] = np.zeros(1, dtype=np.asarray(prod.data["control_index"]).dtype)
    data.update({k: v for k, v in extra.items() if k not in _CONTROL_EXTRA})
    units = {
        "live_time": "s", "offset": "adu", "gain": "keV / adu",
        "ecc_error": "keV", "e_edges_actual": "keV",
    }  # fmt: skip
    return dataclasses.replace(
        prod,
        control=control,
        data=data,
        data_units=units,
        energies=None,
        data_range=(4.0, 150.0),
        bunit="keV",
        level="CAL",
    )


def _spectrum(
    prod: L0Product, row: int, name: str, conf_dir: Path, kernels: LoadedKernels | None
) -> L2Product | L2Issue:
    counts = np.asarray(prod.data["counts"])[row]
    if counts.shape != (32, 12, 1024):
        return L2Issue(name, f"spectrum {row}: counts of shape {counts.shape}")
    if not counts.any():
        return L2Issue(name, f"spectrum {row}: no counts, nothing to calibrate")
    if kernels is None:
        raise ProductBuildError("CAL needs the SPICE kernels (SCET -> UTC, ephemeris); none given")
    t, dt = float(prod.data["time"][row]), float(prod.data["timedel"][row])
    utc = _utc([t - dt / 2, t, t + dt / 2], kernels)
    start, end = (utc[i].to_datetime(timezone=UTC) for i in (0, 2))
    elut_path = elut_file(conf_dir, start)
    if elut_file(conf_dir, end) != elut_path:
        raise ProductBuildError(f"{name}: ELUT changes within spectrum {row} ({start} - {end})")
    elut = read_elut(elut_path)
    ecc = read_ecc_config(ecc_config_dir(conf_dir, start))
    cal = calibrate_spectrum(counts, ecc)
    c_idx = int(np.asarray(prod.data["control_index"])[row])
    pos = int(np.flatnonzero(np.asarray(prod.control["index"]) == c_idx)[0])
    live = np.asarray(prod.control["live_time"], np.float64)[pos]
    live_s = float((live * u.Unit(prod.control_units.get("live_time", "ms"))).to_value(u.s))
    extra = {
        "ob_elut_name": np.array([elut.name.removesuffix(".csv").encode("ascii")]),
        "ecc_config_name": np.array([ecc.name.encode("ascii")]),
        "live_time": np.array([live_s]),
        "offset": (4.0 * cal.offset)[None],
        "gain": (1.0 / (4.0 * cal.gain))[None],
        "goc": cal.goc.astype(np.float32)[None],
        "ecc_error": cal.errors[None],
        "gain_range_ok": np.array([cal.gain_range_ok]),
        "e_edges_actual": cal.energy_edges(elut.adc_edges)[None],
        "fit_ok": cal.fit_ok[None],
    }
    tables = _cal_tables(prod, row, extra)
    day = utc[1].to_datetime(timezone=UTC).date()
    logger.info(
        "cal spectrum file=%s row=%d fitted=%d gain_range_ok=%s",
        name, row, int(cal.fit_ok.sum()), cal.gain_range_ok,
    )  # fmt: skip
    return L2Product(
        tables=tables,
        product_key="cal_energy",
        utc_day=day,
        file_name=cal_file_name(utc[0], utc[2]),
        directory=Path("CAL", f"{day:%Y}", f"{day:%m}", f"{day:%d}", "CAL"),
        utc=(_fits_ms(utc[0]), _fits_ms(utc[1]), _fits_ms(utc[2])),
        ephemeris=ephemeris_header(utc[1], kernels, utc_start=utc[0]),
        live_time_s=live_s,
        n_fitted=int(cal.fit_ok.sum()),
    )


def build_l2_day(
    l1_files: Iterable[Path | str],
    utc_day: date,
    *,
    conf_dir: Path | str,
    kernels: LoadedKernels | None = None,
    products: Collection[str] | None = None,
) -> L2Build:
    """Build the L2-stage products (CAL) of one UTC day from that day's L1 files.

    Parameters
    ----------
    l1_files : L1 files; those of other days and other families are skipped
    utc_day : the UTC day (the date in the L1 daily file name)
    conf_dir : STIX-CONF root (``elut/``, ``ecc/``)
    kernels : the loaded kernel set; needed as soon as one spectrum has counts
    products : registry keys to build (default `L2_PRODUCTS`)

    Returns
    -------
    L2Build

    Raises
    ------
    ProductBuildError
        If a key in ``products`` has no L2 product, STIX-CONF lacks the ELUT or ECC
        configuration of a spectrum (message names the file), or kernels are missing.
    """
    wanted = set(L2_PRODUCTS if products is None else products)
    unknown = wanted - set(L2_PRODUCTS)
    if unknown:
        raise ProductBuildError(f"no L2 product for {sorted(unknown)}; L2 products: {L2_PRODUCTS}")
    out: list[L2Product] = []
    issues: list[L2Issue] = []
    for path in sorted({Path(p) for p in l1_files}, key=lambda p: p.name):
        if "cal_energy" not in wanted or not path.name.startswith("solo_L1_stix-cal-energy_"):
            continue
        if _l1_day(path.name) != utc_day:
            continue
        prod, _primary = read_l0_product(path)
        prod = dataclasses.replace(prod, parents=(complete_name(path.name),))
        for row in range(prod.n_rows):
            built = _spectrum(prod, row, path.name, Path(conf_dir), kernels)
            (issues if isinstance(built, L2Issue) else out).append(built)
    for issue in issues:
        logger.warning("l2 left out file=%s reason=%s", issue.file, issue.reason)
    return L2Build(sorted(out, key=lambda p: p.file_name), issues)


def _cards(prod: L2Product, created: datetime, software: str, config: str) -> list[Card]:
    t = prod.tables
    beg, end = t.time_range()
    it = np.asarray(t.control["integration_time"], np.float64)
    raws = sorted({r.decode("ascii").strip() for r in np.asarray(t.control["raw_file"]).tolist()})
    cards: list[Card] = [
        *common_cards(
            file_name=prod.file_name,
            raw_files=raws,
            parents=t.parents,
            created=created,
            level="CAL",
            software_version=software,
            config_version=config,
            version=CAL_PROCESSING_VERSION,
            ids=(t.spec.service, t.spec.subtypes[0], t.spec.ssids[0], "", ""),
        ),
        ("DATAMIN", 4.0, "Minimum valid physical value"),
        ("DATAMAX", 150.0, "Maximum valid physical value"),
        ("BUNIT", "keV", "Units of physical value, after application of BSCALE, BZERO"),
        ("XPOSURE", float(it.min()), "[s] shortest exposure time"),
        ("XPOMAX", float(it.max()), "[s] maximum exposure time"),
        *((key, "none", "") for key in _SOOP),
        *obt_utc_cards(beg, end, prod.utc),
    ]
    cards.extend((k, v, EPHEMERIS_COMMENTS.get(k, "")) for k, v in prod.ephemeris.items())
    cards.append(("LIVETIME", prod.live_time_s, "calibration spectra live time in seconds"))
    cards.extend(c for c in t.header if c[0] in ("COMMENT", "HISTORY"))
    cards.append(("HISTORY", "Processed by stix-assets CAL", ""))
    return cards


def write_l2(
    products: Iterable[L2Product],
    archive_root: Path | str,
    *,
    created: datetime,
    software_version: str,
    config_version: str,
) -> list[L2FileResult]:
    """Write CAL products under ``<archive_root>/CAL/<YYYY>/<MM>/<DD>/CAL/`` (whole rewrite).

    Parameters
    ----------
    products : from `build_l2_day`
    archive_root : archive root
    created : timezone-aware creation time (``DATE``, checksum comments)
    software_version, config_version : ``VERS_SW``, ``VERS_CFG``

    Returns
    -------
    list of L2FileResult in file-name order
    """
    created, stamp = creation_time(created)
    results = []
    for prod in products:
        path = Path(archive_root) / prod.directory / prod.file_name
        sha = write_fits(
            path,
            _cards(prod, created, software_version, config_version),
            l0_tables(prod.tables),
            checksum_comment=stamp,
        )
        logger.info("cal written file=%s fitted=%d", prod.file_name, prod.n_fitted)
        results.append(
            L2FileResult(
                path, prod.product_key, prod.utc_day, None, sha, prod.n_rows, prod.tables.parents
            )
        )
    return sorted(results, key=lambda r: r.path.name)
