"""The SAS optics: fixed numbers of the aspect system and the solar image profile it sees.

Facts from STX-GSW ``stix/idl/processing/aspect`` (read for the method, own code here):

* the image plane (aperture plate) is 548.16 mm behind the lens (``stx_derive_aspect_solution``,
  2023-04-21) and one metre in it is 0.375e6 arcsec in the spacecraft frame;
* the four diode voltages become currents as ``(v / 16 - 0.06018 V) / 51100 Ohm``
  (``stx_calib_sas_data``); only reports 64 s +- 0.5 s apart are used;
* below an image radius of 3.28 mm (Sun farther than about 0.75 AU) the signals are unusable;
* the radial profile (``compute_solar_prof``) is a limb-darkened disc for 625 nm with a 150 nm band,
  plus a Gaussian halo of 5 % weight that falls to 5 % of its peak at 1.4 radii, blurred by a
  Gaussian of 50 samples of 1 um; it is computed out to two radii.

The limb-darkening coefficients ``u``, ``v`` of ``I(mu) = 1 - u - v + u mu + v mu^2`` are the band
averages of the fifth-order polynomials in wavelength (Angstrom) that SolarSoft's
``darklimb_u``/``darklimb_v`` fit to Allen's Astrophysical Quantities (valid 4000-15000 A);
`limb_darkening` integrates them exactly, as STX-GSW does numerically.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial import Polynomial
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

__all__ = ["ARCSEC_PER_RAD", "SAS_OPTICS", "SasOptics", "limb_darkening", "solar_profile"]

ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0
_ALLEN_U = (-8.9829751, 0.0069093916, -1.8144591e-6, 2.2540875e-10, -1.3389747e-14, 3.0453572e-19)
_ALLEN_V = (9.2891180, -0.0062212632, 1.5788029e-6, -1.9359644e-10, 1.1444469e-14, -2.599494e-19)


def limb_darkening(wavelength_nm: float, band_nm: float) -> tuple[float, float]:
    """Allen's ``(u, v)`` averaged over ``wavelength +- band/2``.

    >>> [round(c, 3) for c in limb_darkening(625.0, 150.0)]
    [0.831, -0.203]
    """
    low, high = (wavelength_nm - band_nm / 2) * 10.0, (wavelength_nm + band_nm / 2) * 10.0
    if low < 4000.0 or high > 15000.0:
        raise ValueError(f"Allen limb darkening holds for 400-1500 nm, not {low / 10}-{high / 10}")
    out = []
    for coef in (_ALLEN_U, _ALLEN_V):
        integral = Polynomial(coef).integ()
        out.append(float((integral(high) - integral(low)) / (high - low)))
    return out[0], out[1]


@dataclass(frozen=True, slots=True)
class SasOptics:
    """The fixed numbers of the SAS (all from STX-GSW source, module docstring)."""

    focal_length_m: float = 548.16e-3
    arcsec_per_m: float = 0.375e6
    v_base_v: float = 0.06018
    r_m_ohm: float = 51100.0
    adc_divisor: float = 16.0
    cadence_s: float = 64.0
    cadence_tol_s: float = 0.5
    rsol_min_m: float = 3.28e-3
    limb_wavelength_nm: float = 625.0
    limb_band_nm: float = 150.0
    halo_fraction: float = 0.05
    halo_radius: float = 1.4
    halo_level: float = 0.05
    blur_sigma_m: float = 50e-6
    profile_extent: float = 2.0
    profile_step_m: float = 1e-6

    def image_radius_m(self, disc_size_arcsec: NDArray) -> NDArray[np.float64]:
        """Radius (m) of the solar image on the aperture plate for apparent radii in arcsec."""
        return self.focal_length_m * np.asarray(disc_size_arcsec, np.float64) / ARCSEC_PER_RAD


SAS_OPTICS = SasOptics()


@lru_cache(maxsize=64)
def solar_profile(rsol_um: int, optics: SasOptics = SAS_OPTICS) -> NDArray[np.float64]:
    """Radial intensity of the solar image at radii ``i * optics.profile_step_m``, i = 0, 1, ...

    ``rsol_um`` is the image radius in micrometres (an int, so that profiles are cached per um).
    The profile covers ``profile_extent`` radii; beyond it there is no light.
    """
    rsol = rsol_um * 1e-6
    dx = optics.profile_step_m
    r = np.arange(0.0, optics.profile_extent * rsol + dx / 2, dx)
    u, v = limb_darkening(optics.limb_wavelength_nm, optics.limb_band_nm)
    mu = np.sqrt(np.clip(1.0 - (r / rsol) ** 2, 0.0, None))
    disc = np.where(r <= rsol, 1.0 - u - v + u * mu + v * mu**2, 0.0)
    width = optics.halo_radius * rsol / np.sqrt(-2.0 * np.log(optics.halo_level))
    halo = np.exp(-0.5 * (r / width) ** 2)
    prof = optics.halo_fraction * halo + (1.0 - optics.halo_fraction) * disc
    symmetric = np.concatenate([prof[:0:-1], prof])
    blurred = gaussian_filter1d(symmetric, optics.blur_sigma_m / dx, mode="nearest")
    return blurred[len(prof) - 1 :]
