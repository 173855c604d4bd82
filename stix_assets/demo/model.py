"""Physical model of the demo instrument: count rates per science energy channel over time.

Three components, all in counts per second summed over the 30 imaging detectors, per STIX science
channel (32 channels, edges `CHANNEL_EDGES_KEV`):

* background: a flat continuum plus the calibration-source lines at 31 and 81 keV, with a slow
  +-3 % daily modulation;
* quiet Sun: a cool (0.8 keV) thermal spectrum at a low level;
* one M-class-like flare: a thermal component whose emission measure rises in ~10 min (Gaussian
  rise) and decays exponentially (~40 min), with a temperature that peaks two minutes earlier and
  decays faster, so higher energies peak earlier and decay faster (strongest at low energies);
  plus a non-thermal power-law component (index 3.5) made of impulsive spikes (8-40 s wide)
  during the rise only.

The attenuator (RCR >= 1) multiplies the solar components by a transmission that removes almost
everything below ~8 keV and little above 25 keV. It is inserted when the unattenuated 4-10 keV rate
exceeds `ATT_IN_RATE` and removed when it falls below `ATT_OUT_RATE` (after at least two minutes).
"""

import itertools
import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ATT_IN_RATE",
    "ATT_OUT_RATE",
    "CHANNEL_EDGES_KEV",
    "QL_EDGES",
    "FlareModel",
    "InstrumentRates",
    "band_sums",
    "simulate_rates",
    "transmission",
]

logger = logging.getLogger(__name__)

CHANNEL_EDGES_KEV = np.array(
    [
        0,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15,
        16,
        18,
        20,
        22,
        25,
        28,
        32,
        36,
        40,
        45,
        50,
        56,
        63,
        70,
        76,
        84,
        100,
        120,
        150,
        250,
    ],
    dtype=np.float64,
)  # fmt: skip  (the last edge is open-ended on board; 250 keV closes it for the model)
QL_EDGES = (1, 7, 12, 17, 23, 28)  # 4, 10, 15, 25, 50, 84 keV
ATT_IN_RATE = 6.0e4
ATT_OUT_RATE = 2.0e4
_ATT_MIN_DWELL_S = 120.0


@dataclass(frozen=True, slots=True)
class FlareModel:
    """Parameters of the simulated flare (times in s from the simulation start)."""

    peak_s: float
    rise_sigma_s: float = 300.0
    decay_s: float = 2400.0
    peak_rate_4_10: float = 1.5e5  # unattenuated counts/s in 4-10 keV at the peak
    kt_quiet_kev: float = 0.9
    kt_peak_kev: float = 2.2
    n_spikes: int = 14
    nonthermal_rate_25_50: float = 4.0e3


@dataclass(frozen=True, slots=True)
class InstrumentRates:
    """Count rates on a time grid: ``solar`` (unattenuated) and ``background``, shape (n, 32)."""

    t_s: NDArray[np.float64]
    solar: NDArray[np.float64]
    background: NDArray[np.float64]
    rcr: NDArray[np.int64]
    thermal_4_10: NDArray[np.float64]
    nonthermal: NDArray[np.float64]

    def observed(self) -> NDArray[np.float64]:
        """Rates the detectors see: attenuated solar part where RCR >= 1, plus background."""
        att = np.where(self.rcr[:, None] >= 1, transmission()[None, :], 1.0)
        return self.solar * att + self.background


def _centres() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lo, hi = CHANNEL_EDGES_KEV[:-1], CHANNEL_EDGES_KEV[1:]
    return 0.5 * (lo + hi), hi - lo


def _efficiency(e_kev: NDArray[np.float64]) -> NDArray[np.float64]:
    """Entrance-window cut-off at low energy and CdTe thickness at high energy."""
    return np.exp(-((4.5 / e_kev) ** 3)) * np.exp(-e_kev / 150.0)


def transmission() -> NDArray[np.float64]:
    """Attenuator transmission per channel (an 0.6 mm Al-like cut-off)."""
    e, _ = _centres()
    return np.exp(-((13.9 / e) ** 3))


def _thermal(kt: NDArray[np.float64]) -> NDArray[np.float64]:
    """Thermal spectrum shape (counts/s per channel, arbitrary norm), shape (n, 32)."""
    e, de = _centres()
    shape = np.exp(-e[None, :] / kt[:, None]) / e[None, :] * de[None, :] * _efficiency(e)[None, :]
    shape[:, 0] = 0.0  # channel 0 (below 4 keV) is not solar signal
    return shape


