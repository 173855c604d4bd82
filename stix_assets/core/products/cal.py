"""Energy calibration of STIX calibration spectra: gain and offset per pixel from the Ba-133 lines.

Replaces STIXCore's CAL step (domain doc 4.6: the external ECC programs ``Bkg``/``ECC``/
``STX_Calib`` plus O. Limousin's post fit ``calibration/ecc_post_fit.py``) by numpy/scipy. The
input is one calibration spectrum: counts ``(32 detectors, 12 pixels, 1024 ADC channels)`` (the
onboard 4096-channel ADC read in steps of 4). Channel ``k`` holds the continuous ADC values
``[k, k + 1)`` and a photon of energy ``E`` lands at ``adc = offset + gain * E``.

Two stages, as in STIXCore, with the ECC configuration of STIX-CONF (``ecc/ecc_cfg_1``):

1. **ECC** (correlation calibration): for each pixel the (offset, gain) in the ``ECC.cfg``
   search box (offset 200-260 ADC, gain 2.2-2.5 ADC/keV; steps 1 and 0.01) that maximises the
   Pearson correlation between the observed spectrum and the synthetic Ba-133 spectrum
   ``SynSpec.dat`` (keV, 15-200 keV) mapped onto the ADC channels; then ``z_nbr`` zoom layers,
   each a 5 x 5 grid around the best point with half the step, down to ``p_*_difmin``. The best
   correlation is ``goc`` (ECC: "goodness of correlation"; its exact ECC definition is not public,
   ours is the Pearson coefficient over the channels the synthetic spectrum covers).
2. **Post fit**: in the energy frame of stage 1, the 81 keV line (Gaussian + line over
   80.5-90 keV, accepted when ``|centre - 81| < 1``) and the 31 keV Cs K-alpha doublet (Gaussian +
   quadratic over 30.2-33 and 40-45 keV, accepted when ``|centre - 31| < 1`` and 81 keV accepted).
   With ``E31 = (30.6254 * 33.8 + 30.9731 * 62.4) / (62.4 + 33.8)`` and ``E81 = 80.9979``:
   ``G' = (P81 - P31) / (E81 - E31)``, ``O' = P31 - G' * E31``; the corrected gain is
   ``gain_ecc * G'`` and the corrected offset ``gain_ecc * O' + offset_ecc`` where both lines were
   accepted, the stage-1 values elsewhere. FWHM = 2.35 sigma.

Differences from STIXCore (docs/decisions.md): the post fit runs on the ADC channel counts
(Poisson weights, bin centres ``k + 0.5`` mapped to keV) instead of STX_Calib's re-binned
energy spectrum divided by live time (positions are the same, errors are Poisson errors);
pixels without counts get NaN (STIXCore: whatever ECC returned); a per-pixel ``fit_ok`` flag is
kept. ``gain_range_ok`` follows STIXCore: False if any pixel outside the ignore lists of
``post_ecc.ini`` (``[detector 1-32, pixel 0-11]``) has ``G'`` outside ``[Min_Gain_Prime,
Max_Gain_Prime]`` (a failed line fit counts as ``G' = 0``) or a gain below ``Min_Gain``.
"""

import configparser
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from stix_assets.core.errors import ProductBuildError

__all__ = [
    "E31_KEV",
    "E81_KEV",
    "EccConfig",
    "SpectrumCalibration",
    "calibrate_spectrum",
    "ecc_config_dir",
    "read_ecc_config",
]

logger = logging.getLogger(__name__)

E81_KEV = 80.9979
E31_KEV = (30.6254 * 33.8 + 30.9731 * 62.4) / (62.4 + 33.8)
FWHM_PER_SIGMA = 2.35
N_DET, N_PIX, N_ADC = 32, 12, 1024
_ZOOM_HALF = 2  # zoom grids are (2 * _ZOOM_HALF + 1) points per parameter
_WINDOW_81 = ((80.5, 90.0),)
_WINDOW_31 = ((30.2, 33.0), (40.0, 45.0))


