"""Housekeeping model of the demo instrument (3/25 SID 1 mini, SID 2 maxi).

The raw baseline values are those of two real in-flight HK packets (kit ``tm/hex/3_25_1.hex`` and
``3_25_2.hex``, IDB 2.26.34), so the IDB calibrations (CIXP0024TM temperature curve, the current
and voltage curves) turn them into plausible engineering values by construction. On top of that
the demo adds a slow thermal swing of the temperature sensors, small noise on currents and
voltages, running counters, and the attenuator flags and motion counter driven by the RCR.
"""

import logging

import numpy as np
from numpy.typing import NDArray

__all__ = ["HK_MAXI_BASE", "HK_MINI_BASE", "hk_values"]

logger = logging.getLogger(__name__)

HK_MINI_BASE: dict[str, int] = {
    "NIX00020": 1, "NIXD0021": 1, "NIXD0022": 1, "NIXD0023": 1, "NIXD0025": 3013,
    "NIXD0026": 2849, "NIXD0027": 835, "NIXD0028": 12, "NIXD0029": 738, "NIXD0030": 2165,
    "NIXD0031": 3231, "NIXD0032": 3213, "NIXD0001": 179, "NIXD0002": 1, "NIXD0166": 1,
    "NIXD0167": 0, "NIXD0003": 0, "NIXD0004": 0, "NIXD0005": 0, "NIXD0169": 1, "NIXD0168": 0,
    "NIXD0079": 1, "NIXD0078": 0, "NIXD0035": 2123, "NIXD0036": 3414, "NIXD0037": 3984,
    "NIXD0024": 2995, "NIX00085": 1835020, "NIX00161": 63495, "NIX00162": 255, "NIXD0163": 0,
    "NIXD0164": 0, "NIXD0165": 63, "NIX00166": 1, "NIX00167": 62, "NIX00168": 0,
}  # fmt: skip

HK_MAXI_BASE: dict[str, int] = {
    "NIX00020": 2, "NIXD0021": 0, "NIXD0022": 1, "NIXD0023": 2, "NIXD0025": 2892,
    "NIXD0026": 2674, "NIXD0027": 1146, "NIXD0028": 12, "NIXD0029": 676, "NIXD0030": 2204,
    "NIXD0031": 3229, "NIXD0032": 3209, "NIXD0038": 3118, "NIXD0039": 3118, "NIXD0040": 3160,
    "NIXD0041": 3148, "NIXD0042": 3002, "NIXD0043": 3002, "NIXD0044": 3124, "NIXD0045": 3125,
    "NIXD0046": 3125, "NIXD0047": 3125, "NIXD0048": 1792, "NIXD0049": 1786, "NIXD0050": 2310,
    "NIXD0051": 3199, "NIXD0052": 17, "NIXD0053": 18, "NIXD0054": 3960, "NIXD0055": 3959,
    "NIXD0056": 3961, "NIXD0057": 3960, "NIXD0035": 2125, "NIXD0036": 3414, "NIXD0037": 3982,
    "NIXD0024": 2886, "NIXD0001": 179, "NIXD0002": 0, "NIXD0166": 0, "NIXD0167": 0,
    "NIXD0003": 150, "NIXD0004": 0, "NIXD0005": 0, "NIXD0169": 1, "NIXD0168": 0,
    "NIXD0079": 52151, "NIXD0078": 0, "NIXD0070": 4294967295, "NIXG0070": 4294967295,
    "NIXD0080": 1, "NIXD0081": 1, "NIXD0082": 0, "NIXD0083": 0, "NIXD0084": 0, "NIXD0085": 0,
    "NIXD0086": 1, "NIXD0087": 1, "NIXD0088": 0, "NIXD0089": 0, "NIXD0090": 0, "NIXD0091": 0,
    "NIXD0092": 0, "NIXD0066": 0, "NIXD0067": 0, "NIXD0068": 1, "NIXD0069": 0, "NIX00072": 0,
    "NIX00073": 0, "NIXD0074": 0, "NIXD0077": 5143, "NIX00076": 0, "NIX00078": 1272,
    "NIX00079": 1279, "NIX00080": 1246, "NIX00081": 1264, "NIX00094": 0, "NIXD0075": 18,
    "NIXD0058": 19, "NIX00085": 201036,
}  # fmt: skip

