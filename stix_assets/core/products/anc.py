"""ANC aspect ephemeris: the STIX aspect (SAS) solution and SOLO position/attitude per HK report.

Domain doc 3.5, 4.8. Input: one daily L1 ``hk-maxi`` file (64 s reports). STIXCore sends the four
SAS photodiode voltages to IDL (STX-GSW); here `stix_assets.core.aspect` computes the solution in
Python. It needs STX-GSW's SAS parameter files (aperture plate, diode calibration;
`stix_assets.core.aspect.params`), which the operator points to (setting ``sas_param_dir``). Without
them no pointing is invented: every report the Sun is near enough for gets ``NO_SAS_PARAMS``,
``y_srf``/``z_srf`` stay NaN and the header HISTORY says so. With them, HISTORY names the files.

SPICE columns (when the kernels cover the time; NaN otherwise): ``solo_loc_carrington_lonlat``
(deg; as STIXCore, the Stonyhurst lon/lat of frame ``SUN_EARTH_CEQU`` despite the name),
``solo_loc_carrington_dist`` (km), ``solo_loc_heeq_zxy`` (km, ``SOLO_HEEQ`` x, y, z),
``roll_angle_rpy`` (deg, frame ``SOLO_STIX_ILS`` (-144851) relative to ``SOLO_SUN_RTN``, Euler
1-2-3; NaN without attitude). Missing frame kernels give NaN, never an error.

Output file: ``ANC/<YYYY>/<MM>/<DD>/ASP/solo_ANC_stix-asp-ephemeris_<YYYYMMDD>_V02U.fits`` with
PRIMARY (the L1 header, overridden per domain doc 3.5), CONTROL (the HK control), DATA and
IDB_VERSIONS (copied).
"""

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import spiceypy
from astropy.io import fits
from numpy.typing import NDArray

from stix_assets.core.aspect import SAS_OPTICS, SasParams, calibrate_diodes, solve_aspect
from stix_assets.core.aspect.optics import ARCSEC_PER_RAD
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.fits import Card, TableHdu, read_fits, write_fits
from stix_assets.core.spice import LoadedKernels, active_kernels

__all__ = [
    "ANC_VERSION",
    "AncResult",
    "anc_file_name",
    "spice_columns",
    "write_anc_ephemeris",
]

logger = logging.getLogger(__name__)

ANC_VERSION = 2
_DIODES = ("hk_asp_photoa0_v", "hk_asp_photoa1_v", "hk_asp_photob0_v", "hk_asp_photob1_v")
_R_SUN_KM = 695700.0  # IAU 2015 nominal, as the ephemeris header
_STIX_ILS = -144851
_L1_DAY = re.compile(r"_(\d{8})_V\d+U?\.fits$")


# -- SPICE columns ----------------------------------------------------------------------------------
def _spice(fn: Callable[..., Any], *args: object) -> Any:
    try:
        return fn(*args)
    except spiceypy.utils.exceptions.SpiceyError:
        return None


def spice_columns(utc: NDArray[np.str_], kernels: LoadedKernels) -> dict[str, NDArray]:
    """Apparent solar radius, SOLO position and roll per UTC time; NaN where SPICE cannot tell."""
    active_kernels(kernels)
    n = len(utc)
    out = {
        "spice_disc_size": np.full(n, np.nan),
        "solo_loc_carrington_lonlat": np.full((n, 2), np.nan),
        "solo_loc_carrington_dist": np.full(n, np.nan),
        "solo_loc_heeq_zxy": np.full((n, 3), np.nan),
        "roll_angle_rpy": np.full((n, 3), np.nan),
    }
    for i, text in enumerate(utc):
        et = spiceypy.str2et(str(text))
        j2000 = _spice(spiceypy.spkpos, "SOLO", et, "J2000", "NONE", "SUN")
        if j2000 is None:
            continue
        dist = float(np.linalg.norm(j2000[0]))
        out["spice_disc_size"][i] = np.arcsin(_R_SUN_KM / dist) * ARCSEC_PER_RAD
        hgs = _spice(spiceypy.spkpos, "SOLO", et, "SUN_EARTH_CEQU", "NONE", "SUN")
        if hgs is not None:
            r, lon, lat = spiceypy.reclat(hgs[0])
            out["solo_loc_carrington_lonlat"][i] = np.rad2deg([lon, lat])
            out["solo_loc_carrington_dist"][i] = r
        heeq = _spice(spiceypy.spkpos, "SOLO", et, "SOLO_HEEQ", "NONE", "SUN")
        if heeq is not None:
            out["solo_loc_heeq_zxy"][i] = heeq[0]
        rot = _spice(spiceypy.pxform, "SOLO_SUN_RTN", spiceypy.frmnam(_STIX_ILS) or "?", et)
        if rot is not None:
            out["roll_angle_rpy"][i] = np.rad2deg(spiceypy.m2eul(rot, 1, 2, 3))
    return out