@dataclass(frozen=True, slots=True)
class EccConfig:
    """The ECC configuration of one STIX-CONF ``ecc/<name>`` folder.

    Attributes
    ----------
    name : folder name (``ecc_cfg_1``), written as ``ecc_config_name``
    offset_range, gain_range : search box, ``[min, max)`` (ADC channels, ADC channels per keV)
    offset_step, gain_step : initial grid spacing
    offset_step_min, gain_step_min : smallest zoom spacing
    zoom_layers : number of layers including the initial grid (``z_nbr``)
    synthetic_kev : bin centres of the synthetic spectrum (keV, equal spacing)
    synthetic : relative intensity per bin
    max_gain_prime, min_gain_prime, min_gain : ``post_ecc.ini`` limits
    ignore_max_gain_prime, ignore_min_gain_prime, ignore_min_gain : ``(detector 1-32, pixel)``
    """

    name: str
    offset_range: tuple[float, float]
    gain_range: tuple[float, float]
    offset_step: float
    gain_step: float
    offset_step_min: float
    gain_step_min: float
    zoom_layers: int
    synthetic_kev: NDArray[np.float64]
    synthetic: NDArray[np.float64]
    max_gain_prime: float = 1.4
    min_gain_prime: float = 0.4
    min_gain: float = 0.4
    ignore_max_gain_prime: frozenset[tuple[int, int]] = frozenset()
    ignore_min_gain_prime: frozenset[tuple[int, int]] = frozenset()
    ignore_min_gain: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True, slots=True)
class SpectrumCalibration:
    """Calibration of one spectrum; arrays are ``(32, 12)`` in 1024-channel ADC units.

    Attributes
    ----------
    offset, gain : corrected offset (ADC) and gain (ADC/keV): ``adc = offset + gain * E``
    offset_ecc, gain_ecc, goc : stage-1 (correlation) result and its correlation
    gain_prime : ``G'`` of the post fit (0 where it failed, as STIXCore)
    fit_ok : both lines accepted (the corrected values come from the post fit)
    errors : ``(4, 32, 12)`` err_P31, err_dE31, err_P81, err_dE81 (keV; 0 where not fitted)
    fwhm : ``(2, 32, 12)`` FWHM at 31 and 81 keV (keV; 0 where not fitted)
    gain_range_ok : the ``post_ecc.ini`` range check over pixels not on the ignore lists
    """

    offset: NDArray[np.float64]
    gain: NDArray[np.float64]
    offset_ecc: NDArray[np.float64]
    gain_ecc: NDArray[np.float64]
    goc: NDArray[np.float64]
    gain_prime: NDArray[np.float64]
    fit_ok: NDArray[np.bool_]
    errors: NDArray[np.float64]
    fwhm: NDArray[np.float64]
    gain_range_ok: bool

    def energy_edges(self, elut_adc_edges: NDArray) -> NDArray[np.float64]:
        """Actual energy edges (keV) of the science channels, ``(32, 12, 33)``.

        ``elut_adc_edges`` are the 31 onboard ELUT edges per pixel in 4096-channel ADC units;
        the result is padded with 0 in front and +inf at the end (STIXCore's ``e_edges_actual``).
        """
        offset4, gain4 = 4.0 * self.offset, 1.0 / (4.0 * self.gain)
        e = (np.asarray(elut_adc_edges, np.float64) - offset4[..., None]) * gain4[..., None]
        return np.pad(e, ((0, 0), (0, 0), (1, 1)), constant_values=(0.0, np.inf))


# -- configuration --------------------------------------------------------------------------------
def ecc_config_dir(conf_dir: Path | str, when: datetime) -> Path:
    """The ECC configuration folder valid at ``when`` (``ecc/ecc_conf_index.json``)."""
    index = Path(conf_dir) / "ecc" / "ecc_conf_index.json"
    if not index.is_file():
        raise ProductBuildError(f"STIX-CONF ECC index {index} is missing (needed for CAL)")
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    chosen = None
    for entry in json.loads(index.read_text(encoding="utf-8")):
        start, end = (datetime.fromisoformat(t) for t in entry["validityPeriodUTC"])
        if start <= when < end:
            chosen = index.parent / entry["configuration"]
    if chosen is None or not chosen.is_dir():
        raise ProductBuildError(
            f"STIX-CONF {index.name} has no ECC configuration for {when.isoformat()} ({index})"
        )
    return chosen