# temperature sensors (raw, CIXP0024TM-like curves: higher raw = colder)
_TEMPERATURES = (
    "NIXD0024", "NIXD0025", "NIXD0026", "NIXD0040", "NIXD0041", "NIXD0042", "NIXD0043",
    "NIXD0044", "NIXD0045", "NIXD0046", "NIXD0047", "NIXD0051", "NIXD0054", "NIXD0055",
    "NIXD0056", "NIXD0057",
)  # fmt: skip
_ANALOG = ("NIXD0027", "NIXD0029", "NIXD0030", "NIXD0031", "NIXD0032", "NIXD0035", "NIXD0037")
_PHOTODIODES = ("NIX00078", "NIX00079", "NIX00080", "NIX00081")
_WIDTH_12 = 4095


def hk_values(
    base: dict[str, int],
    t_s: NDArray[np.float64],
    rcr: NDArray[np.int64],
    sun_factor: NDArray[np.float64],
    rng: np.random.Generator,
) -> list[dict[str, int]]:
    """Raw parameter values of one HK stream (mini or maxi), one mapping per report.

    Parameters
    ----------
    base : `HK_MINI_BASE` or `HK_MAXI_BASE`
    t_s : report times, seconds since the start of the simulation
    rcr : rate control regime at each report (attenuator in when >= 1)
    sun_factor : relative solar irradiance at each report (1 at 1 AU scaled to the orbit)
    rng : the simulation's random generator
    """
    n = len(t_s)
    cols: dict[str, NDArray[np.int64]] = {k: np.full(n, v, np.int64) for k, v in base.items()}
    swing = np.sin(2 * np.pi * t_s / 86400.0)
    for name in _TEMPERATURES:
        if name in cols:
            # detectors (raw ~3960) swing less than the electronics
            amp = 6.0 if cols[name][0] > 3900 else 25.0
            cols[name] = cols[name] - np.rint(amp * swing + rng.normal(0, 2, n)).astype(np.int64)
    for name in _ANALOG:
        if name in cols:
            cols[name] = cols[name] + rng.integers(-3, 4, n)
    for name in _PHOTODIODES:
        if name in cols:
            cols[name] = np.rint(cols[name] * sun_factor + rng.normal(0, 2, n)).astype(np.int64)
    _counters(cols, rcr, n, rng)
    for name in _TEMPERATURES + _ANALOG:
        if name in cols:
            cols[name] = np.clip(cols[name], 0, _WIDTH_12)
    names = list(cols)
    matrix = np.stack([cols[k] for k in names], axis=1).tolist()
    return [dict(zip(names, row, strict=True)) for row in matrix]


def _counters(
    cols: dict[str, NDArray[np.int64]], rcr: NDArray[np.int64], n: int, rng: np.random.Generator
) -> None:
    """Attenuator flags and motions from the RCR, running packet counters, CPU load."""
    att_in = rcr >= 1
    if "NIXD0068" in cols:
        cols["NIXD0068"] = (~att_in).astype(np.int64)
        cols["NIXD0069"] = att_in.astype(np.int64)
        moves = np.concatenate([[0], np.cumsum(np.diff(att_in.astype(np.int64)) != 0)])
        cols["NIX00076"] = moves.astype(np.int64)
    if "NIX00167" in cols:
        cols["NIX00167"] = (cols["NIX00167"] + np.arange(n) * 37) % 65536
    if "NIXD0079" in cols:
        cols["NIXD0079"] = (cols["NIXD0079"] + np.arange(n) * 120) % 65536
    if "NIXD0002" in cols:
        cols["NIXD0002"] = rng.integers(1, 4, n)
