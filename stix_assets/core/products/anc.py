"""ANC aspect ephemeris: the STIX aspect (SAS) solution and SOLO position/attitude per HK report.

Domain doc 3.5, 4.8. Input: one daily L1 ``hk-maxi`` file (64 s reports). STIXCore sends the four
SAS photodiode voltages to IDL (STX-GSW ``stx_calib_sas_data``, ``stx_auto_scale_sas_data``,
``stx_derive_aspect_solution``); this module does the same job in Python. Method (facts read from
STX-GSW ``stix/idl/processing/aspect``, own code):

1. **Calibration.** Each diode voltage ``v`` (L1 ``hk_asp_photo{a,b}{0,1}_v``, V) becomes a
   current ``i = (v / 16 - V_base) / R_m`` (A), then ``(i - bias) / gain``. Reports whose spacing
   is not 64 s (+-0.5 s; the last report takes the previous spacing) get
   ``SAS_DATA_WRONG_DURATION``.
2. **Solar image.** The apparent solar radius from SPICE (``spice_disc_size``, arcsec) gives the
   image radius ``r = f * radius`` with the SAS lens-to-aperture distance ``f``. Below
   ``RSOL_MIN_M`` (Sun farther than ~0.75 AU) the signals are unusable: ``SUN_TOO_FAR``; above
   the model's largest radius ``SUN_TOO_BIG``. The radial intensity profile is a limb-darkened
   disc (quadratic law, 625 nm, 150 nm band), plus a 5 % Gaussian halo that falls to 5 % of its
   peak at 1.4 radii, blurred by a Gaussian (STX-GSW ``compute_solar_prof``).
3. **Signals.** Each of the four arms (A, B, C, D) is a row of small circular apertures in the
   image plane in front of one photodiode; the signal of an aperture is the profile integrated
   over its disc (1-D approximation: chord length times the profile along the line to the Sun
   centre, as STX-GSW's ``stx_sim_sas_signal_ap_circ_1d``). A and B lie on opposite sides along
   one diagonal axis, C and D along the other.
4. **Inversion.** The image offset ``(x_AB, x_CD)`` along the two axes solves
   ``(A-B)/(A+B) = model`` and ``(C-D)/(C+D) = model`` by Gauss-Newton, all reports at once.
   Normalised differences do not depend on a common scale of the four currents, which is what
   STX-GSW's auto-scaling step estimates; so that step is not needed here (a difference in
   method, stated in ``HISTORY``). No solution within `SAS_CONSTANTS.max_offset_m`:
   ``NO_ASPECT_SOL``.
5. **Frames.** As STX-GSW: ``x_sas = -(x_AB - x_CD)/sqrt(2)``, ``y_sas = -(x_AB + x_CD)/sqrt(2)``,
   ``y_srf = y_sas * 0.375e6``, ``z_srf = x_sas * 0.375e6`` (arcsec per metre of the nominal
   0.55 m focal length).

Constants: `SAS_CONSTANTS` holds every number of the method with where it comes from.
**Not verified:** the aperture geometry (STX-GSW keeps it in the binary ``apcoord_FM_circ.sav``),
the diode biases and relative gains (``SAS_calib_20211005.sav``) and the limb-darkening
coefficients (computed in STX-GSW from the Astrophysical Quantities polynomials, not in its
source); the values used for them are stand-ins that give a self-consistent model, so ``y_srf`` /
``z_srf`` of real data are not yet comparable with STIXCore's. Replace them in one place once the
calibration files are available.

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
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import spiceypy
from astropy.io import fits
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.fits import Card, TableHdu, read_fits, write_fits
from stix_assets.core.spice import LoadedKernels, active_kernels

__all__ = [
    "ANC_VERSION",
    "SAS_CONSTANTS",
    "AncResult",
    "AspectSolution",
    "SasConstants",
    "anc_file_name",
    "model_signals",
    "solve_aspect",
    "write_anc_ephemeris",
]

logger = logging.getLogger(__name__)

ANC_VERSION = 2
_DIODES = ("hk_asp_photoa0_v", "hk_asp_photoa1_v", "hk_asp_photob0_v", "hk_asp_photob1_v")
_ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0
_R_SUN_KM = 695700.0  # IAU 2015 nominal, as the ephemeris header
_STIX_ILS = -144851
_L1_DAY = re.compile(r"_(\d{8})_V\d+U?\.fits$")


@dataclass(frozen=True, slots=True)
class SasConstants:
    """Every number of the aspect method, with its source.

    Verified in STX-GSW source (``stix/idl/processing/aspect``): ``focal_length_m`` (548.16 mm,
    ``stx_derive_aspect_solution``, 2023-04-21), ``arcsec_per_m`` (0.375e6), ``v_base_v``,
    ``r_m_ohm``, ``adc_divisor`` (``stx_calib_sas_data``), ``cadence_s``/``cadence_tol_s``,
    ``rsol_min_m`` (3.28 mm), ``limb_wavelength_nm``/``limb_band_nm``, ``halo_fraction``,
    ``halo_radius``/``halo_level``, ``blur_sigma_m`` (``compute_solar_prof``: 50 samples of 1 um).

    NOT verified (stand-ins, see the module docstring): ``limb_u``/``limb_v`` (quadratic
    limb-darkening coefficients near 625 nm, textbook magnitude), the aperture geometry
    ``aperture_radii_m``/``aperture_diameter_m``, ``bias_a``, ``gain``, ``max_offset_m``.
    """

    focal_length_m: float = 548.16e-3
    arcsec_per_m: float = 0.375e6
    v_base_v: float = 0.06018
    r_m_ohm: float = 51100.0
    adc_divisor: float = 16.0
    cadence_s: float = 64.0
    cadence_tol_s: float = 0.5
    rsol_min_m: float = 3.28e-3
    limb_wavelength_nm: float = 625.0
    limb_band_nm: float = 150.0
    halo_fraction: float = 0.05
    halo_radius: float = 1.4
    halo_level: float = 0.05
    blur_sigma_m: float = 50e-6
    limb_u: float = 0.88
    limb_v: float = -0.20
    aperture_radii_m: tuple[float, ...] = tuple(np.round(np.arange(2.8e-3, 12.01e-3, 0.4e-3), 7))
    aperture_diameter_m: float = 0.3e-3
    bias_a: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    gain: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    max_offset_m: float = 1.5e-3

    @property
    def rsol_max_m(self) -> float:
        """Largest image radius the aperture rows can measure (outermost aperture)."""
        return float(self.aperture_radii_m[-1]) - self.aperture_diameter_m


SAS_CONSTANTS = SasConstants()
_U_AB = np.array([-1.0, -1.0]) / np.sqrt(2.0)  # image moves this way for x_AB > 0 (SAS x, y)
_U_CD = np.array([1.0, -1.0]) / np.sqrt(2.0)
_ARMS = (-_U_AB, _U_AB, -_U_CD, _U_CD)  # directions of arms A, B, C, D


# -- the optical model ------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _profile(rsol_um: int, consts: SasConstants) -> tuple[NDArray, NDArray]:
    """Radial intensity profile (r grid in m, relative intensity) for an image radius in um."""
    rsol = rsol_um * 1e-6
    dx = 2e-6
    r = np.arange(0.0, 2.5 * rsol + 4 * consts.blur_sigma_m, dx)
    mu = np.sqrt(np.clip(1.0 - (r / rsol) ** 2, 0.0, None))
    disc = np.where(r <= rsol, 1.0 - consts.limb_u - consts.limb_v + consts.limb_u * mu
                    + consts.limb_v * mu**2, 0.0)  # fmt: skip
    width = consts.halo_radius * rsol / np.sqrt(-2.0 * np.log(consts.halo_level))
    prof = (
        consts.halo_fraction * np.exp(-0.5 * (r / width) ** 2) + (1 - consts.halo_fraction) * disc
    )
    symmetric = np.concatenate([prof[:0:-1], prof])
    blurred = gaussian_filter1d(symmetric, consts.blur_sigma_m / dx, mode="nearest")
    return r, blurred[len(prof) - 1 :]


def model_signals(
    x_ab: NDArray, x_cd: NDArray, rsol_m: float, consts: SasConstants = SAS_CONSTANTS
) -> NDArray[np.float64]:
    """Relative signals of arms A, B, C, D, shape (n, 4), for image offsets (m) and radius (m)."""
    r_grid, prof = _profile(round(rsol_m * 1e6), consts)
    offset = np.asarray(x_ab)[:, None] * _U_AB + np.asarray(x_cd)[:, None] * _U_CD  # (n, 2)
    half = consts.aperture_diameter_m / 2
    t = np.linspace(-half, half, 15)
    chord = 2.0 * np.sqrt(np.clip(half**2 - t**2, 0.0, None)) * (t[1] - t[0])
    radii = np.asarray(consts.aperture_radii_m)
    out = np.empty((len(offset), 4))
    for k, arm in enumerate(_ARMS):
        centres = radii[:, None] * arm[None, :]  # (n_ap, 2)
        rho = np.linalg.norm(centres[None, :, :] - offset[:, None, :], axis=2)  # (n, n_ap)
        values = np.interp(np.abs(rho[:, :, None] + t[None, None, :]), r_grid, prof, right=0.0)
        out[:, k] = (values * chord).sum(axis=(1, 2))
    return out


def _normalised(signals: NDArray) -> NDArray[np.float64]:
    a, b, c, d = signals.T
    return np.stack([(a - b) / (a + b), (c - d) / (c + d)], axis=1)


def _solve_group(obs: NDArray, rsol_m: float, consts: SasConstants) -> NDArray[np.float64]:
    """Gauss-Newton for (x_AB, x_CD) of reports sharing one image radius; NaN where it fails."""
    x = np.zeros((len(obs), 2))
    h = 1e-6
    for _ in range(12):
        f0 = _normalised(model_signals(x[:, 0], x[:, 1], rsol_m, consts)) - obs
        fa = _normalised(model_signals(x[:, 0] + h, x[:, 1], rsol_m, consts)) - obs
        fc = _normalised(model_signals(x[:, 0], x[:, 1] + h, rsol_m, consts)) - obs
        jac = np.stack([(fa - f0) / h, (fc - f0) / h], axis=2)  # (n, 2 residuals, 2 unknowns)
        det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
        det = np.where(np.abs(det) > 1e-12, det, np.nan)
        dx0 = (jac[:, 1, 1] * f0[:, 0] - jac[:, 0, 1] * f0[:, 1]) / det
        dx1 = (-jac[:, 1, 0] * f0[:, 0] + jac[:, 0, 0] * f0[:, 1]) / det
        step = np.clip(np.stack([dx0, dx1], axis=1), -2e-4, 2e-4)
        x = np.clip(x - step, -2 * consts.max_offset_m, 2 * consts.max_offset_m)
    resid = _normalised(model_signals(x[:, 0], x[:, 1], rsol_m, consts)) - obs
    bad = ~np.all(np.isfinite(x), axis=1) | (np.abs(resid).max(axis=1) > 1e-5)
    bad |= np.abs(x).max(axis=1) > consts.max_offset_m
    x[bad] = np.nan
    return x


@dataclass(frozen=True, slots=True)
class AspectSolution:
    """Pointing offsets per report: ``y_srf``/``z_srf`` (arcsec), ``error`` ('' when good)."""

    y_srf: NDArray[np.float64]
    z_srf: NDArray[np.float64]
    error: NDArray[np.str_]

    @property
    def sas_ok(self) -> NDArray[np.bool_]:
        """Usable reports."""
        return self.error == ""


def calibrate_diodes(volts: NDArray, consts: SasConstants = SAS_CONSTANTS) -> NDArray[np.float64]:
    """Photodiode currents (A), shape (n, 4), from the four L1 voltages (V), shape (n, 4)."""
    current = (
        np.asarray(volts, np.float64) / consts.adc_divisor - consts.v_base_v
    ) / consts.r_m_ohm
    return (current - np.asarray(consts.bias_a)) / np.asarray(consts.gain)


def solve_aspect(
    currents: NDArray,
    disc_size_arcsec: NDArray,
    duration_s: NDArray,
    consts: SasConstants = SAS_CONSTANTS,
) -> AspectSolution:
    """The aspect solution (module docstring, steps 2-5) of calibrated diode currents.

    Parameters
    ----------
    currents : (n, 4) currents of A, B, C, D (``photoa0, photoa1, photob0, photob1``), any scale
    disc_size_arcsec : apparent solar radius per report (NaN without SPICE)
    duration_s : spacing of the reports (s)
    """
    currents = np.asarray(currents, np.float64)
    n = len(currents)
    rsol = consts.focal_length_m * np.asarray(disc_size_arcsec, np.float64) / _ARCSEC_PER_RAD
    error = np.full(n, "", dtype="<U24")
    error[np.abs(np.asarray(duration_s) - consts.cadence_s) >= consts.cadence_tol_s] = (
        "SAS_DATA_WRONG_DURATION"
    )
    free = error == ""
    error[free & ~np.isfinite(rsol)] = "NO_SPICE"
    error[(error == "") & (rsol < consts.rsol_min_m)] = "SUN_TOO_FAR"
    error[(error == "") & (rsol > consts.rsol_max_m)] = "SUN_TOO_BIG"
    error[(error == "") & ~np.all(np.isfinite(currents) & (currents > 0), axis=1)] = "BAD_SIGNAL"
    x = np.full((n, 2), np.nan)
    todo = np.flatnonzero(error == "")
    obs = _normalised(currents[todo]) if len(todo) else np.zeros((0, 2))
    keys = np.round(rsol[todo] * 1e6).astype(np.int64)
    for key in np.unique(keys):
        rows = keys == key
        x[todo[rows]] = _solve_group(obs[rows], key * 1e-6, consts)
    error[(error == "") & ~np.all(np.isfinite(x), axis=1)] = "NO_ASPECT_SOL"
    x_sas = -(x[:, 0] - x[:, 1]) / np.sqrt(2.0)
    y_sas = -(x[:, 0] + x[:, 1]) / np.sqrt(2.0)
    return AspectSolution(y_sas * consts.arcsec_per_m, x_sas * consts.arcsec_per_m, error)


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
        out["spice_disc_size"][i] = np.arcsin(_R_SUN_KM / dist) * _ARCSEC_PER_RAD
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


def _primary(
    l1: fits.Header, name: str, parent: str, created: datetime, software: str, conf: str
) -> list[Card]:
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
    cards.append(("HISTORY", "aspect solution: stix-assets Python port of the STX-GSW method,", ""))
    cards.append(
        ("HISTORY", "normalised arm differences, no auto-scaling; geometry unverified", "")
    )
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
    consts: SasConstants = SAS_CONSTANTS,
) -> AncResult:
    """Build and write the ANC aspect ephemeris of one daily L1 ``hk-maxi`` file.

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
    duration = np.append(duration, duration[-1] if len(duration) else consts.cadence_s)
    geo = spice_columns(utc, kernels)
    currents = calibrate_diodes(np.stack([np.asarray(data[c]) for c in _DIODES], axis=1), consts)
    sol = solve_aspect(currents, geo["spice_disc_size"], duration, consts)
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
    cards = _primary(content.primary, name, parent, created, software_version, config_version)
    sha = write_fits(out, cards, tables, checksum_comment=created.strftime("%Y-%m-%dT%H:%M:%S"))
    kinds, counts = np.unique(sol.error[sol.error != ""], return_counts=True)
    errors = {str(k): int(c) for k, c in zip(kinds, counts, strict=True)}
    logger.info("anc written file=%s rows=%d ok=%d", name, n, int(sol.sas_ok.sum()))
    return AncResult(out, utc_day, sha, n, int(sol.sas_ok.sum()), errors, parent)
