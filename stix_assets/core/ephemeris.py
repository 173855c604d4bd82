"""Ephemeris header keywords of L1 and later products, and per-day kernel coverage.

`ephemeris_header` evaluates the position of Solar Orbiter at the UTC centre of a product with the
loaded SPICE kernels (domain reference 6.4). Positions come from ``spkezr`` with aberration
correction ``NONE``, observer Sun (Earth for GSE), in the frames of the SOLO frame kernels:

========================  ================================================================
keywords                  source
========================  ================================================================
HGLN/HGLT_OBS, DSUN_OBS    ``SUN_EARTH_CEQU`` (Stonyhurst) position, as longitude/latitude/radius
RSUN_ARC                   ``asin(R_sun / DSUN_OBS)`` with the IAU 2015 nominal R_sun = 695700 km
CRLN/CRLT_OBS              longitude/latitude in ``IAU_SUN`` (pck00010 rotation model) at the time
                           antedated by the light time from the Sun's near surface to Earth
HEE/HCI/HAE/HEQ *_OBS      ``SOLO_HEE``, ``SOLO_HCI``, ``SUN_ARIES_ECL``, ``SOLO_HEEQ`` (m)
HCI*_VOB                   ``SOLO_HCI`` velocity (m/s)
GSE*_OBS                   ``EARTH_SUN_ECL``, observer Earth (m)
OBS_VR                     radial velocity d|r|/dt = r.v/|r| (m/s)
SUN_TIME, EAR_TDEL         light time Sun->SOLO; light time Sun->Earth minus Sun->SOLO (s)
DATE_SUN, DATE_EAR         start time minus SUN_TIME; start time plus EAR_TDEL (UTC, ms)
========================  ================================================================

Carrington coordinates. STIXCore converts the Stonyhurst position with sunpy
(``HeliographicCarrington(observer="Earth")``). sunpy is not a dependency here; its transform is
the IAU rotation model of the Sun (pole RA 286.13, Dec 63.87, W = 84.176 + 14.1844 d) evaluated
at the observation time minus the light time from the Sun's nearest surface point to Earth, which
is what ``IAU_SUN`` at the antedated time gives. The tests compare with STIXCore's values.

Differences from STIXCore, on purpose:

* ``HAEZ_OBS`` is the Z component; STIXCore writes X there (quirk 12).
* ``OBS_VR`` is the radial velocity; STIXCore writes the length of the velocity vector in the
  rotating ``SUN_EARTH_CEQU`` frame, which is not a radial velocity.

When the loaded SPK kernels do not cover SOLO, Earth or the Sun at the time (before launch, after
the orbit kernel ends), the header carries ``SPICE_ER = '1'`` and every value is an empty string,
as in STIXCore. Any other SPICE error is raised: a wrong kernel set must not pass for a gap.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import astropy.constants as const
import astropy.units as u
import numpy as np
import spiceypy
from astropy.time import Time

from stix_assets.core.spice import (
    SOLO_NAIF_ID,
    LoadedKernels,
    SpiceKernelError,
    Window,
    active_kernels,
)
from stix_assets.core.time import sclk_last_correlation_utc

__all__ = [
    "EPHEMERIS_COMMENTS",
    "EPHEMERIS_KEYWORDS",
    "DayCoverage",
    "coverage",
    "coverage_by_day",
    "ephemeris_header",
]

logger = logging.getLogger(__name__)

EPHEMERIS_KEYWORDS = (
    "RSUN_ARC", "HGLT_OBS", "HGLN_OBS", "CRLT_OBS", "CRLN_OBS", "DSUN_OBS",
    "HEEX_OBS", "HEEY_OBS", "HEEZ_OBS", "HCIX_OBS", "HCIY_OBS", "HCIZ_OBS",
    "HCIX_VOB", "HCIY_VOB", "HCIZ_VOB", "HAEX_OBS", "HAEY_OBS", "HAEZ_OBS",
    "HEQX_OBS", "HEQY_OBS", "HEQZ_OBS", "GSEX_OBS", "GSEY_OBS", "GSEZ_OBS",
    "OBS_VR", "EAR_TDEL", "SUN_TIME", "DATE_EAR", "DATE_SUN",
)  # fmt: skip

_AXES = {"X": 0, "Y": 1, "Z": 2}
_FRAMES = {"HEE": "SOLO_HEE", "HCI": "SOLO_HCI", "HAE": "SUN_ARIES_ECL", "HEQ": "SOLO_HEEQ"}
_FRAME_NAMES = {
    "HEE": "Heliocentric Earth Ecliptic",
    "HCI": "Heliocentric Inertial",
    "HAE": "Heliocentric Aries Ecliptic",
    "HEQ": "Heliocentric Earth Equatorial",
    "GSE": "Geocentric Solar Ecliptic",
}
EPHEMERIS_COMMENTS = {
    "SPICE_MK": "SPICE meta-kernels loaded",
    "SPICE_ER": "ephemeris not available from the SPICE kernels",
    "RSUN_ARC": "[arcsec] apparent photospheric solar radius",
    "HGLT_OBS": "[deg] s/c Stonyhurst heliographic latitude (B0)",
    "HGLN_OBS": "[deg] s/c Stonyhurst heliographic longitude",
    "CRLT_OBS": "[deg] s/c Carrington latitude (B0)",
    "CRLN_OBS": "[deg] s/c Carrington longitude (L0)",
    "DSUN_OBS": "[m] s/c distance from Sun centre",
    **{f"{f}{a}_OBS": f"[m] s/c {name} {a}" for f, name in _FRAME_NAMES.items() for a in "XYZ"},
    **{f"HCI{a}_VOB": f"[m/s] s/c Heliocentric Inertial {a} velocity" for a in "XYZ"},
    "OBS_VR": "[m/s] s/c radial velocity relative to Sun",
    "EAR_TDEL": "[s] light time Sun-Earth minus Sun-s/c",
    "SUN_TIME": "[s] light time Sun-s/c",
    "DATE_EAR": "start time corrected to Earth (UTC)",
    "DATE_SUN": "start time corrected to Sun (UTC)",
}

_R_SUN_KM = const.R_sun.to_value(u.km)  # IAU 2015 nominal solar radius, 695700 km
_C_KM_S = const.c.to_value(u.km / u.s)


def _et(time: Time) -> float:
    t = time.utc.copy()
    t.precision = 6
    return float(spiceypy.str2et(t.isot))


def _covered(windows: tuple[tuple[float, float, str], ...], et: float) -> str | None:
    """Kind of the highest-priority window holding ``et`` (later windows win), else None."""
    for start, end, kind in reversed(windows):
        if start <= et <= end:
            return kind
    return None


def _carrington(et: float, solo_j2000: np.ndarray) -> tuple[float, float]:
    """Carrington (lon, lat) in degrees of a Sun-centred J2000 position, sunpy's convention."""
    earth, _ = spiceypy.spkpos("EARTH", et, "J2000", "NONE", "SUN")
    antedated = et - (np.linalg.norm(earth) - _R_SUN_KM) / _C_KM_S
    _, lon, lat = spiceypy.reclat(spiceypy.pxform("J2000", "IAU_SUN", antedated) @ solo_j2000)
    return float(np.rad2deg(lon) % 360.0), float(np.rad2deg(lat))


