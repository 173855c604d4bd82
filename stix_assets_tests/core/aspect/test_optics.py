"""SAS optics: Allen limb darkening and the radial profile of the solar image."""

import numpy as np
import pytest
from numpy.polynomial import Polynomial

from stix_assets.core.aspect.optics import _ALLEN_U, _ALLEN_V, limb_darkening, solar_profile


def test_limb_darkening_is_the_band_average_of_allens_polynomials():
    u, v = limb_darkening(625.0, 150.0)
    # the mean over 550-700 nm of the polynomials, by brute force
    grid = np.linspace(5500.0, 7000.0, 15001)
    assert u == pytest.approx(Polynomial(_ALLEN_U)(grid).mean(), rel=1e-6)
    assert v == pytest.approx(Polynomial(_ALLEN_V)(grid).mean(), rel=1e-6)
    # the textbook magnitude for red light: strong linear, weak quadratic term
    assert 0.8 < u < 0.86
    assert -0.22 < v < -0.18


def test_limb_darkening_outside_allens_range():
    with pytest.raises(ValueError, match="400-1500 nm"):
        limb_darkening(380.0, 50.0)


def test_profile_shape():
    prof = solar_profile(5000)  # 5 mm image, sampled every 1 um out to two radii
    r = np.arange(len(prof)) * 1e-6
    assert r[-1] == pytest.approx(10e-3)
    assert prof[0] == pytest.approx(1.0, abs=1e-3)  # centre: (1 - 5 %) disc + 5 % halo peak
    assert np.all(np.diff(prof) <= 1e-12)  # falls monotonically
    u, v = limb_darkening(625.0, 150.0)
    inside = np.searchsorted(r, 2.5e-3)  # half radius: mu = sqrt(0.75), halo ~ 0.05 * 0.8
    disc = 1 - u - v + u * np.sqrt(0.75) + v * 0.75
    assert prof[inside] == pytest.approx(
        0.95 * disc + 0.05 * np.exp(-0.5 * (0.5 / 1.4) ** 2 * 2 * np.log(20)), abs=2e-3
    )
    at_halo = np.searchsorted(r, 7e-3)  # 1.4 radii: only the halo, at 5 % of its peak
    assert prof[at_halo] == pytest.approx(0.05 * 0.05, rel=0.05)
