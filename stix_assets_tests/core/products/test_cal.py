"""CAL energy calibration fit (`stix_assets.core.products.cal`) on synthetic Ba-133 spectra.

The synthetic spectra are made independently of the fitter: Ba-133 X-ray and gamma lines (Cs K
lines at 30.6/31.0/35 keV, gamma lines at 53.2, 79.6 and 81.0 keV, DDEP intensities) with an
energy-dependent resolution, plus a falling continuum, integrated over each ADC channel
``[k, k + 1)`` through a known offset and gain per pixel, then Poisson-sampled. The ECC template
(``SynSpec.dat``) written here has a different (narrower) resolution and no continuum.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import erf

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.products.cal import (
    E31_KEV,
    calibrate_spectrum,
    ecc_config_dir,
    read_ecc_config,
)

BA133 = (
    (30.625, 33.8), (30.973, 62.4), (34.92, 11.6), (34.99, 6.0), (35.82, 4.4),
    (53.16, 2.1), (79.61, 2.6), (80.998, 32.9),
)  # fmt: skip

ECC_CFG = """#test copy of the ECC.cfg keys the fitter reads
 f_syn      = SynSpec.dat #synthetic spectrum
 nbr_p      = 2
 p_a_name   = offset
 p_a_min    =  200.0
 p_a_max    =  260.0
 p_a_dif    =    1.0
 p_a_difmin =  0.0001
 p_b_name   = gain    #[ADU/keV]
 p_b_min    =  2.2
 p_b_max    =  2.5
 p_b_dif    =   0.01
 p_b_difmin =  0.0001
 z_nbr      = 6
"""
POST_ECC = """[DEFAULT]
Max_Gain_Prime = 1.4
Min_Gain_Prime = 0.4
Min_Gain = 0.4
Ignore_Max_Gain_Prime_Det_Pix_List = [[30,5], [30,6]]
Ignore_Min_Gain_Prime_Det_Pix_List = [[30,5], [30,6]]
Ignore_Min_Gain_Det_Pix_List = [[30,5], [30,6]]
"""


def fwhm_kev(energy: np.ndarray | float) -> np.ndarray:
    """Resolution of the synthetic detector (keV FWHM): ~1.0 keV at 31, ~1.3 keV at 81 keV."""
    return np.sqrt(0.9**2 + (0.011 * np.asarray(energy)) ** 2)


def expected_counts(edges_kev: np.ndarray, scale: float, *, continuum: bool = True) -> np.ndarray:
    """Expected counts in the energy bins ``edges_kev`` (lines + continuum, 8 keV threshold)."""
    out = np.zeros(len(edges_kev) - 1)
    for energy, weight in BA133:
        sigma = fwhm_kev(energy) / 2.355
        out += weight * np.diff(0.5 * (1 + erf((edges_kev - energy) / (np.sqrt(2) * sigma))))
    mid = 0.5 * (edges_kev[:-1] + edges_kev[1:])
    if continuum:
        cont = 0.4 * (np.clip(mid, 1.0, None) / 20.0) ** -1.5 + 0.05
        out += cont * np.diff(edges_kev)
    out[mid < 8.0] = 0.0
    return out * scale


def synthetic_spectrum(
    offset: np.ndarray, gain: np.ndarray, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """Poisson counts ``offset.shape + (1024,)`` for offsets (ADC) and gains (ADC/keV)."""
    adc = np.arange(1025.0)
    out = np.zeros((*offset.shape, 1024))
    for idx in np.ndindex(offset.shape):
        out[idx] = expected_counts((adc - offset[idx]) / gain[idx], scale)
    return rng.poisson(out).astype(np.float64)


def random_calibration(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Offsets 215-235 ADC and gains 2.22-2.30 ADC/keV per (detector, pixel), as in flight."""
    return rng.uniform(215, 235, (32, 12)), rng.uniform(2.22, 2.30, (32, 12))


def write_ecc_conf(conf_dir: Path) -> Path:
    """A STIX-CONF ``ecc/`` tree with ``ecc_cfg_1`` (narrow-line Ba-133 template)."""
    folder = conf_dir / "ecc" / "ecc_cfg_1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ECC.cfg").write_text(ECC_CFG)
    (folder / "post_ecc.ini").write_text(POST_ECC)
    edges = np.arange(150, 2001) / 10.0
    template = np.zeros(len(edges) - 1)
    for energy, weight in BA133:
        sigma = 0.5 / 2.355
        template += weight * np.diff(0.5 * (1 + erf((edges - energy) / (np.sqrt(2) * sigma))))
    rows = "\n".join(f"{e:.6f} {v:.6E}" for e, v in zip(edges[:-1] + 0.05, template, strict=True))
    (folder / "SynSpec.dat").write_text("#energy[eV]  rel.intensity\n" + rows + "\n")
    index = [
        {
            "configuration": "ecc_cfg_1",
            "description": "test",
            "validityPeriodUTC": ["2000-01-01T00:00:00.000+00:00", "2136-02-07T08:11:44.778+00:00"],
        }
    ]
    (conf_dir / "ecc" / "ecc_conf_index.json").write_text(json.dumps(index))
    return folder


@pytest.fixture(scope="module")
def ecc(tmp_path_factory: pytest.TempPathFactory):
    return read_ecc_config(write_ecc_conf(tmp_path_factory.mktemp("conf")))


@pytest.fixture(scope="module")
def fitted(ecc):
    rng = np.random.default_rng(20240611)
    offset, gain = random_calibration(rng)
    counts = synthetic_spectrum(offset, gain, 100.0, rng)  # ~19 000 counts per pixel
    return offset, gain, counts, calibrate_spectrum(counts, ecc)


