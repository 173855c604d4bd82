"""The aspect solution: round trips through the optical model, calibration and report errors."""

import numpy as np
import pytest

from stix_assets.core.aspect import (
    SAS_OPTICS,
    arm_signals,
    calibrate_diodes,
    load_sas_params,
    solve_aspect,
)
from stix_assets.core.aspect.optics import ARCSEC_PER_RAD


def _disc(rsol_m: float) -> float:
    return rsol_m / SAS_OPTICS.focal_length_m * ARCSEC_PER_RAD


@pytest.mark.parametrize("rsol_m", [3.5e-3, 6.0e-3, 9.0e-3])  # ~0.7, 0.45, 0.3 AU
def test_inversion_recovers_offsets(sas_param_dir, rsol_m):
    params = load_sas_params(sas_param_dir)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-5e-4, 5e-4, 20), rng.uniform(-5e-4, 5e-4, 20)
    signals = arm_signals(x, y, rsol_m, params) * 2.5e-7  # any common scale
    sol = solve_aspect(signals, np.full(20, _disc(rsol_m)), np.full(20, 64.0), params)
    assert sol.sas_ok.all()
    np.testing.assert_allclose(sol.y_srf, y * 0.375e6, atol=0.5)  # arcsec
    np.testing.assert_allclose(sol.z_srf, x * 0.375e6, atol=0.5)


def test_arms_respond_to_offsets(sas_param_dir):
    params = load_sas_params(sas_param_dir)
    centred, shifted = arm_signals(np.array([0.0, 2e-4]), np.array([0.0, 2e-4]), 5e-3, params)
    a, b, c, d = centred
    assert a == pytest.approx(b)
    assert c == pytest.approx(d)
    # the image moves towards (+x, +y), where arm B's apertures are seen (-apxtab): B brightens
    assert shifted[1] > b
    assert shifted[0] < a
    assert shifted[2] == pytest.approx(shifted[3], rel=1e-6)  # C, D lie across the motion


def test_calibration_from_volts(sas_param_dir):
    params = load_sas_params(sas_param_dir)
    currents = np.array([[40e-9, 42e-9, 39e-9, 41e-9]])
    volts = 16 * ((currents * params.gain + params.bias_a) * 51100 + 0.06018)
    np.testing.assert_allclose(calibrate_diodes(volts, params), currents, rtol=1e-12)
    # without parameters only the electronics are undone
    np.testing.assert_allclose(
        calibrate_diodes(np.full((1, 4), 1.6), None), (0.1 - 0.06018) / 51100
    )


def test_errors_per_report(sas_param_dir):
    params = load_sas_params(sas_param_dir)
    signals = arm_signals(np.zeros(6), np.zeros(6), 5e-3, params)
    signals[5, 2] = -1.0
    disc = np.array([_disc(5e-3), _disc(2e-3), _disc(20e-3), np.nan, _disc(5e-3), _disc(5e-3)])
    duration = np.array([64.0, 64.0, 64.0, 64.0, 32.0, 64.0])
    sol = solve_aspect(signals, disc, duration, params)
    assert sol.error.tolist() == [
        "", "SUN_TOO_FAR", "SUN_TOO_BIG", "NO_SPICE", "SAS_DATA_WRONG_DURATION", "BAD_SIGNAL",
    ]  # fmt: skip
    assert np.isnan(sol.y_srf[1:]).all()
    assert sol.y_srf[0] == pytest.approx(0.0, abs=0.5)


def test_without_parameters_nothing_is_invented():
    signals = np.full((3, 4), 4e-8)
    disc = np.array([_disc(5e-3), _disc(2e-3), _disc(9e-3)])
    sol = solve_aspect(signals, disc, np.full(3, 64.0), None)
    assert sol.error.tolist() == ["NO_SAS_PARAMS", "SUN_TOO_FAR", "NO_SAS_PARAMS"]
    assert np.isnan(sol.y_srf).all()
    assert np.isnan(sol.z_srf).all()
