"""SPICE kernels of the demo mission: text LSK and SCLK, a small SPK and a meta-kernel.

* LSK: the leap seconds up to 2017-01-01 (DELTA_AT = 37 s), in the NAIF text format.
* SCLK: type 1 for NAIF id -144 with the Solar Orbiter moduli ``4294967296 65536`` and one
  correlation row: SCLK 0 at TDT parallel time -43135.816 s from J2000 (= 2000-01-01T00:00:00 UTC),
  rate 1. This is the first row of the real SOC SCLK kernel; the demo clock never drifts.
* SPK (type 9, written with spiceypy): the Sun at the solar-system barycentre, the Earth on a
  Keplerian 1 AU orbit about the Sun and a Solar-Orbiter-like body (-144) on an inclined
  0.33-0.97 AU Keplerian orbit about the Sun, frame ECLIPJ2000, sampled hourly.
* FK (text): the heliocentric and geocentric frames the ephemeris header uses (`DEMO_FRAMES`):
  ``SOLO_HEE``, ``SOLO_HCI``, ``SOLO_HEEQ``, ``SUN_EARTH_CEQU``, ``SUN_ARIES_ECL``,
  ``EARTH_SUN_ECL`` and its base ``EARTH_MECL_MEQX``, with the names and ids of the SOC science FK,
  written from their documented definitions (see `DEMO_FRAMES` for the two deliberate
  simplifications).
* PCK (text): the IAU rotation model and radii of the Sun (`SUN_CONSTANTS`, the values of the
  NAIF generic ``pck00010.tpc``), which the ``IAU_SUN`` frame needs.
* Meta-kernel ``mk/solo_ANC_soc-flown-mk_V01_<yyyymmdd>_001.tm`` with ``PATH_VALUES = ( '..' )``
  like the SOC ones.

`scet_from_utc` / `utc_from_scet` give the same mapping in pure Python (used by the simulator);
tests check it against SPICE.
"""

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import spiceypy

from stix_assets.core.time import SCET_EPOCH_UTC

__all__ = [
    "DEMO_FRAMES",
    "LEAP_SECONDS",
    "SCLK_EPOCH_UTC",
    "SUN_CONSTANTS",
    "FrameDef",
    "KernelSet",
    "scet_from_utc",
    "utc_from_scet",
    "write_kernels",
]

logger = logging.getLogger(__name__)

SCLK_EPOCH_UTC = SCET_EPOCH_UTC  # the demo SCLK puts SCLK 0 at the SCET epoch
SOLO_ID = -144
_AU_KM = 149597870.7
_GM_SUN = 1.32712440018e11  # km^3/s^2
_DELTA_AT_AT_EPOCH = 32

# (date from which it applies, TAI - UTC in s)
LEAP_SECONDS: tuple[tuple[date, int], ...] = (
    (date(1972, 1, 1), 10), (date(1972, 7, 1), 11), (date(1973, 1, 1), 12),
    (date(1974, 1, 1), 13), (date(1975, 1, 1), 14), (date(1976, 1, 1), 15),
    (date(1977, 1, 1), 16), (date(1978, 1, 1), 17), (date(1979, 1, 1), 18),
    (date(1980, 1, 1), 19), (date(1981, 7, 1), 20), (date(1982, 7, 1), 21),
    (date(1983, 7, 1), 22), (date(1985, 7, 1), 23), (date(1988, 1, 1), 24),
    (date(1990, 1, 1), 25), (date(1991, 1, 1), 26), (date(1992, 7, 1), 27),
    (date(1993, 7, 1), 28), (date(1994, 7, 1), 29), (date(1996, 1, 1), 30),
    (date(1997, 7, 1), 31), (date(1999, 1, 1), 32), (date(2006, 1, 1), 33),
    (date(2009, 1, 1), 34), (date(2012, 7, 1), 35), (date(2015, 7, 1), 36),
    (date(2017, 1, 1), 37),
)  # fmt: skip


