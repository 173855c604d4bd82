"""Flare detection over L1 quick-look light curves and the monthly L3 flare-list file.

STIXCore's own flare-list steps are disabled (domain doc 9); this is a working replacement. The
method, on the 4-10 keV band of ``solo_L1_stix-ql-lightcurve`` files (4 s bins):

1. **Attenuator.** While the attenuator is in (``rcr > 0``) the 4-10 keV band is almost empty,
   so those bins are replaced by the next band (10-15 keV, the lowest one the attenuator passes)
   scaled to the 4-10 keV level: the scale is the 4-10 / 10-15 ratio across the insertion (last
   free 4-10 bins over first attenuated 10-15 bins) and across the removal, interpolated in log
   between the two. The result is an estimate of the unattenuated 4-10 keV curve; flares that
   needed the attenuator carry ``att_in = True``.
2. **Background.** A running low percentile (`FlareDetectionConfig.background_percentile`) over a
   long window (`FlareDetectionConfig.background_window_s`) of the curve rebinned to one
   minute, interpolated back to 4 s: robust against flares shorter than about half the window.
3. **Threshold.** A one-minute bin is "in flare" when its excess over the background exceeds both
   ``n_sigma`` Poisson standard deviations of the background and ``min_relative_excess`` times
   the background. Runs not longer than ``min_duration_s`` (in whole minutes, so a spike that
   straddles two minute bins does not pass 120 s) are dropped.
4. **Merging.** Runs separated by less than ``merge_gap_s`` are one flare (close peaks merge).
5. **Extent.** Start and end grow outward from each run while the excess stays above
   ``edge_sigma`` standard deviations (hysteresis), in one-minute bins.
6. **Peak.** The maximum of the 4 s curve smoothed over ``peak_smooth_s`` within the extent;
   ``peak_counts`` is the (estimated unattenuated) 4-10 keV rate there, in counts per second,
   ``background_counts`` the background rate.

No GOES-class estimate: the conversion from 4-10 keV counts to GOES flux depends on calibrations
not in this repository, so it is left out rather than guessed.

The L3 file (domain doc 3.1-3.4): ``solo_L3_stix-flarelist-sdc_<month start>T000000-<data
end>_V02.fits`` under ``L3/<YYYY>/<MM>/01/FLARELIST/`` (the start date), HDUs PRIMARY and DATA.
"""

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import percentile_filter, uniform_filter1d

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.fits import TableHdu, read_fits, write_fits

__all__ = [
    "FLARELIST_VERSION",
    "Flare",
    "FlareDetectionConfig",
    "FlareListResult",
    "LightCurve",
    "detect_flares",
    "flarelist_file_name",
    "read_lightcurve",
    "write_flarelist",
]

logger = logging.getLogger(__name__)

FLARELIST_VERSION = 2
_MINUTE_S = 60.0
_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")


@dataclass(frozen=True, slots=True)
class FlareDetectionConfig:
    """Parameters of `detect_flares` (module docstring); units in the names."""

    background_window_s: float = 4 * 3600.0
    background_percentile: float = 10.0
    n_sigma: float = 5.0
    min_relative_excess: float = 0.25
    edge_sigma: float = 2.0
    min_duration_s: float = 120.0
    merge_gap_s: float = 300.0
    peak_smooth_s: float = 20.0

    def as_header(self) -> list[tuple[str, object, str]]:
        """Primary-header cards recording the parameters."""
        return [
            ("FL_BGWIN", self.background_window_s, "[s] background running window"),
            ("FL_BGPCT", self.background_percentile, "background percentile"),
            ("FL_NSIG", self.n_sigma, "detection threshold, Poisson sigmas"),
            ("FL_RELEX", self.min_relative_excess, "detection threshold, relative excess"),
            ("FL_EDGE", self.edge_sigma, "start/end threshold, Poisson sigmas"),
            ("FL_MINDU", self.min_duration_s, "[s] minimum duration above threshold"),
            ("FL_MERGE", self.merge_gap_s, "[s] runs closer than this are merged"),
        ]