def _values(et: float, start: Time) -> dict[str, float | str]:
    state = {}
    for key, frame in (*_FRAMES.items(), ("HGS", "SUN_EARTH_CEQU"), ("J2000", "J2000")):
        state[key], _ = spiceypy.spkezr("SOLO", et, frame, "NONE", "SUN")
    gse, _ = spiceypy.spkezr("SOLO", et, "EARTH_SUN_ECL", "NONE", "EARTH")
    _, earth_lt = spiceypy.spkezr("EARTH", et, "SOLO_HEE", "NONE", "SUN")
    r_km, lon, lat = spiceypy.reclat(state["HGS"][:3])
    solo_lt = r_km / _C_KM_S
    crln, crlt = _carrington(et, np.asarray(state["J2000"][:3]))
    out: dict[str, float | str] = {
        "RSUN_ARC": float(np.rad2deg(np.arcsin(_R_SUN_KM / r_km)) * 3600.0),
        "HGLT_OBS": float(np.rad2deg(lat)),
        "HGLN_OBS": float(np.rad2deg(lon)),
        "CRLT_OBS": crlt,
        "CRLN_OBS": crln,
        "DSUN_OBS": float(r_km * 1e3),
    }
    for key in ("HEE", "HCI", "HAE", "HEQ"):
        out.update({f"{key}{a}_OBS": float(state[key][i] * 1e3) for a, i in _AXES.items()})
    out.update({f"HCI{a}_VOB": float(state["HCI"][3 + i] * 1e3) for a, i in _AXES.items()})
    out.update({f"GSE{a}_OBS": float(gse[i] * 1e3) for a, i in _AXES.items()})
    pos, vel = np.asarray(state["HCI"][:3]), np.asarray(state["HCI"][3:])
    out["OBS_VR"] = float(pos @ vel / np.linalg.norm(pos) * 1e3)
    out["EAR_TDEL"] = float(earth_lt - solo_lt)
    out["SUN_TIME"] = float(solo_lt)
    out["DATE_EAR"] = (start + out["EAR_TDEL"] * u.s).utc.fits
    out["DATE_SUN"] = (start - out["SUN_TIME"] * u.s).utc.fits
    return {k: out[k] for k in EPHEMERIS_KEYWORDS}