# -- the product ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AncResult:
    """One ANC aspect-ephemeris file written."""

    path: Path
    utc_day: date
    sha256: str
    n_rows: int
    n_ok: int
    errors: Mapping[str, int]
    parent: str

    def as_metadata(self) -> dict[str, object]:
        """Plain values for metadata."""
        return {
            "path": str(self.path),
            "utc_day": self.utc_day.isoformat(),
            "sha256": self.sha256,
            "rows": self.n_rows,
            "sas_ok": self.n_ok,
            "sas_errors": dict(self.errors),
            "parent": self.parent,
        }


def anc_file_name(utc_day: date) -> str:
    """``solo_ANC_stix-asp-ephemeris_<YYYYMMDD>_V02U.fits`` (daily product, ``U`` status)."""
    return f"solo_ANC_stix-asp-ephemeris_{utc_day:%Y%m%d}_V{ANC_VERSION:02d}U.fits"


def _structured(columns: Mapping[str, NDArray]) -> NDArray[np.void]:
    first = next(iter(columns.values()))
    dtype = [(k, v.dtype, v.shape[1:]) for k, v in columns.items()]
    table = np.zeros(len(first), dtype=dtype)
    for k, v in columns.items():
        table[k] = v
    return table


def _copy(table: NDArray) -> NDArray[np.void]:
    return _structured({n: np.asarray(table[n]) for n in table.dtype.names or ()})


def _units(header: fits.Header) -> dict[str, str]:
    n = int(header.get("TFIELDS", 0))
    return {
        str(header[f"TTYPE{i}"]): str(header[f"TUNIT{i}"])
        for i in range(1, n + 1)
        if str(header.get(f"TUNIT{i}", "")).strip()
    }


_SKIP = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "CHECKSUM", "DATASUM", "COMMENT", "HISTORY", ""}


def _sas_history(params: SasParams | None) -> list[Card]:
    """HISTORY lines saying how ``y_srf``/``z_srf`` were (or were not) derived."""
    if params is None:
        return [("HISTORY", "aspect solution: no SAS parameter files configured,", ""),
                ("HISTORY", "y_srf/z_srf not computed (sas_error NO_SAS_PARAMS)", "")]  # fmt: skip
    lines = [("HISTORY", "aspect solution: stix-assets, STX-GSW method in Python,", ""),
             ("HISTORY", "normalised arm differences, no auto-scaling", "")]  # fmt: skip
    lines.extend(
        ("HISTORY", f"SAS params: {name} sha256 {sha[:16]}", "") for name, sha in params.sources
    )
    return lines


def _primary(
    l1: fits.Header,
    name: str,
    parent: str,
    created: datetime,
    versions: tuple[str, str],
    params: SasParams | None,
) -> list[Card]:
    software, conf = versions
    override: dict[str, object] = {
        "FILENAME": name, "PARENT": parent, "DATE": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
        "LEVEL": "ANC", "VERS_SW": software, "VERS_CFG": conf, "VERSION": f"{ANC_VERSION:02d}",
        "STYPE": 0, "SSTYPE": 0, "SSID": 1, "DATAMIN": "", "DATAMAX": "", "BUNIT": "arcsec",
        "XPOSURE": 0.0, "XPOMAX": 0.0, "CREATOR": "stix-assets",
    }  # fmt: skip
    cards: list[Card] = [(k, override.pop(k, l1[k]), l1.comments[k]) for k in l1 if k not in _SKIP]
    cards.extend((k, v, "") for k, v in override.items())
    cards.append(("STX_GSW", "none", "aspect solution by stix-assets, not STX-GSW"))
    cards.extend(("HISTORY", str(h), "") for h in l1.get("HISTORY", []))
    cards.append(("HISTORY", "Processed by stix-assets ANC", ""))
    cards.extend(_sas_history(params))
    return cards


def _utc_strings(primary: fits.Header, time_cs: NDArray) -> NDArray[np.str_]:
    start = np.datetime64(str(primary["DATE-BEG"]).rstrip("Z"), "ms")
    times = start + (np.asarray(time_cs, np.int64) * 10).astype("timedelta64[ms]")
    return np.datetime_as_string(times, unit="ms")