def _cfg_values(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"\s*(\w+)\s*=\s*([^#\s]+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _pairs(text: str) -> frozenset[tuple[int, int]]:
    return frozenset((int(d), int(p)) for d, p in json.loads(text))


def read_ecc_config(folder: Path | str) -> EccConfig:
    """Read ``ECC.cfg``, ``SynSpec.dat`` and ``post_ecc.ini`` of one ECC configuration folder."""
    folder = Path(folder)
    try:
        cfg = _cfg_values(folder / "ECC.cfg")
        names = {cfg[f"p_{p}_name"]: p for p in "abcdefgh" if f"p_{p}_name" in cfg}
        off, gain = names["offset"], names["gain"]
        synth = np.loadtxt(folder / cfg.get("f_syn", "SynSpec.dat"), comments="#", ndmin=2)
        post = configparser.ConfigParser()
        post.read(folder / "post_ecc.ini", encoding="utf-8")
        d = post["DEFAULT"]
        return EccConfig(
            name=folder.name,
            offset_range=(float(cfg[f"p_{off}_min"]), float(cfg[f"p_{off}_max"])),
            gain_range=(float(cfg[f"p_{gain}_min"]), float(cfg[f"p_{gain}_max"])),
            offset_step=float(cfg[f"p_{off}_dif"]),
            gain_step=float(cfg[f"p_{gain}_dif"]),
            offset_step_min=float(cfg[f"p_{off}_difmin"]),
            gain_step_min=float(cfg[f"p_{gain}_difmin"]),
            zoom_layers=int(cfg.get("z_nbr", "1")),
            synthetic_kev=synth[:, 0].astype(np.float64),
            synthetic=synth[:, 1].astype(np.float64),
            max_gain_prime=d.getfloat("Max_Gain_Prime", 1.4),
            min_gain_prime=d.getfloat("Min_Gain_Prime", 0.4),
            min_gain=d.getfloat("Min_Gain", 0.4),
            ignore_max_gain_prime=_pairs(d.get("Ignore_Max_Gain_Prime_Det_Pix_List", "[]")),
            ignore_min_gain_prime=_pairs(d.get("Ignore_Min_Gain_Prime_Det_Pix_List", "[]")),
            ignore_min_gain=_pairs(d.get("Ignore_Min_Gain_Det_Pix_List", "[]")),
        )
    except (OSError, KeyError, ValueError) as err:
        raise ProductBuildError(f"ECC configuration {folder} is incomplete: {err}") from err


# -- stage 1: correlation grid ------------------------------------------------------------------
def _synthetic_cumulative(config: EccConfig) -> tuple[NDArray, NDArray]:
    kev = config.synthetic_kev
    width = float(np.median(np.diff(kev)))
    edges = np.append(kev - width / 2, kev[-1] + width / 2)
    return edges, np.concatenate([[0.0], np.cumsum(config.synthetic)])


def _models(offset: NDArray, gain: NDArray, cum: tuple[NDArray, NDArray]) -> NDArray:
    """Synthetic counts per ADC channel for each (offset, gain): shape ``offset.shape + (1024,)``."""
    adc = np.arange(N_ADC + 1, dtype=np.float64)
    kev = (adc - offset[..., None]) / gain[..., None]
    return np.diff(np.interp(kev, cum[0], cum[1]), axis=-1)


def _dot(obs: NDArray, other: NDArray) -> NDArray:
    """Per-row products: obs ``(P, K)`` with ``(G, K)`` -> ``(P, G)``, with ``(P, G, K)`` -> same."""
    if other.ndim == 2:
        return obs @ other.T
    return np.matmul(other, obs[:, :, None])[..., 0]


def _pearson(obs: NDArray, model: NDArray, mask: NDArray) -> NDArray:
    """Pearson correlation of each observed row with each model over the masked channels."""
    n = mask.sum(axis=-1)
    s_o, s_oo, s_os = _dot(obs, mask), _dot(obs * obs, mask), _dot(obs, model)
    s_s, s_ss = model.sum(axis=-1), (model * model).sum(axis=-1)
    num = n * s_os - s_o * s_s
    den = (n * s_oo - s_o**2) * (n * s_ss - s_s**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.sqrt(np.where(den > 0, den, 1.0)), np.nan)


def _grid_search(obs: NDArray, config: EccConfig) -> tuple[NDArray, NDArray, NDArray]:
    """Stage 1: best (offset, gain, correlation) per spectrum row of ``obs`` ``(P, 1024)``."""
    cum = _synthetic_cumulative(config)
    lo_kev, hi_kev = cum[0][0], cum[0][-1]
    offs = np.arange(*config.offset_range, config.offset_step)
    gains = np.arange(*config.gain_range, config.gain_step)
    go, gg = (a.ravel() for a in np.meshgrid(offs, gains, indexing="ij"))
    centre = np.arange(N_ADC) + 0.5

    def mask_of(o: NDArray, g: NDArray) -> NDArray:
        kev = (centre - o[..., None]) / g[..., None]
        return ((kev >= lo_kev) & (kev < hi_kev)).astype(np.float64)

    r = _pearson(obs, _models(go, gg, cum), mask_of(go, gg))
    best = np.nanargmax(np.where(np.isnan(r), -np.inf, r), axis=1)
    off, gain, goc = go[best], gg[best], r[np.arange(len(obs)), best]
    d_off, d_gain = config.offset_step, config.gain_step
    steps = np.arange(-_ZOOM_HALF, _ZOOM_HALF + 1, dtype=np.float64)
    for _layer in range(1, config.zoom_layers):
        d_off = max(d_off / 2, config.offset_step_min)
        d_gain = max(d_gain / 2, config.gain_step_min)
        zo = (off[:, None, None] + steps[None, :, None] * d_off).repeat(len(steps), 2)
        zg = (gain[:, None, None] + steps[None, None, :] * d_gain).repeat(len(steps), 1)
        zo, zg = zo.reshape(len(obs), -1), zg.reshape(len(obs), -1)
        r = _pearson(obs, _models(zo, zg, cum), mask_of(zo, zg))
        best = np.argmax(np.where(np.isnan(r), -np.inf, r), axis=1)
        rows = np.arange(len(obs))
        better = r[rows, best] > np.nan_to_num(goc, nan=-np.inf)
        off = np.where(better, zo[rows, best], off)
        gain = np.where(better, zg[rows, best], gain)
        goc = np.where(better, r[rows, best], goc)
    return off, gain, goc


# -- stage 2: line fits -------------------------------------------------------------------------
def _line_model(p: NDArray, x: NDArray) -> NDArray:
    amp, cen, wid = p[:3]
    return amp * np.exp(-((x - cen) ** 2) / (2 * wid**2)) + np.polyval(p[3:][::-1], x)


def _line_jac(p: NDArray, x: NDArray) -> NDArray:
    amp, cen, wid = p[:3]
    g = np.exp(-((x - cen) ** 2) / (2 * wid**2))
    cols = [g, amp * g * (x - cen) / wid**2, amp * g * (x - cen) ** 2 / wid**3]
    cols.extend(x**k for k in range(len(p) - 3))
    return np.stack(cols, axis=1)


def _fit_line(
    kev: NDArray, counts: NDArray, windows: tuple[tuple[float, float], ...], centre: float,
    width: float, n_poly: int,
) -> tuple[float, float, float, float] | None:  # fmt: skip
    """Gaussian + polynomial fit; (centre, err, sigma, err) in keV or None when not accepted."""
    sel = np.zeros(len(kev), dtype=bool)
    for lo, hi in windows:
        sel |= (kev > lo) & (kev < hi)
    x, y = kev[sel], counts[sel]
    if len(x) <= 3 + n_poly or y.max() <= 0:
        return None
    sigma = np.sqrt(np.maximum(y, 1.0))
    near = np.abs(x - centre) < 2 * width
    amp0 = float(y[near].max()) if near.any() else float(y.max())
    p0 = np.array([amp0, centre, width, *([float(np.median(y))] + [0.0] * (n_poly - 1))])
    fit = least_squares(
        lambda p: (_line_model(p, x) - y) / sigma,
        p0,
        jac=lambda p: _line_jac(p, x) / sigma[:, None],
        method="lm",
        x_scale="jac",
    )
    if not fit.success:
        return None
    jtj = fit.jac.T @ fit.jac
    if np.linalg.matrix_rank(jtj) < len(p0):
        return None
    cov = np.linalg.inv(jtj) * max(2 * fit.cost / max(len(x) - len(p0), 1), 1.0)
    err = np.sqrt(np.clip(np.diag(cov), 0, None))
    cen, wid = float(fit.x[1]), abs(float(fit.x[2]))
    if not (np.isfinite(err[1]) and np.isfinite(err[2]) and fit.x[0] > 0):
        return None
    return cen, float(err[1]), wid, float(err[2])


def _post_fit(kev: NDArray, counts: NDArray) -> tuple[NDArray, bool]:
    """P31, err_P31, FWHM31, err, P81, err, FWHM81, err (keV, 0 if failed) and both-ok flag."""
    out = np.zeros(8)
    l81 = _fit_line(kev, counts, _WINDOW_81, 81.0, 0.5, 2)
    if l81 is None or abs(l81[0] - 81.0) >= 1.0:
        return out, False
    l31 = _fit_line(kev, counts, _WINDOW_31, E31_KEV, 0.4, 3)
    if l31 is None or abs(l31[0] - 31.0) >= 1.0:
        return out, False
    for i, (cen, e_cen, wid, e_wid) in enumerate((l31, l81)):
        out[4 * i : 4 * i + 4] = (cen, e_cen, wid * FWHM_PER_SIGMA, e_wid * FWHM_PER_SIGMA)
    return out, True


def _range_ok(gain_prime: NDArray, gain: NDArray, config: EccConfig) -> bool:
    det, pix = np.meshgrid(np.arange(1, N_DET + 1), np.arange(N_PIX), indexing="ij")
    checks = (
        (gain_prime > config.max_gain_prime, config.ignore_max_gain_prime),
        (gain_prime < config.min_gain_prime, config.ignore_min_gain_prime),
        (gain < config.min_gain, config.ignore_min_gain),
    )
    ok = True
    for bad, ignore in checks:
        for d, p in zip(det[bad].tolist(), pix[bad].tolist(), strict=True):
            if (d, p) not in ignore:
                ok = False
    return ok


def calibrate_spectrum(counts: NDArray, config: EccConfig) -> SpectrumCalibration:
    """Gain and offset per pixel of one calibration spectrum (see the module docstring).

    Parameters
    ----------
    counts : ``(32, 12, 1024)`` counts per detector, pixel and ADC channel
    config : the ECC configuration (`read_ecc_config`)

    Returns
    -------
    SpectrumCalibration

    Raises
    ------
    ProductBuildError
        If ``counts`` does not have the shape ``(32, 12, 1024)``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (N_DET, N_PIX, N_ADC):
        raise ProductBuildError(f"calibration spectrum of shape {counts.shape}, not (32, 12, 1024)")
    obs = counts.reshape(-1, N_ADC)
    has = obs.sum(axis=1) > 0
    off_e, gain_e, goc = np.full((3, len(obs)), np.nan)
    if has.any():
        off_e[has], gain_e[has], goc[has] = _grid_search(obs[has], config)
    post = np.zeros((len(obs), 8))
    ok = np.zeros(len(obs), dtype=bool)
    centre = np.arange(N_ADC) + 0.5
    for i in np.flatnonzero(has & np.isfinite(goc)):
        post[i], ok[i] = _post_fit((centre - off_e[i]) / gain_e[i], obs[i])
    p31, p81 = post[:, 0], post[:, 4]
    g_prime = np.where(ok, (p81 - p31) / (E81_KEV - E31_KEV), 0.0)
    o_prime = p31 - g_prime * E31_KEV
    gain = np.where(ok, gain_e * g_prime, gain_e)
    offset = np.where(ok, gain_e * o_prime + off_e, off_e)
    shape = (N_DET, N_PIX)
    gp = g_prime.reshape(shape)
    logger.debug("cal fit pixels=%d fitted=%d", int(has.sum()), int(ok.sum()))
    return SpectrumCalibration(
        offset=offset.reshape(shape),
        gain=gain.reshape(shape),
        offset_ecc=off_e.reshape(shape),
        gain_ecc=gain_e.reshape(shape),
        goc=goc.reshape(shape),
        gain_prime=gp,
        fit_ok=ok.reshape(shape),
        errors=post[:, [1, 3, 5, 7]].T.reshape(4, *shape),
        fwhm=post[:, [2, 6]].T.reshape(2, *shape),
        gain_range_ok=_range_ok(gp, gain.reshape(shape), config),
    )