def ephemeris_header(
    utc_centre: Time, kernels: LoadedKernels, *, utc_start: Time | None = None
) -> dict[str, float | str]:
    """Ephemeris keywords of a product (domain reference 6.4).

    Parameters
    ----------
    utc_centre : the UTC centre of the product; positions are evaluated there
    kernels : the loaded kernel set (must be the active one)
    utc_start : start of the product, for ``DATE_EAR``/``DATE_SUN`` (default: ``utc_centre``)

    Returns
    -------
    dict : ``SPICE_MK``, then ``SPICE_ER = '1'`` only when the kernels do not cover the time,
        then `EPHEMERIS_KEYWORDS` in order (floats in m, m/s, s, deg, arcsec; dates as FITS
        strings; all empty strings when ``SPICE_ER`` is set). Comments: `EPHEMERIS_COMMENTS`.

    Raises
    ------
    SpiceKernelError
        If the kernels are not loaded or SPICE fails at a covered time (missing frame kernel...).
    """
    active_kernels(kernels)
    header: dict[str, float | str] = {"SPICE_MK": kernels.spice_mk}
    et = _et(utc_centre)
    missing = [b for b, w in kernels.spk_windows.items() if _covered(w, et) is None]
    if missing:
        logger.warning("ephemeris not covered utc=%s bodies=%s", utc_centre.utc.isot, missing)
        header["SPICE_ER"] = "1"
        header.update(dict.fromkeys(EPHEMERIS_KEYWORDS, ""))
        return header
    try:
        header.update(_values(et, utc_start if utc_start is not None else utc_centre))
    except spiceypy.utils.exceptions.SpiceyError as err:
        raise SpiceKernelError(
            f"SPICE failed at a covered time {utc_centre.utc.isot}: {err}"
        ) from err
    return header


@dataclass(frozen=True, slots=True)
class DayCoverage:
    """How well the loaded kernels cover one UTC day.

    Attributes
    ----------
    utc_day : the day
    sclk_valid : the whole day lies before the SCLK kernel's last correlation point, so SCET -> UTC
        is interpolated, not extrapolated
    before_flown_mk : the whole day lies before the flown meta-kernel's date (STIXCore's criterion)
    orbit : ``"flown"`` or ``"predicted"`` (kind of the meta-kernel whose SPK covers SOLO for the
        whole day; flown wins where both do), or ``None`` when the day is not fully covered
    attitude : an attitude CK covers the spacecraft frame for the whole day
    """

    utc_day: date
    sclk_valid: bool
    before_flown_mk: bool
    orbit: str | None
    attitude: bool

    @property
    def is_final(self) -> bool:
        """Whether reprocessing with newer kernels can no longer change products of this day."""
        return self.sclk_valid and self.orbit == "flown" and self.attitude

    def as_metadata(self) -> dict[str, object]:
        """Plain values for asset metadata."""
        return {
            "utc_day": self.utc_day.isoformat(),
            "sclk_valid": self.sclk_valid,
            "before_flown_mk": self.before_flown_mk,
            "orbit": self.orbit,
            "attitude": self.attitude,
            "is_final": self.is_final,
        }