def write_anc_ephemeris(
    hk_maxi_l1: Path | str,
    archive_root: Path | str,
    kernels: LoadedKernels,
    *,
    created: datetime,
    software_version: str,
    config_version: str = "",
    sas_params: SasParams | None = None,
) -> AncResult:
    """Build and write the ANC aspect ephemeris of one daily L1 ``hk-maxi`` file.

    ``sas_params`` are the aperture plate and diode calibration (`load_sas_params`); without them
    the pointing columns are NaN with ``NO_SAS_PARAMS`` (module docstring).

    Raises
    ------
    ProductBuildError
        If the file is not a daily L1 file or lacks the photodiode columns.
    SpiceKernelError
        If ``kernels`` is not the loaded kernel set.
    """
    path = Path(hk_maxi_l1)
    found = _L1_DAY.search(path.name)
    if not found:
        raise ProductBuildError(f"not a daily L1 file name: {path.name}")
    utc_day = datetime.strptime(found[1], "%Y%m%d").replace(tzinfo=UTC).date()
    content = read_fits(path)
    data = content.tables["DATA"]
    missing = [c for c in _DIODES if c not in (data.dtype.names or ())]
    if missing:
        raise ProductBuildError(f"{path.name}: no photodiode columns {missing}")
    time_cs = np.asarray(data["time"], np.int64)
    utc = _utc_strings(content.primary, time_cs)
    duration = np.diff(time_cs) / 100.0
    duration = np.append(duration, duration[-1] if len(duration) else SAS_OPTICS.cadence_s)
    geo = spice_columns(utc, kernels)
    currents = calibrate_diodes(
        np.stack([np.asarray(data[c]) for c in _DIODES], axis=1), sas_params
    )
    sol = solve_aspect(currents, geo["spice_disc_size"], duration, sas_params)
    n = len(data)
    columns = {
        "time": time_cs.astype(np.uint32),
        "timedel": np.zeros(n, np.uint32),
        "time_utc": utc.astype("S23"),
        "control_index": np.asarray(data["control_index"], np.int64),
        "spice_disc_size": geo["spice_disc_size"],
        "y_srf": sol.y_srf.astype(np.float32),
        "z_srf": sol.z_srf.astype(np.float32),
        "sas_ok": sol.sas_ok,
        "sas_error": sol.error.astype("S24"),
        **{k: geo[k] for k in ("solo_loc_carrington_lonlat", "solo_loc_carrington_dist")},
        **{k: geo[k] for k in ("solo_loc_heeq_zxy", "roll_angle_rpy")},
    }
    units = {
        "time": "cs", "timedel": "cs", "spice_disc_size": "arcsec", "y_srf": "arcsec",
        "z_srf": "arcsec", "solo_loc_carrington_lonlat": "deg", "solo_loc_carrington_dist": "km",
        "solo_loc_heeq_zxy": "km", "roll_angle_rpy": "deg",
    }  # fmt: skip
    name = anc_file_name(utc_day)
    parent = re.sub(r"_V(\d+)U([._])", r"_V\1\2", path.name)
    created = created.astimezone(UTC)
    tables = [
        TableHdu(
            "CONTROL",
            _copy(content.tables["CONTROL"]),
            _units(content.headers["CONTROL"]),
            tscal=True,
        ),
        TableHdu("DATA", _structured(columns), units, tscal=True),
    ]
    if "IDB_VERSIONS" in content.tables:
        tables.append(TableHdu("IDB_VERSIONS", _copy(content.tables["IDB_VERSIONS"]), tscal=True))
    out = Path(archive_root, "ANC", f"{utc_day:%Y}", f"{utc_day:%m}", f"{utc_day:%d}", "ASP", name)
    versions = (software_version, config_version)
    cards = _primary(content.primary, name, parent, created, versions, sas_params)
    sha = write_fits(out, cards, tables, checksum_comment=created.strftime("%Y-%m-%dT%H:%M:%S"))
    kinds, counts = np.unique(sol.error[sol.error != ""], return_counts=True)
    errors = {str(k): int(c) for k, c in zip(kinds, counts, strict=True)}
    logger.info("anc written file=%s rows=%d ok=%d", name, n, int(sol.sas_ok.sum()))
    return AncResult(out, utc_day, sha, n, int(sol.sas_ok.sum()), errors, parent)