def _delta_at(when: datetime) -> int:
    value = LEAP_SECONDS[0][1]
    for start, dat in LEAP_SECONDS:
        if when.date() >= start:
            value = dat
    return value


def scet_from_utc(when: datetime) -> float:
    """SCET seconds (coarse + fine / 65536) of a UTC time with the demo SCLK (not across a leap second)."""
    elapsed = (when - SCLK_EPOCH_UTC).total_seconds()
    return elapsed + _delta_at(when) - _DELTA_AT_AT_EPOCH


def utc_from_scet(scet_s: float) -> datetime:
    """UTC time of SCET seconds with the demo SCLK (inverse of `scet_from_utc`)."""
    guess = SCLK_EPOCH_UTC + timedelta(seconds=scet_s)
    guess -= timedelta(seconds=_delta_at(guess) - _DELTA_AT_AT_EPOCH)
    return SCLK_EPOCH_UTC + timedelta(seconds=scet_s - _delta_at(guess) + _DELTA_AT_AT_EPOCH)


def _lsk_text() -> str:
    months = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    rows = ",\n".join(
        f"                           {dat},   @{d.year}-{months[d.month - 1]}-{d.day}"
        for d, dat in LEAP_SECONDS
    )
    return (
        "KPL/LSK\n\nLeap seconds kernel of the stix-assets demo mission (leap seconds up to\n"
        "2017-01-01, DELTA_AT = 37 s; constants as in the NAIF generic LSK).\n\n\\begindata\n\n"
        "DELTET/DELTA_T_A       =   32.184\nDELTET/K               =    1.657D-3\n"
        "DELTET/EB              =    1.671D-2\nDELTET/M               = (  6.239996D0   1.99096871D-7 )\n\n"
        f"DELTET/DELTA_AT        = (\n{rows} )\n\n\\begintext\n"
    )


def _sclk_text() -> str:
    return (
        "KPL/SCLK\n\nSCLK kernel of the stix-assets demo mission (Solar Orbiter clock format\n"
        "SSSSSSSSSS:FFFFF, fine = 1/65536 s). One correlation row: SCLK 0 at TDT -43135.816 s\n"
        "from J2000 (2000-01-01T00:00:00 UTC), rate 1 (no drift).\n\n\\begindata\n\n"
        "SCLK_KERNEL_ID           = ( @2000-01-01/00:00:00.00 )\n\n"
        "SCLK_DATA_TYPE_144        = ( 1 )\nSCLK01_TIME_SYSTEM_144    = ( 2 )\n"
        "SCLK01_N_FIELDS_144       = ( 2 )\nSCLK01_MODULI_144         = ( 4294967296 65536 )\n"
        "SCLK01_OFFSETS_144        = ( 0 0 )\nSCLK01_OUTPUT_DELIM_144   = ( 2 )\n\n"
        "SCLK_PARTITION_START_144  = ( 0.0000000000000E+00 )\n"
        "SCLK_PARTITION_END_144    = ( 2.8147497671065E+14 )\n\n"
        "SCLK01_COEFFICIENTS_144   = (\n"
        "    0.0000000000000E+00     -4.3135816000000E+04     1.0000000000000E+00 )\n\n"
        "\\begintext\n"
    )


def _kepler_states(elements: tuple[float, ...], ets: np.ndarray) -> np.ndarray:
    """States (km, km/s) at ``ets`` of a conic: (rp km, ecc, inc, lnode, argp, M0 rad, epoch)."""
    return np.array([spiceypy.conics([*elements, _GM_SUN], float(et)) for et in ets])