@dataclass(frozen=True, slots=True)
class LightCurve:
    """The 4-10 keV (and 10-15 keV) light curve of one or more L1 files.

    Attributes
    ----------
    time : bin centres, ``datetime64[us]`` UTC
    timedel_s : bin durations (s)
    low, next_band : counts per bin in 4-10 keV and 10-15 keV
    rcr : rate control regime (attenuator in when > 0)
    files : source file names
    """

    time: NDArray[np.datetime64]
    timedel_s: NDArray[np.float64]
    low: NDArray[np.float64]
    next_band: NDArray[np.float64]
    rcr: NDArray[np.int64]
    files: tuple[str, ...]

    @property
    def seconds(self) -> NDArray[np.float64]:
        """Bin centres in seconds since 1970 (UTC, no leap seconds)."""
        return (self.time - _EPOCH).astype("timedelta64[us]").astype(np.float64) / 1e6

    @classmethod
    def concat(cls, curves: Sequence["LightCurve"]) -> "LightCurve":
        """Join curves in time order (duplicated times keep the last curve's bin)."""
        if not curves:
            raise ProductBuildError("no light curve to join")
        cat = {
            f: np.concatenate([getattr(c, f) for c in curves])
            for f in ("time", "timedel_s", "low", "next_band", "rcr")
        }
        _, first = np.unique(cat["time"][::-1], return_index=True)
        keep = len(cat["time"]) - 1 - first
        keep = keep[np.argsort(cat["time"][keep], kind="stable")]
        files = tuple(n for c in curves for n in c.files)
        return cls(**{k: v[keep] for k, v in cat.items()}, files=files)


@dataclass(frozen=True, slots=True)
class Flare:
    """One detected flare (times UTC; counts per second in 4-10 keV)."""

    start: datetime
    peak: datetime
    end: datetime
    peak_counts: float
    background_counts: float
    att_in: bool

    @property
    def duration_s(self) -> float:
        """End minus start (s)."""
        return (self.end - self.start).total_seconds()

    def as_dict(self) -> dict[str, object]:
        """Plain values for metadata."""
        out = asdict(self)
        out.update({k: getattr(self, k).isoformat() for k in ("start", "peak", "end")})
        out["duration_s"] = self.duration_s
        return out


@dataclass(frozen=True, slots=True)
class FlareListResult:
    """One L3 flare-list file written."""

    path: Path
    month: date
    n_flares: int
    sha256: str
    inputs: tuple[str, ...]

    def as_metadata(self) -> dict[str, object]:
        """Plain values for metadata."""
        return {
            "path": str(self.path),
            "month": self.month.isoformat(),
            "n_flares": self.n_flares,
            "sha256": self.sha256,
            "inputs": list(self.inputs),
        }


# -- reading ----------------------------------------------------------------------------------------
def read_lightcurve(path: Path | str) -> LightCurve:
    """Read the 4-10 and 10-15 keV bands of an L1 ``ql-lightcurve`` file.

    The bands are picked from the ENERGIES table (``e_low`` 4 and 10 keV); without one the first
    two bands are used.

    Raises
    ------
    ProductBuildError
        If the file has no ``counts``/``time`` columns or fewer than two bands.
    """
    path = Path(path)
    content = read_fits(path)
    data = content.tables.get("DATA")
    if data is None or "counts" not in (data.dtype.names or ()):
        raise ProductBuildError(f"{path.name}: no DATA counts column")
    counts = np.asarray(data["counts"], dtype=np.float64).reshape(len(data), -1)
    if counts.shape[1] < 2:
        raise ProductBuildError(f"{path.name}: fewer than two energy bands")
    lo, nxt = 0, 1
    if "ENERGIES" in content.tables:
        e_low = np.asarray(content.tables["ENERGIES"]["e_low"], dtype=np.float64)
        lo = int(np.argmin(np.abs(e_low - 4.0)))
        nxt = int(np.argmin(np.abs(e_low - 10.0)))
    start = np.datetime64(str(content.primary["DATE-BEG"]).rstrip("Z"), "us")
    rel = np.asarray(data["time"], dtype=np.float64) / 100.0  # centiseconds (L1)
    time = start + (rel * 1e6).astype("timedelta64[us]")
    rcr = np.asarray(data["rcr"], dtype=np.int64).reshape(len(data), -1).max(axis=1)
    return LightCurve(
        time=time,
        timedel_s=np.asarray(data["timedel"], dtype=np.float64) / 100.0,
        low=counts[:, lo],
        next_band=counts[:, nxt],
        rcr=rcr,
        files=(path.name,),
    )


# -- detection --------------------------------------------------------------------------------------
def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _boundary_ratio(low: NDArray, nxt: NDArray, free: slice, attenuated: slice) -> float:
    a, b = np.median(low[free]), np.median(nxt[attenuated])
    return float(a / b) if a > 0 and b > 0 else float("nan")