def band_sums(rates: NDArray[np.float64], edges: tuple[int, ...] = QL_EDGES) -> NDArray[np.float64]:
    """Sum channel rates into the bands between consecutive edge indices, shape (n, bands)."""
    return np.stack([rates[:, a:b].sum(axis=1) for a, b in itertools.pairwise(edges)], axis=1)


def _profile(t: NDArray[np.float64], peak: float, rise: float, decay: float) -> NDArray[np.float64]:
    before = np.exp(-0.5 * ((t - peak) / rise) ** 2)
    after = np.exp(-(t - peak) / decay)
    return np.where(t < peak, before, after)


def _rcr(low_rate: NDArray[np.float64], dt: float) -> NDArray[np.int64]:
    rcr = np.zeros(len(low_rate), np.int64)
    state, since = 0, 0.0
    for i in np.flatnonzero(low_rate > ATT_OUT_RATE * 0.5):
        since += dt
        if state == 0 and low_rate[i] > ATT_IN_RATE:
            state, since = 1, 0.0
        elif state == 1 and low_rate[i] < ATT_OUT_RATE and since >= _ATT_MIN_DWELL_S:
            state = 0
        rcr[i] = state
    return rcr


def simulate_rates(
    t_s: NDArray[np.float64], flare: FlareModel, rng: np.random.Generator
) -> InstrumentRates:
    """Count rates per channel on the time grid ``t_s`` (seconds from the simulation start).

    Parameters
    ----------
    t_s : equally spaced times (bin starts), s
    flare : the flare parameters
    rng : random generator (spike times, widths and amplitudes)
    """
    e, de = _centres()
    eff = _efficiency(e)
    # background: continuum + calibration lines (31 keV in channel 18, 81 keV in channel 27)
    bkg = 0.9 * de * eff
    bkg[18] += 30.0
    bkg[27] += 22.0
    bkg[0] = 40.0
    background = bkg[None, :] * (1.0 + 0.03 * np.sin(2 * np.pi * t_s / 86400.0))[:, None]

    em = _profile(t_s, flare.peak_s, flare.rise_sigma_s, flare.decay_s)
    kt_shape = _profile(t_s, flare.peak_s - 120.0, 0.8 * flare.rise_sigma_s, 0.5 * flare.decay_s)
    kt = flare.kt_quiet_kev + (flare.kt_peak_kev - flare.kt_quiet_kev) * kt_shape
    shape = _thermal(kt)
    ref = _thermal(np.array([flare.kt_peak_kev]))[0, 1:7].sum()
    thermal = flare.peak_rate_4_10 * em[:, None] * shape / ref
    quiet = (
        60.0
        * _thermal(np.full(len(t_s), flare.kt_quiet_kev))
        / _thermal(np.array([flare.kt_quiet_kev]))[0, 1:7].sum()
    )

    spikes = np.zeros(len(t_s))
    centres = rng.uniform(flare.peak_s - 720.0, flare.peak_s - 30.0, flare.n_spikes)
    widths = rng.uniform(8.0, 40.0, flare.n_spikes)
    amps = rng.lognormal(0.0, 0.6, flare.n_spikes)
    for c, w, a in zip(centres, widths, amps, strict=True):
        spikes += a * np.exp(-0.5 * ((t_s - c) / w) ** 2)
    spikes *= 1.0 / max(amps.max(), 1e-9)
    nt_shape = e**-3.5 * de * eff
    nt_shape[0] = 0.0
    nt_shape /= nt_shape[17:23].sum()
    nonthermal = flare.nonthermal_rate_25_50 * spikes[:, None] * nt_shape[None, :]

    solar = thermal + quiet + nonthermal
    low = solar[:, 1:7].sum(axis=1)
    dt = float(t_s[1] - t_s[0]) if len(t_s) > 1 else 4.0
    return InstrumentRates(
        t_s=t_s,
        solar=solar,
        background=background,
        rcr=_rcr(low, dt),
        thermal_4_10=thermal[:, 1:7].sum(axis=1),
        nonthermal=nonthermal[:, 17:23].sum(axis=1),
    )