def _write_spk(path: Path, et0: float, et1: float, solo: tuple[float, ...] | None = None) -> None:
    """Sun, Earth and SOLO, sampled hourly over ``[et0, et1]``.

    ``solo`` replaces the conic elements of the demo orbit (rp km, ecc, inc, lnode, argp, M0 rad,
    epoch); tests use it for other distances from the Sun.
    """
    path.unlink(missing_ok=True)
    ets = np.arange(et0, et1 + 3600.0, 3600.0)
    earth = (_AU_KM * (1 - 0.0167), 0.0167, 0.0, 0.0, math.radians(102.9), math.radians(357.5), 0.0)
    solo = solo or (
        0.33 * _AU_KM, 0.49, math.radians(4.0), math.radians(60.0), math.radians(20.0),
        math.radians(140.0), et0,
    )  # fmt: skip
    handle = spiceypy.spkopn(str(path), "stix-assets demo SPK", 0)
    try:
        for body, center, states in (
            (10, 0, np.zeros((len(ets), 6))),
            (399, 10, _kepler_states(earth, ets)),
            (SOLO_ID, 10, _kepler_states(solo, ets)),
        ):
            spiceypy.spkw09(
                handle, body, center, "ECLIPJ2000", float(ets[0]), float(ets[-1]),
                f"DEMO {body}", 7, len(ets), states.tolist(), ets.tolist(),
            )  # fmt: skip
    finally:
        spiceypy.spkcls(handle)


# Sun orientation (IAU: pole RA/Dec in deg with rates per century, prime meridian W = W0 + W1 d
# in deg with d in days from J2000 TDB) and tri-axial radii in km; values of NAIF's pck00010.
SUN_CONSTANTS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("BODY10_POLE_RA", (286.13, 0.0, 0.0)),
    ("BODY10_POLE_DEC", (63.87, 0.0, 0.0)),
    ("BODY10_PM", (84.176, 14.1844, 0.0)),
    ("BODY10_LONG_AXIS", (0.0,)),
    ("BODY10_RADII", (696000.0, 696000.0, 696000.0)),
)

