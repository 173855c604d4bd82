"""On-board time (SCET) helpers and SCET <-> UTC conversion through the SPICE SCLK kernel.

SCET is a pair of exact integers: ``coarse`` seconds (uint32; the caller masks the
time-not-synchronised bit) and ``fine`` = 1/65536 s (uint16). It stays exact until this module
turns it into an `astropy.time.Time` (STYLE.md section 4).

Two float conventions exist (domain reference 1.5, quirk 1):

* SPICE and the SCLK kernel: ticks = ``coarse * 65536 + fine`` (moduli ``4294967296 65536``).
  Every UTC conversion here uses it, and so do the product tables (`scet_float`, `scet_split`).
* STIXCore: ``coarse + fine / 65535``. `scet_to_float` (and `stixcore_float` for seconds) keeps it
  for the header ``OBT_BEG``/``OBT_END`` floats and the IDB-period lookup, where products must
  match STIXCore.

SCET 0 is 2000-01-01T00:00 UTC in the SOLO SCLK (`SCET_EPOCH`). SCET days count from it:
``scet_day = SCET_EPOCH + coarse // 86400``; because of leap seconds and clock drift a SCET day
starts a few seconds before UTC midnight, so the date is only a label for ``coarse // 86400``.
Where no SCLK kernel is at hand, `nominal_utc` and `nominal_scet` read SCET seconds as seconds
after the epoch (no leap seconds, off by about a minute).

This module is the only place that defines the epoch and these helpers.

Conversion: the type-1 SCLK coefficients read from the kernel pool at load time (`SclkModel`) map
ticks to parallel time (TDT for the SOLO kernels) piecewise linearly, exactly as SPICE's
``sct2e`` does, but over whole numpy arrays; astropy then goes from TT to UTC with leap seconds.
Tests check the result against ``sct2e``/``et2utc``. Times after the kernel's last coefficient
record are extrapolated with its last rate (as SPICE does) and raise a `StixDataWarning`: the
error of an extrapolated time grows to about a second within months. STIXCore compares with the
flown meta-kernel's date instead; the last correlation point is the actual limit of the data.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stix_assets.core.errors import SpiceCoverageError, warn_data

if TYPE_CHECKING:  # imported where a Time is made: SCET days and ticks need no astropy (LB route)
    from astropy.time import Time

__all__ = [
    "FINE_PER_SECOND",
    "SCET_EPOCH",
    "SCET_EPOCH_UTC",
    "SECONDS_PER_DAY",
    "STIXCORE_FINE_DIVISOR",
    "HasSclk",
    "SclkModel",
    "day_index",
    "float_to_scet",
    "nominal_scet",
    "nominal_utc",
    "parse_scet_string",
    "scet_day",
    "scet_day_index",
    "scet_day_start",
    "scet_float",
    "scet_split",
    "scet_string",
    "scet_ticks",
    "scet_to_float",
    "scet_to_utc",
    "sclk_extrapolated",
    "sclk_last_correlation_utc",
    "split_scet_seconds",
    "stixcore_float",
    "utc_day_index",
    "utc_to_scet",
]

logger = logging.getLogger(__name__)

FINE_PER_SECOND = 65536  # SPICE / SCLK kernel modulus of the fine field
STIXCORE_FINE_DIVISOR = 65535  # STIXCore's float convention (quirk 1)
SCET_EPOCH = date(2000, 1, 1)  # SCET day 0 (SCET 0 = 2000-01-01T00:00 UTC in the SOLO SCLK)
SCET_EPOCH_UTC = datetime.combine(SCET_EPOCH, datetime.min.time(), tzinfo=UTC)
SECONDS_PER_DAY = 86400
_SCET_EPOCH_MJD = (SCET_EPOCH - date(1858, 11, 17)).days  # 51544
_MAX_COARSE = 2**32 - 1
_J2000_JD = 2451545.0


@dataclass(frozen=True, slots=True)
class SclkModel:
    """A type-1 SCLK kernel as data: piecewise-linear ticks -> parallel time.

    Record ``i`` maps ticks ``t >= ticks[i]`` to ``parallel[i] + rate[i] * (t - ticks[i]) /
    ticks_per_count`` seconds past J2000 in ``time_scale`` (SPICE's SCLK type 1). Beyond the last
    record SPICE extrapolates with the last rate; so does this model.
    """

    naif_id: int
    ticks: NDArray[np.float64]
    parallel: NDArray[np.float64]
    rate: NDArray[np.float64]
    ticks_per_count: int
    time_scale: str  # "tt" (SCLK01_TIME_SYSTEM 2, TDT) or "tdb" (1)
    partition_end: float

    @property
    def last_correlation_ticks(self) -> int:
        """Ticks of the last coefficient record; later times are extrapolated."""
        return int(self.ticks[-1])

    def ticks_to_parallel(self, ticks: ArrayLike) -> NDArray[np.float64]:
        """Parallel time (s past J2000) of integer ticks."""
        # record ticks are floats parsed from the kernel text (4.1615919513077E+13 is not an
        # integer in binary): subtract in float64, which is exact for ticks below 2**53
        ticks = np.asarray(ticks, dtype=np.int64).astype(np.float64)
        i = np.clip(np.searchsorted(self.ticks, ticks, side="right") - 1, 0, None)
        delta = ticks - self.ticks[i]
        return self.parallel[i] + self.rate[i] * delta / self.ticks_per_count

    def parallel_to_ticks(self, parallel: ArrayLike) -> NDArray[np.float64]:
        """Continuous (non-integral) ticks of parallel times; the inverse of `ticks_to_parallel`."""
        parallel = np.asarray(parallel, dtype=np.float64)
        i = np.clip(np.searchsorted(self.parallel, parallel, side="right") - 1, 0, None)
        return self.ticks[i] + (parallel - self.parallel[i]) * self.ticks_per_count / self.rate[i]


class HasSclk(Protocol):
    """A loaded kernel set as the conversions see it: something that carries the `SclkModel`.

    `stix_assets.core.spice.LoadedKernels` is one. Naming the protocol here, instead of importing
    that class, keeps `core.time` a leaf below `core.spice` (which builds the model from the pool).
    """

    @property
    def sclk(self) -> SclkModel:
        """The SOLO SCLK model."""
        ...


def scet_to_float(coarse: ArrayLike, fine: ArrayLike) -> float | NDArray[np.float64]:
    """SCET as STIXCore's float seconds, ``coarse + fine / 65535`` (quirk 1).

    Only for values that must match STIXCore (header ``OBT_BEG``/``OBT_END``, IDB periods); not
    for UTC conversion, which uses fine/65536.

    >>> scet_to_float(640267793, 29237)
    640267793.446128
    """
    value = np.asarray(coarse, dtype=np.float64) + np.asarray(fine, dtype=np.float64) / (
        STIXCORE_FINE_DIVISOR
    )
    return float(value) if value.ndim == 0 else value


def float_to_scet(value: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Inverse of `scet_to_float`: ``coarse = floor(value)``, ``fine = round(frac * 65535)``."""
    value = np.asarray(value, dtype=np.float64)
    coarse = np.floor(value)
    fine = np.rint((value - coarse) * STIXCORE_FINE_DIVISOR)
    return coarse.astype(np.int64), fine.astype(np.int64)


def scet_float(coarse: ArrayLike, fine: ArrayLike) -> NDArray[np.float64]:
    """SCET seconds ``coarse + fine / 65536`` (the product-internal time), as float64.

    >>> float(scet_float(628185012, 32768))
    628185012.5
    """
    return np.asarray(coarse, dtype=np.float64) + np.asarray(fine, dtype=np.float64) / float(
        FINE_PER_SECOND
    )


def split_scet_seconds(
    seconds: ArrayLike, *, clamp: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Coarse and fine (1/65536) of SCET seconds, fine rounded half to even, over arrays.

    A fine part that rounds to 65536 carries into the next second; with ``clamp`` it stays at
    65535 in the same second instead (the demo encoder and the plots keep the second).
    """
    seconds = np.asarray(seconds, dtype=np.float64)
    coarse = np.floor(seconds)
    fine = np.rint((seconds - coarse) * FINE_PER_SECOND)
    if clamp:
        return coarse.astype(np.int64), np.minimum(fine, FINE_PER_SECOND - 1).astype(np.int64)
    carry = fine >= FINE_PER_SECOND
    coarse = coarse.astype(np.int64) + carry
    return coarse, np.where(carry, fine - FINE_PER_SECOND, fine).astype(np.int64)


def scet_split(seconds: float, *, clamp: bool = False) -> tuple[int, int]:
    """Coarse and fine (1/65536) of one SCET time in seconds (see `split_scet_seconds`).

    >>> scet_split(628185012 + 52455 / 65536)
    (628185012, 52455)
    """
    coarse, fine = split_scet_seconds(seconds, clamp=clamp)
    return int(coarse), int(fine)


def stixcore_float(seconds: ArrayLike) -> float | NDArray[np.float64]:
    """SCET seconds (1/65536) as STIXCore floats (fine / 65535, quirk 1).

    The value STIXCore writes in ``OBT_BEG``/``OBT_END`` and compares with IDB periods:
    `scet_to_float` of `split_scet_seconds`.
    """
    return scet_to_float(*split_scet_seconds(seconds))


def scet_string(coarse: int, fine: int) -> str:
    """SCET as ``cccccccccc:fffff`` (10 and 5 digits, zero padded).

    >>> scet_string(664070400, 0)
    '0664070400:00000'
    """
    coarse, fine = int(coarse), int(fine)
    if not (0 <= coarse <= _MAX_COARSE and 0 <= fine < FINE_PER_SECOND):
        raise ValueError(f"SCET out of range: coarse={coarse} fine={fine}")
    return f"{coarse:010d}:{fine:05d}"


def parse_scet_string(text: str) -> tuple[int, int]:
    """Parse ``cccccccccc:fffff``, with or without SPICE's partition prefix ``1/``.

    >>> parse_scet_string("1/0664070400:00017")
    (664070400, 17)
    """
    body = text.strip().split("/", 1)[-1]
    coarse_text, _, fine_text = body.partition(":")
    coarse, fine = int(coarse_text), int(fine_text or 0)
    scet_string(coarse, fine)  # range check
    return coarse, fine


def scet_day(coarse: int) -> date:
    """SCET day of a coarse time: ``SCET_EPOCH + coarse // 86400`` days.

    >>> scet_day(664070400)
    datetime.date(2021, 1, 16)
    """
    return SCET_EPOCH + timedelta(days=int(coarse) // SECONDS_PER_DAY)


def scet_day_start(day: date) -> int:
    """First coarse second of a SCET day (the number in LB/L0 file names)."""
    return (day - SCET_EPOCH).days * SECONDS_PER_DAY


def scet_day_index(scet_coarse: ArrayLike) -> NDArray[np.int64]:
    """Day number ``coarse // 86400`` (days since `SCET_EPOCH`) of each coarse time."""
    return np.asarray(scet_coarse, dtype=np.int64) // SECONDS_PER_DAY


def day_index(day: date) -> int:
    """Days from `SCET_EPOCH` to a calendar date (a SCET day or a UTC day).

    >>> day_index(date(2020, 12, 1))
    7640
    """
    return (day - SCET_EPOCH).days


def utc_day_index(time: "Time") -> NDArray[np.int64]:
    """Days from `SCET_EPOCH` to the UTC calendar date of each time (`day_index` of its date)."""
    mjd = np.floor(np.asarray(time.utc.mjd, dtype=np.float64))
    return (mjd - _SCET_EPOCH_MJD).astype(np.int64)


def nominal_utc(scet_seconds: float) -> datetime:
    """UTC of SCET seconds read as seconds after `SCET_EPOCH_UTC` (no SCLK, no leap seconds).

    Off by about a minute; for choices that only need the day (no SCLK kernel at hand).
    """
    return SCET_EPOCH_UTC + timedelta(seconds=scet_seconds)


def nominal_scet(utc: datetime) -> float:
    """Inverse of `nominal_utc`: seconds from `SCET_EPOCH_UTC` to an aware UTC time."""
    return (utc.astimezone(UTC) - SCET_EPOCH_UTC).total_seconds()


def scet_ticks(coarse: ArrayLike, fine: ArrayLike) -> NDArray[np.int64]:
    """SPICE encoded SCLK ticks ``coarse * 65536 + fine``, exact as int64."""
    coarse = np.asarray(coarse, dtype=np.int64)
    fine = np.asarray(fine, dtype=np.int64)
    if np.any((coarse < 0) | (coarse > _MAX_COARSE)) or np.any((fine < 0) | (fine > 65535)):
        raise ValueError("SCET out of range (coarse must fit uint32, fine uint16)")
    return coarse * FINE_PER_SECOND + fine


def _sclk(kernels: HasSclk | SclkModel) -> SclkModel:
    return kernels if isinstance(kernels, SclkModel) else kernels.sclk


def _parallel_to_time(parallel: NDArray[np.float64], scale: str) -> "Time":
    from astropy.time import Time

    days = np.floor(parallel / SECONDS_PER_DAY)
    rest = (parallel - days * SECONDS_PER_DAY) / SECONDS_PER_DAY
    return Time(_J2000_JD + days, rest, format="jd", scale=scale)


def sclk_last_correlation_utc(kernels: HasSclk | SclkModel) -> "Time":
    """UTC of the SCLK kernel's last coefficient record (later times are extrapolated)."""
    sclk = _sclk(kernels)
    parallel = sclk.ticks_to_parallel(sclk.last_correlation_ticks)
    return _parallel_to_time(parallel, sclk.time_scale).utc


def sclk_extrapolated(
    coarse: ArrayLike, fine: ArrayLike, kernels: HasSclk | SclkModel
) -> NDArray[np.bool_]:
    """Flag SCET values after the SCLK kernel's last correlation point (extrapolated UTC)."""
    return scet_ticks(coarse, fine) > _sclk(kernels).last_correlation_ticks


def _warn_extrapolated(n: int, total: int, sclk: SclkModel) -> None:
    last = sclk_last_correlation_utc(sclk).isot
    logger.warning("sclk extrapolated times=%d of=%d last_correlation=%s", n, total, last)
    warn_data(
        f"{n} of {total} times are after the SCLK kernel's last correlation point ({last} UTC); "
        "their UTC is extrapolated and may be off by up to seconds",
        stacklevel=4,
    )


def scet_to_utc(
    coarse: ArrayLike, fine: ArrayLike, kernels: HasSclk | SclkModel, *, warn: bool = True
) -> "Time":
    """Convert SCET to UTC through the SCLK kernel, over whole arrays.

    Parameters
    ----------
    coarse, fine : int or array of int
        SCET coarse seconds (time-sync bit masked) and fine ticks (1/65536 s).
    kernels : the loaded kernel set (`stix_assets.core.spice.LoadedKernels`) or its `SclkModel`
    warn : issue a `StixDataWarning` when some times are extrapolated (see `sclk_extrapolated`)

    Returns
    -------
    `astropy.time.Time` in scale ``utc``, same shape as the inputs.
    """
    sclk = _sclk(kernels)
    ticks = scet_ticks(coarse, fine)
    late = ticks > sclk.last_correlation_ticks
    if warn and np.any(late):
        _warn_extrapolated(int(np.count_nonzero(late)), int(late.size), sclk)
    return _parallel_to_time(sclk.ticks_to_parallel(ticks), sclk.time_scale).utc


def utc_to_scet(
    time: "Time", kernels: HasSclk | SclkModel, *, warn: bool = True
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Convert times to SCET (coarse, fine), rounded to the nearest tick (7.6 microseconds).

    Raises
    ------
    SpiceCoverageError
        If a time falls before SCET 0 or after the end of the clock's range.
    """
    sclk = _sclk(kernels)
    t = getattr(time, sclk.time_scale)
    parallel = (t.jd1 - _J2000_JD) * SECONDS_PER_DAY + t.jd2 * SECONDS_PER_DAY
    ticks = np.rint(sclk.parallel_to_ticks(parallel))
    if np.any((ticks < 0) | (ticks >= min(sclk.partition_end, (_MAX_COARSE + 1) * 65536.0))):
        raise SpiceCoverageError("time outside the spacecraft clock range")
    ticks = ticks.astype(np.int64)
    late = ticks > sclk.last_correlation_ticks
    if warn and np.any(late):
        _warn_extrapolated(int(np.count_nonzero(late)), int(late.size), sclk)
    return ticks // FINE_PER_SECOND, ticks % FINE_PER_SECOND