def test_read_ecc_config(ecc):
    assert ecc.name == "ecc_cfg_1"
    assert (ecc.offset_range, ecc.gain_range) == ((200.0, 260.0), (2.2, 2.5))
    assert (ecc.offset_step, ecc.gain_step, ecc.zoom_layers) == (1.0, 0.01, 6)
    assert ecc.ignore_min_gain == frozenset({(30, 5), (30, 6)})
    assert len(ecc.synthetic_kev) == 1850


def test_fit_recovers_offset_and_gain(fitted):
    offset, gain, _counts, cal = fitted
    assert cal.fit_ok.all()
    assert cal.gain_range_ok
    # measured: offset error std 0.05, max 0.23 ADC; gain error max 0.34 %
    assert np.abs(cal.offset - offset).max() < 0.4
    assert abs(np.mean(cal.offset - offset)) < 0.05
    assert np.abs(cal.gain / gain - 1).max() < 0.005
    # energy of the two lines through the fitted calibration (keV)
    for energy, tolerance in ((E31_KEV, 0.08), (80.998, 0.3)):
        back = (offset + gain * energy - cal.offset) / cal.gain
        assert np.abs(back - energy).max() < tolerance
    # resolution of the synthetic detector: 1.07 and 1.30 keV FWHM (31 keV doublet is wider)
    assert np.median(cal.fwhm[1]) == pytest.approx(fwhm_kev(80.998), rel=0.03)
    assert np.all(cal.errors > 0)


def test_correlation_stage_alone_is_coarser(fitted):
    offset, _gain, _counts, cal = fitted
    assert np.all(np.isfinite(cal.goc))
    assert np.all(cal.goc > 0.8)
    assert np.abs(cal.offset_ecc - offset).max() < 2.0  # stage 1 places the fit windows only
    assert np.std(cal.offset_ecc - offset) > np.std(cal.offset - offset)


def test_more_counts_give_smaller_errors(ecc):
    rng = np.random.default_rng(7)
    offset, gain = np.full((32, 12), 224.0), np.full((32, 12), 2.26)
    low = calibrate_spectrum(synthetic_spectrum(offset, gain, 20.0, rng), ecc)
    high = calibrate_spectrum(synthetic_spectrum(offset, gain, 500.0, rng), ecc)
    assert low.fit_ok.all()
    assert high.fit_ok.all()
    assert np.median(high.errors[2]) < np.median(low.errors[2]) / 3  # err_P81 ~ 1/sqrt(N)
    assert np.std(high.offset - offset) < np.std(low.offset - offset)


def test_pixels_without_counts(fitted, ecc):
    _offset, _gain, counts, _cal = fitted
    counts = counts.copy()
    counts[29, 5] = counts[29, 6] = 0.0  # detector 30 (1-based), pixels 5 and 6: ignore lists
    cal = calibrate_spectrum(counts, ecc)
    assert np.isnan(cal.offset[29, 5])
    assert np.isnan(cal.gain[29, 6])
    assert not cal.fit_ok[29, 5]
    assert cal.gain_prime[29, 5] == 0
    assert cal.gain_range_ok  # failures only on the ignore lists
    counts[0, 0] = 0.0
    assert not calibrate_spectrum(counts, ecc).gain_range_ok


def test_failed_line_fit_keeps_the_correlation_result(ecc):
    rng = np.random.default_rng(3)
    offset = np.full((32, 12), 224.0)
    adc = np.arange(1025.0)
    only_low = expected_counts((adc - 224.0) / 2.26, 100.0)
    only_low[int(224 + 2.26 * 60) :] = 0.0  # no 81 keV line: the post fit must not be accepted
    counts = rng.poisson(np.broadcast_to(only_low, (32, 12, 1024))).astype(float)
    cal = calibrate_spectrum(counts, ecc)
    assert not cal.fit_ok.any()
    np.testing.assert_array_equal(cal.offset, cal.offset_ecc)
    np.testing.assert_array_equal(cal.gain, cal.gain_ecc)
    assert not cal.gain_range_ok  # G' = 0 for every pixel, as in STIXCore
    assert np.all(cal.errors == 0)
    assert np.all(np.abs(cal.offset - offset) < 10)


def test_energy_edges_use_4096_channel_units(fitted):
    *_, cal = fitted
    adc = np.broadcast_to(np.arange(31) * 10.0 + 920.0, (32, 12, 31))
    edges = cal.energy_edges(adc)
    assert edges.shape == (32, 12, 33)
    assert np.all(edges[..., 0] == 0)
    assert np.all(np.isinf(edges[..., -1]))
    expected = (adc - 4 * cal.offset[..., None]) / (4 * cal.gain[..., None])
    np.testing.assert_allclose(edges[..., 1:-1], expected)


def test_wrong_shape_is_an_error(ecc):
    with pytest.raises(ProductBuildError, match=r"shape \(32, 12, 512\)"):
        calibrate_spectrum(np.zeros((32, 12, 512)), ecc)


def test_missing_ecc_configuration(tmp_path: Path):
    from datetime import UTC, datetime

    with pytest.raises(ProductBuildError, match="ECC index"):
        ecc_config_dir(tmp_path, datetime(2021, 1, 1, tzinfo=UTC))
    (tmp_path / "ecc").mkdir()
    with pytest.raises(ProductBuildError, match="incomplete"):
        read_ecc_config(tmp_path / "ecc")