_J2000_EPOCH = "@2000-JAN-01/12:00:00"
_NORTH = (0.0, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class FrameDef:
    """One frame of the demo FK.

    Attributes
    ----------
    name, frame_id, center : SPICE frame name, frame id (also the class id), NAIF id of the centre
    frame_class : 5 (dynamic) or 4 (fixed offset, "TK")
    keys : the class-specific assignments, without the ``FRAME_<id>_`` / ``TKFRAME_<id>_`` prefix
    """

    name: str
    frame_id: int
    center: int
    frame_class: int
    keys: tuple[tuple[str, object], ...]


def _two_vector(
    primary: tuple[str, tuple[tuple[str, object], ...]],
    secondary: tuple[str, tuple[tuple[str, object], ...]],
    *extra: tuple[str, object],
) -> tuple[tuple[str, object], ...]:
    """Keywords of a two-vector frame relative to J2000: (axis, vector keywords) for PRI and SEC."""
    out: list[tuple[str, object]] = [
        ("RELATIVE", "J2000"), ("DEF_STYLE", "PARAMETERIZED"), ("FAMILY", "TWO-VECTOR"), *extra,
    ]  # fmt: skip
    for prefix, (axis, vector) in (("PRI", primary), ("SEC", secondary)):
        out.append((f"{prefix}_AXIS", axis))
        out.extend((f"{prefix}_{k}", v) for k, v in vector)
    return tuple(out)


def _constant(frame: str) -> tuple[tuple[str, object], ...]:
    """A constant +Z unit vector of ``frame``."""
    return (
        ("VECTOR_DEF", "CONSTANT"), ("FRAME", frame), ("SPEC", "RECTANGULAR"), ("VECTOR", _NORTH),
    )  # fmt: skip


def _toward(observer: str, target: str) -> tuple[tuple[str, object], ...]:
    """The geometric position of ``target`` seen from ``observer``."""
    return (
        ("VECTOR_DEF", "OBSERVER_TARGET_POSITION"), ("OBSERVER", observer), ("TARGET", target),
        ("ABCORR", "NONE"),
    )  # fmt: skip


# Frames the ephemeris header needs (names and ids as in the SOC science FK V06), from their
# documented definitions. Two differences from the V06 keywords:
# * SOLO_HEE's secondary vector is the ECLIPJ2000 pole, as its documentation says. V06 takes it
#   from its frame EARTH_MECL_MEQX_J2000, whose keywords make it a frozen mean *equator* frame
#   (identical to J2000), so the real SOLO_HEE has the Earth's equatorial pole as secondary and its
#   Z axis is tilted from the ecliptic pole. The demo does not carry that quirk.
# * SUN_ARIES_ECL is the identity offset from ECLIPJ2000; V06 makes it an identity offset from
#   SOLO_GAE (mean ecliptic and equinox frozen at J2000), which coincides with ECLIPJ2000.
DEMO_FRAMES: tuple[FrameDef, ...] = (
    FrameDef("EARTH_MECL_MEQX", 300399000, 399, 5, (
        ("RELATIVE", "J2000"), ("DEF_STYLE", "PARAMETERIZED"),
        ("FAMILY", "MEAN_ECLIPTIC_AND_EQUINOX_OF_DATE"), ("PREC_MODEL", "EARTH_IAU_1976"),
        ("OBLIQ_MODEL", "EARTH_IAU_1980"), ("ROTATION_STATE", "ROTATING"),
    )),
    FrameDef("SOLO_HEE", -144997, 10, 5, _two_vector(
        ("X", _toward("SUN", "EARTH")), ("Z", _constant("ECLIPJ2000")),
    )),
    FrameDef("SOLO_HCI", -144981, 10, 5, _two_vector(
        ("Z", _constant("IAU_SUN")), ("Y", _constant("ECLIPJ2000")),
        ("FREEZE_EPOCH", _J2000_EPOCH),
    )),
    FrameDef("SOLO_HEEQ", -144983, 10, 5, _two_vector(
        ("Z", _constant("IAU_SUN")), ("X", _toward("SUN", "EARTH")),
    )),
    FrameDef("SUN_ARIES_ECL", 1000010000, 10, 4, (
        ("SPEC", "ANGLES"), ("RELATIVE", "ECLIPJ2000"), ("ANGLES", (0.0, 0.0, 0.0)),
        ("AXES", (3, 2, 1)), ("UNITS", "DEGREES"),
    )),
    FrameDef("SUN_EARTH_CEQU", 1000010001, 10, 5, _two_vector(
        ("Z", _constant("IAU_SUN")), ("X", _toward("SUN", "EARTH")),
    )),
    FrameDef("EARTH_SUN_ECL", 300399005, 399, 5, _two_vector(
        ("Z", _constant("EARTH_MECL_MEQX")), ("X", _toward("EARTH", "SUN")),
    )),
)  # fmt: skip


def _pool_value(value: object) -> str:
    """A kernel-pool value: quoted string, ``@`` epoch, number or parenthesised list."""
    if isinstance(value, tuple):
        return "( " + " ".join(_pool_value(v) for v in value) + " )"
    if isinstance(value, str):
        return value if value.startswith("@") else f"'{value}'"
    return repr(value)


def _assignments(pairs: list[tuple[str, object]]) -> str:
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"   {k:<{width}} = {_pool_value(v)}" for k, v in pairs)


def _fk_text() -> str:
    blocks = []
    for f in DEMO_FRAMES:
        prefix = "FRAME" if f.frame_class == 5 else "TKFRAME"
        pairs: list[tuple[str, object]] = [
            (f"FRAME_{f.name}", f.frame_id), (f"FRAME_{f.frame_id}_NAME", f.name),
            (f"FRAME_{f.frame_id}_CLASS", f.frame_class),
            (f"FRAME_{f.frame_id}_CLASS_ID", f.frame_id), (f"FRAME_{f.frame_id}_CENTER", f.center),
            *((f"{prefix}_{f.frame_id}_{k}", v) for k, v in f.keys),
        ]  # fmt: skip
        blocks.append(f"Frame {f.name}\n\n\\begindata\n\n{_assignments(pairs)}\n\n\\begintext\n")
    return (
        "KPL/FK\n\nFrames kernel of the stix-assets demo mission: the heliocentric (HEE, HCI, HEEQ,\n"
        "HAE, Stonyhurst) and geocentric (GSE) frames of the ephemeris header, with the SOC\n"
        "science-FK names and ids. All vectors geometric. Needs the demo PCK (IAU_SUN) and SPK.\n\n"
        + "\n".join(blocks)
    )