def unattenuated_rate(curve: LightCurve) -> NDArray[np.float64]:
    """4-10 keV counts per second, attenuated periods replaced by the scaled 10-15 keV band."""
    rate = curve.low / np.maximum(curve.timedel_s, 1e-9)
    nxt = curve.next_band / np.maximum(curve.timedel_s, 1e-9)
    out = rate.copy()
    n, k = len(rate), 5  # bins on each side of a transition
    for a, b in _runs(curve.rcr > 0):
        r_in = _boundary_ratio(rate, nxt, slice(max(a - k, 0), a), slice(a, min(a + k, b + 1)))
        r_out = _boundary_ratio(
            rate, nxt, slice(b + 1, min(b + 1 + k, n)), slice(max(b + 1 - k, a), b + 1)
        )
        ratios = [r for r in (r_in, r_out) if np.isfinite(r)]
        if not ratios:
            continue  # attenuated over the whole series: nothing to scale by
        r_in = r_in if np.isfinite(r_in) else ratios[0]
        r_out = r_out if np.isfinite(r_out) else ratios[0]
        w = np.linspace(0.0, 1.0, b - a + 1)
        out[a : b + 1] = nxt[a : b + 1] * np.exp(np.log(r_in) * (1 - w) + np.log(r_out) * w)
    return out