def _tdb_seconds(time: Time) -> float:
    t = time.tdb
    return float((t.jd1 - 2451545.0) * 86400.0 + t.jd2 * 86400.0)


def _day_kind(
    windows: tuple[tuple[float, float, str], ...], start: float, end: float
) -> str | None:
    kinds = [kind for a, b, kind in windows if a <= start and end <= b]
    if "flown" in kinds:
        return "flown"
    return kinds[-1] if kinds else None


def _inside(windows: tuple[Window, ...], start: float, end: float) -> bool:
    return any(a <= start and end <= b for a, b in windows)


def coverage(kernels: LoadedKernels, utc_day: date) -> DayCoverage:
    """Say how the kernel set covers a UTC day (works after unloading too).

    Parameters
    ----------
    kernels : what `stix_assets.core.spice.loaded_kernels` loaded
    utc_day : the day ``[00:00, 24:00)`` UTC

    Returns
    -------
    `DayCoverage`
    """
    day_start = Time(utc_day.isoformat(), scale="utc")
    day_end = Time((utc_day + timedelta(days=1)).isoformat(), scale="utc")
    start, end = _tdb_seconds(day_start), _tdb_seconds(day_end)
    flown_date = kernels.flown_mk_date
    return DayCoverage(
        utc_day=utc_day,
        sclk_valid=bool(day_end <= sclk_last_correlation_utc(kernels)),
        before_flown_mk=flown_date is not None and utc_day < flown_date,
        orbit=_day_kind(kernels.spk_windows.get(SOLO_NAIF_ID, ()), start, end),
        attitude=_inside(kernels.ck_windows, start, end),
    )


def coverage_by_day(kernels: LoadedKernels, utc_days: Iterable[date]) -> dict[date, DayCoverage]:
    """`coverage` of many UTC days at once: one time conversion for the whole set of days.

    Gives the same values as calling `coverage` per day (the same element-wise arithmetic), in
    a fraction of the time: the UTC -> TDB conversions and the SCLK bound are computed once.

    Parameters
    ----------
    kernels : what `stix_assets.core.spice.loaded_kernels` loaded
    utc_days : the days (duplicates are ignored)

    Returns
    -------
    dict
        UTC day -> `DayCoverage`, sorted by day
    """
    days = sorted(set(utc_days))
    if not days:
        return {}
    starts = Time([d.isoformat() for d in days], scale="utc")
    ends = Time([(d + timedelta(days=1)).isoformat() for d in days], scale="utc")
    start_s, end_s = _tdb_seconds_array(starts), _tdb_seconds_array(ends)
    sclk_valid = ends <= sclk_last_correlation_utc(kernels)
    flown_date = kernels.flown_mk_date
    orbit = kernels.spk_windows.get(SOLO_NAIF_ID, ())
    return {
        d: DayCoverage(
            utc_day=d,
            sclk_valid=bool(sclk_valid[i]),
            before_flown_mk=flown_date is not None and d < flown_date,
            orbit=_day_kind(orbit, float(start_s[i]), float(end_s[i])),
            attitude=_inside(kernels.ck_windows, float(start_s[i]), float(end_s[i])),
        )
        for i, d in enumerate(days)
    }


def _tdb_seconds_array(times: Time) -> np.ndarray:
    t = times.tdb
    return (t.jd1 - 2451545.0) * 86400.0 + t.jd2 * 86400.0