def _pck_text() -> str:
    return (
        "KPL/PCK\n\nText PCK of the stix-assets demo mission: IAU rotation model (pole RA/Dec in\n"
        "deg, rates per Julian century; prime meridian in deg and deg/day from J2000 TDB) and\n"
        "radii (km) of the Sun, for the IAU_SUN frame. Values of the NAIF generic pck00010.\n\n"
        f"\\begindata\n\n{_assignments(list(SUN_CONSTANTS))}\n\n\\begintext\n"
    )


class KernelSet:
    """Paths of the demo kernels under a kernel root (``<root>/lsk``, ``pck``, ``fk``, ``sclk``, ...)."""

    def __init__(self, root: Path, stamp: date) -> None:
        self.root = Path(root)
        self.lsk = self.root / "lsk" / "demo_leapseconds_2017.tls"
        self.sclk = self.root / "sclk" / "solo_ANC_soc-sclk_20000101_V01.tsc"
        self.pck = self.root / "pck" / "demo_sun_orientation_V01.tpc"
        self.fk = self.root / "fk" / "solo_ANC_soc-demo-fk_V01.tf"
        self.spk = self.root / "spk" / "solo_ANC_soc-orbit_demo_V01.bsp"
        self.mk = self.root / "mk" / f"solo_ANC_soc-flown-mk_V01_{stamp:%Y%m%d}_001.tm"

    def files(self) -> list[Path]:
        """Every kernel file, meta-kernel last."""
        return [self.lsk, self.pck, self.fk, self.sclk, self.spk, self.mk]


def _mk_text(kernels: KernelSet) -> str:
    lines = "\n".join(
        f"                           '$KERNELS/{p.relative_to(kernels.root).as_posix()}'"
        for p in kernels.files()[:-1]
    )
    return (
        "KPL/MK\n\nMeta-kernel of the stix-assets demo mission; paths relative to the kernels\n"
        "folder (run from this mk folder, or rewrite PATH_VALUES as the pipelines do).\n\n"
        "\\begindata\n\n     PATH_VALUES       = ( '..' )\n     PATH_SYMBOLS      = ( 'KERNELS' )\n"
        f"     KERNELS_TO_LOAD   = (\n{lines}\n                         )\n\n\\begintext\n"
    )


def write_kernels(root: Path, *, start: date, end: date) -> KernelSet:
    """Write LSK, PCK, FK, SCLK, SPK (covering ``start - 1 day`` to ``end + 1 day``) and the meta-kernel.

    Parameters
    ----------
    root : the kernel root (the SOC ``kernels`` folder)
    start, end : first and last UTC day the demo data covers; ``end`` also dates the meta-kernel

    Returns
    -------
    The `KernelSet` written.
    """
    ks = KernelSet(root, end)
    for p in ks.files():
        p.parent.mkdir(parents=True, exist_ok=True)
    ks.lsk.write_text(_lsk_text())
    ks.pck.write_text(_pck_text())
    ks.fk.write_text(_fk_text())
    ks.sclk.write_text(_sclk_text())
    t0 = datetime.combine(start - timedelta(days=1), datetime.min.time(), UTC)
    t1 = datetime.combine(end + timedelta(days=2), datetime.min.time(), UTC)
    et0 = (t0 - datetime(2000, 1, 1, 12, tzinfo=UTC)).total_seconds() + 64.184
    et1 = (t1 - datetime(2000, 1, 1, 12, tzinfo=UTC)).total_seconds() + 69.184
    _write_spk(ks.spk, et0, et1)
    ks.mk.write_text(_mk_text(ks))
    logger.info("demo kernels written root=%s mk=%s", root, ks.mk.name)
    return ks