def _minute_bins(seconds: NDArray, rate: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Mean rate per one-minute bin (bins without data are dropped): (centres, rate, n)."""
    idx = np.floor((seconds - seconds[0]) / _MINUTE_S).astype(np.int64)
    n = np.bincount(idx)
    total = np.bincount(idx, weights=rate)
    ok = n > 0
    centres = seconds[0] + (np.flatnonzero(ok) + 0.5) * _MINUTE_S
    return centres, total[ok] / n[ok], n[ok]


def _as_datetime(seconds: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=round(float(seconds), 3))


def _merge(runs: list[tuple[int, int]], centres: NDArray, gap_s: float) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and centres[a] - centres[merged[-1][1]] <= gap_s + _MINUTE_S:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _grow(a: int, b: int, edge: NDArray[np.bool_]) -> tuple[int, int]:
    while a > 0 and edge[a - 1]:
        a -= 1
    while b < len(edge) - 1 and edge[b + 1]:
        b += 1
    return a, b


def detect_flares(curve: LightCurve, config: FlareDetectionConfig | None = None) -> list[Flare]:
    """Flares in a light curve (module docstring); empty list for a quiet curve.

    Parameters
    ----------
    curve : from `read_lightcurve` (or several joined with `LightCurve.concat`)
    config : detection parameters (default `FlareDetectionConfig()`)
    """
    cfg = config or FlareDetectionConfig()
    if len(curve.time) < 3:
        return []
    seconds = curve.seconds
    rate = unattenuated_rate(curve)
    centres, minute_rate, n_per = _minute_bins(seconds, rate)
    window = max(int(cfg.background_window_s / _MINUTE_S) | 1, 3)
    background = percentile_filter(
        minute_rate, cfg.background_percentile, size=window, mode="nearest"
    )
    exposure = n_per * float(np.median(curve.timedel_s))  # seconds summed per minute bin
    sigma = np.sqrt(np.maximum(background, 1e-9) / np.maximum(exposure, 1e-9))
    excess = minute_rate - background
    hot = (excess > cfg.n_sigma * sigma) & (excess > cfg.min_relative_excess * background)
    runs = [(a, b) for a, b in _runs(hot) if (b - a + 1) * _MINUTE_S > cfg.min_duration_s]
    edge = excess > cfg.edge_sigma * sigma
    extents = _merge([_grow(a, b, edge) for a, b in runs], centres, cfg.merge_gap_s)
    smooth_bins = max(round(cfg.peak_smooth_s / float(np.median(curve.timedel_s))), 1)
    smoothed = uniform_filter1d(rate, smooth_bins, mode="nearest")
    bg_fine = np.interp(seconds, centres, background)
    flares = []
    for a, b in extents:
        t0, t1 = centres[a] - _MINUTE_S / 2, centres[b] + _MINUTE_S / 2
        inside = np.flatnonzero((seconds >= t0) & (seconds < t1))
        i = inside[np.argmax(smoothed[inside])]
        flares.append(
            Flare(
                start=_as_datetime(max(t0, seconds[0])),
                peak=_as_datetime(seconds[i]),
                end=_as_datetime(min(t1, seconds[-1])),
                peak_counts=float(smoothed[i]),
                background_counts=float(bg_fine[i]),
                att_in=bool(np.any(curve.rcr[inside] > 0)),
            )
        )
    logger.info("flares detected n=%d files=%d", len(flares), len(curve.files))
    return flares


# -- the L3 file ------------------------------------------------------------------------------------
def flarelist_file_name(month: date, data_end: datetime) -> str:
    """``solo_L3_stix-flarelist-sdc_<YYYYMM01>T000000-<data end>_V02.fits``."""
    start = f"{month:%Y%m}01T000000"
    return (
        f"solo_L3_stix-flarelist-sdc_{start}-{data_end:%Y%m%dT%H%M%S}_V{FLARELIST_VERSION:02d}.fits"
    )


def _fits_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _table(flares: Sequence[Flare]) -> NDArray[np.void]:
    dtype = [
        ("flare_id", ">i8"), ("start_utc", "S23"), ("peak_utc", "S23"), ("end_utc", "S23"),
        ("duration", ">f4"), ("lc_peak_4_10", ">f4"), ("lc_bkg_4_10", ">f4"), ("att_in", "?"),
    ]  # fmt: skip
    table = np.zeros(len(flares), dtype=dtype)
    for i, f in enumerate(flares):
        table[i] = (
            int(f.peak.strftime("%y%m%d%H%M")),
            _fits_time(f.start), _fits_time(f.peak), _fits_time(f.end),
            f.duration_s, f.peak_counts, f.background_counts, f.att_in,
        )  # fmt: skip
    return table


def write_flarelist(
    flares: Sequence[Flare],
    month: date,
    data_end: datetime,
    archive_root: Path | str,
    *,
    inputs: Sequence[str],
    created: datetime,
    software_version: str,
    config: FlareDetectionConfig | None = None,
) -> FlareListResult:
    """Write the monthly L3 flare list under ``L3/<YYYY>/<MM>/01/FLARELIST/`` (whole rewrite).

    Parameters
    ----------
    flares : the month's flares (peak in the month)
    month : any day of the month
    data_end : end of the last light-curve data used (UTC, timezone-aware)
    archive_root : archive root
    inputs : names of the L1 light-curve files (``PARENT``)
    created : timezone-aware creation time
    software_version : ``VERS_SW``
    config : the detection parameters (recorded in the header)
    """
    if created.tzinfo is None or data_end.tzinfo is None:
        raise ValueError("created and data_end must be timezone-aware")
    month = month.replace(day=1)
    name = flarelist_file_name(month, data_end.astimezone(UTC))
    path = Path(archive_root, "L3", f"{month:%Y}", f"{month:%m}", "01", "FLARELIST", name)
    begin = datetime(month.year, month.month, 1, tzinfo=UTC)
    cards = [
        ("FILENAME", name, "FITS filename"),
        ("PARENT", ";".join(sorted(inputs)), "Source files (L1 ql-lightcurve)"),
        ("DATE", _fits_time(created), "FITS file creation date in UTC"),
        ("LEVEL", "L3", "Processing level of the data"),
        ("ORIGIN", "STIX Team, FHNW", "FHNW"),
        ("CREATOR", "stix-assets", "FITS creation software"),
        ("VERS_SW", software_version, "Version of SW that provided FITS file"),
        ("VERSION", f"{FLARELIST_VERSION:02d}", "Version of data product"),
        ("OBSRVTRY", "Solar Orbiter", "Satellite name"),
        ("TELESCOP", "SOLO/STIX", "Telescope/Sensor name"),
        ("INSTRUME", "STIX", "Instrument name"),
        ("TIMESYS", "UTC", "System used for time keywords"),
        ("DATE-OBS", _fits_time(begin), "Start of the list period in UTC"),
        ("DATE-BEG", _fits_time(begin), "Start of the list period in UTC"),
        ("DATE-END", _fits_time(data_end), "End of the data used in UTC"),
        ("NFLARES", len(flares), "number of flares"),
        *((k, v, c) for k, v, c in (config or FlareDetectionConfig()).as_header()),
        ("HISTORY", "flares detected on the 4-10 keV QL light curve by stix-assets", ""),
    ]
    units = {"duration": "s", "lc_peak_4_10": "ct/s", "lc_bkg_4_10": "ct/s"}
    sha = write_fits(
        path, cards, [TableHdu("DATA", _table(flares), units)],
        checksum_comment=created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
    )  # fmt: skip
    logger.info("flare list written file=%s flares=%d", name, len(flares))
    return FlareListResult(path, month, len(flares), sha, tuple(sorted(inputs)))
