"""The aspect solution: where the Sun centre is, from the four SAS photodiode currents.

Method (facts read from STX-GSW ``stix/idl/processing/aspect``, own code):

1. **Calibration** (`calibrate_diodes`). Each L1 voltage becomes a current
   (`stix_assets.core.aspect.optics`), then ``(i - bias) / gain`` with the diode calibration of
   `stix_assets.core.aspect.params`.
2. **Report checks** (`solve_aspect`). Spacing not 64 s +- 0.5 s: ``SAS_DATA_WRONG_DURATION``; no
   SPICE radius: ``NO_SPICE``; image radius below 3.28 mm: ``SUN_TOO_FAR``; limb beyond the
   outermost apertures: ``SUN_TOO_BIG``; without the SAS parameter files: ``NO_SAS_PARAMS``;
   a non-positive current: ``BAD_SIGNAL``.
3. **Signals** (`arm_signals`). The signal of an aperture is the radial profile integrated over its
   disc in STX-GSW's 1-D approximation (``stx_sim_sas_signal_ap_circ_1d``): along the line from
   the image centre through the aperture centre, the chord length of the disc times the profile
   at that distance. An arm's signal is the sum over its apertures.
4. **Inversion.** The image position ``(x, y)`` in the SAS frame solves
   ``(A-B)/(A+B) = model`` and ``(C-D)/(C+D) = model`` by Gauss-Newton, all reports at once; no convergence within ``MAX_OFFSET_M``: ``NO_ASPECT_SOL``. STX-GSW instead
   looks up the differences ``A-B``, ``C-D`` (nA) in a pre-computed table (``SAS_simu.sav``), after
   fitting a common scale of the four currents to that table (``stx_auto_scale_sas_data``).
   Normalised differences do not depend on that common scale, so neither the table nor the
   scaling step is needed here; the two methods agree where the model does (docs/decisions.md).
5. **Frames.** As STX-GSW: ``y_srf = y * 0.375e6``, ``z_srf = x * 0.375e6`` (arcsec).
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.aspect.optics import SAS_OPTICS, SasOptics, solar_profile
from stix_assets.core.aspect.params import SasParams

__all__ = [
    "MAX_OFFSET_M",
    "AspectSolution",
    "arm_signals",
    "calibrate_diodes",
    "solve_aspect",
]

MAX_OFFSET_M = 1.5e-3
"""Largest image offset accepted as a solution (about 560 arcsec, far beyond any pointing)."""

_CHORD_SAMPLES = 15
_CONVERGED_M = 1e-10  # Gauss-Newton stops when every step is below this (0.04 milli-arcsec)


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


def calibrate_diodes(
    volts: NDArray, params: SasParams | None, optics: SasOptics = SAS_OPTICS
) -> NDArray[np.float64]:
    """Photodiode currents (A), shape (n, 4), from the four L1 voltages (V), shape (n, 4).

    Without ``params`` the currents are not bias-corrected (and are not used for a solution).
    """
    current = (
        np.asarray(volts, np.float64) / optics.adc_divisor - optics.v_base_v
    ) / optics.r_m_ohm
    if params is None:
        return current
    return (current - params.bias_a) / params.gain


def _profile_table(rsol_m: NDArray, optics: SasOptics) -> tuple[NDArray, NDArray]:
    """Profiles of the distinct image radii (rounded to 1 um) as one zero-padded table.

    Returns ``(table, row)``: ``table[k]`` is the profile of the k-th distinct radius on the grid
    ``i * profile_step_m``, ``row[j]`` the table row of report j.
    """
    keys, row = np.unique(np.round(np.asarray(rsol_m, np.float64) * 1e6).astype(np.int64),
                          return_inverse=True)  # fmt: skip
    profiles = [solar_profile(int(k), optics) for k in keys]
    table = np.zeros((len(keys), max(len(p) for p in profiles) + 1))
    for k, prof in enumerate(profiles):
        table[k, : len(prof)] = prof
    return table, row.ravel()


def arm_signals(
    x_m: NDArray,
    y_m: NDArray,
    rsol_m: float | NDArray,
    params: SasParams,
    optics: SasOptics = SAS_OPTICS,
) -> NDArray[np.float64]:
    """Relative signals of arms A, B, C, D, shape (n, 4), for image positions and radii (m).

    ``rsol_m`` is one radius for all positions or one per position.
    """
    x_m = np.asarray(x_m, np.float64)
    profiles = _profile_table(np.broadcast_to(rsol_m, x_m.shape), optics)
    return _signals(x_m, np.asarray(y_m, np.float64), profiles, params, optics)


def _signals(
    x_m: NDArray,
    y_m: NDArray,
    profiles: tuple[NDArray, NDArray],
    params: SasParams,
    optics: SasOptics,
) -> NDArray[np.float64]:
    table, row = profiles
    last = table.shape[1] - 2
    frac = np.linspace(-0.5, 0.5, _CHORD_SAMPLES)
    out = np.empty((len(x_m), 4))
    for k, arm in enumerate(params.arms):
        t = arm.diameter_m[:, None] * frac[None, :]  # (n_ap, samples) along the radial line
        half = arm.diameter_m[:, None] / 2
        chord = 2.0 * np.sqrt(np.clip(half**2 - t**2, 0.0, None)) * (t[:, 1:2] - t[:, 0:1])
        rho = np.hypot(arm.x_m[None, :] - x_m[:, None], arm.y_m[None, :] - y_m[:, None])
        pos = np.abs(rho[:, :, None] + t[None, :, :]) / optics.profile_step_m
        i0 = np.floor(pos).astype(np.int64)
        w = pos - i0
        outside = i0 > last  # beyond the profile: no light (the table ends in zeros)
        i0 = np.minimum(i0, last)
        prof = table[row[:, None, None], i0]
        values = np.where(outside, 0.0, prof + w * (table[row[:, None, None], i0 + 1] - prof))
        out[:, k] = (values * chord[None, :, :]).sum(axis=(1, 2))
    return out


def _normalised(signals: NDArray) -> NDArray[np.float64]:
    a, b, c, d = signals.T
    return np.stack([(a - b) / (a + b), (c - d) / (c + d)], axis=1)


def _solve(obs: NDArray, rsol_m: NDArray, params: SasParams, optics: SasOptics) -> NDArray:
    """Gauss-Newton for (x, y) of all reports at once; NaN where it fails."""
    pos = np.zeros((len(obs), 2))
    h = 1e-6
    profiles = _profile_table(rsol_m, optics)  # once: the radii do not change while solving

    def residual(p: NDArray) -> NDArray:
        return _normalised(_signals(p[:, 0], p[:, 1], profiles, params, optics)) - obs

    for _ in range(15):
        f0 = residual(pos)
        fx = residual(pos + np.array([h, 0.0]))
        fy = residual(pos + np.array([0.0, h]))
        jac = np.stack([(fx - f0) / h, (fy - f0) / h], axis=2)  # (n, residual, unknown)
        det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
        det = np.where(np.abs(det) > 1e-12, det, np.nan)
        dx = (jac[:, 1, 1] * f0[:, 0] - jac[:, 0, 1] * f0[:, 1]) / det
        dy = (-jac[:, 1, 0] * f0[:, 0] + jac[:, 0, 0] * f0[:, 1]) / det
        step = np.clip(np.stack([dx, dy], axis=1), -2e-4, 2e-4)
        pos = np.clip(pos - step, -2 * MAX_OFFSET_M, 2 * MAX_OFFSET_M)
        if np.all(np.abs(np.nan_to_num(step, nan=1.0)) < _CONVERGED_M):
            break
    resid = residual(np.nan_to_num(pos))
    bad = ~np.all(np.isfinite(pos), axis=1) | (np.abs(resid).max(axis=1) > 1e-5)
    bad |= np.abs(pos).max(axis=1) > MAX_OFFSET_M
    pos[bad] = np.nan
    return pos


def _report_errors(
    currents: NDArray,
    rsol: NDArray,
    duration_s: NDArray,
    params: SasParams | None,
    optics: SasOptics,
) -> NDArray[np.str_]:
    error = np.full(len(currents), "", dtype="<U24")

    def flag(mask: NDArray, text: str) -> None:
        error[(error == "") & mask] = text

    flag(np.abs(np.asarray(duration_s) - optics.cadence_s) >= optics.cadence_tol_s,
         "SAS_DATA_WRONG_DURATION")  # fmt: skip
    flag(~np.isfinite(rsol), "NO_SPICE")
    flag(rsol < optics.rsol_min_m, "SUN_TOO_FAR")
    if params is None:
        flag(np.ones(len(error), bool), "NO_SAS_PARAMS")
        return error
    flag(rsol > params.rsol_max_m, "SUN_TOO_BIG")
    flag(~np.all(np.isfinite(currents) & (currents > 0), axis=1), "BAD_SIGNAL")
    return error


def solve_aspect(
    currents: NDArray,
    disc_size_arcsec: NDArray,
    duration_s: NDArray,
    params: SasParams | None,
    optics: SasOptics = SAS_OPTICS,
) -> AspectSolution:
    """The aspect solution (module docstring, steps 2-5) of calibrated diode currents.

    Parameters
    ----------
    currents : (n, 4) currents of A, B, C, D (``photoa0, photoa1, photob0, photob1``), any scale
    disc_size_arcsec : apparent solar radius per report (NaN without SPICE)
    duration_s : spacing of the reports (s)
    params : aperture plate and diode calibration; ``None`` when not available
    """
    currents = np.asarray(currents, np.float64)
    rsol = optics.image_radius_m(disc_size_arcsec)
    error = _report_errors(currents, rsol, duration_s, params, optics)
    pos = np.full((len(currents), 2), np.nan)
    todo = np.flatnonzero(error == "")
    if params is not None and len(todo):
        pos[todo] = _solve(_normalised(currents[todo]), rsol[todo], params, optics)
    error[(error == "") & ~np.all(np.isfinite(pos), axis=1)] = "NO_ASPECT_SOL"
    return AspectSolution(pos[:, 1] * optics.arcsec_per_m, pos[:, 0] * optics.arcsec_per_m, error)
