"""CAL on the kit: the real calibration spectra, the kit's ECC configuration and ELUTs.

* The only calibration spectra in the kit (``PktTmRaw.moc_test-20191127.xml``, four 21/6/41
  packets of a 2019 ground test, 1-4 s each, live time 0) hold no counts at all, so there are no
  Ba-133 lines to fit: TM -> LB -> L0 -> L1 -> L2 reports each spectrum and writes no CAL file.
* The same real L1 file with a synthetic Ba-133 spectrum put into its first row must fail with an
  actionable message: STIX-CONF has no onboard ELUT before 2020-02-14.
* The fit with the kit's own ``ecc_cfg_1`` (its ``SynSpec.dat`` Ba-133 template and search box)
  on a synthetic spectrum made through the calibration of a real ELUT recovers that calibration,
  and the actual energy edges come out at the nominal science channel edges.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.core.energies import elut_file, read_elut
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.products.cal import calibrate_spectrum, ecc_config_dir, read_ecc_config
from stix_assets.core.products.l2 import build_l2_day, write_l2
from stix_assets.core.spice import KernelStore, loaded_kernels
from stix_assets_tests.core.products.test_cal import synthetic_spectrum
from stix_assets_tests.realdata.test_l1_reference import CREATED, run_tm_to_l1

pytestmark = pytest.mark.realdata

DAY = date(2019, 11, 27)
NOMINAL_EDGES = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 25, 28, 32, 36, 40,
                 45, 50, 56, 63, 70, 76, 84, 100, 120, 150]  # fmt: skip


@pytest.fixture(scope="module")
def moc_l1(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("cal-moc")
    tm = testdata / "reference/stixcore/input/PktTmRaw.moc_test-20191127.xml"
    results, issues, _ = run_tm_to_l1(tm, root, testdata)
    assert issues == []
    return root, [r.path for r in results]


def test_ground_test_spectra_have_no_counts(moc_l1, testdata: Path):
    root, l1_files = moc_l1
    (cal_l1,) = [p for p in l1_files if p.name.startswith("solo_L1_stix-cal-energy_")]
    with fits.open(cal_l1) as hdul:
        counts = hdul["DATA"].data["counts"]
        assert counts.shape == (4, 32, 12, 1024)
        assert not counts.any()  # no Ba-133 lines to see
        assert not hdul["CONTROL"].data["live_time"].any()
    with loaded_kernels(KernelStore(testdata / "spice" / "kernels")) as kernels:
        built = build_l2_day(l1_files, DAY, conf_dir=testdata / "conf", kernels=kernels)
    assert built.products == []
    assert [i.reason for i in built.issues] == [
        f"spectrum {i}: no counts, nothing to calibrate" for i in range(4)
    ]
    assert write_l2(built.products, root, created=CREATED, software_version="t",
                    config_version="c") == []  # fmt: skip
    assert not (root / "CAL").exists()


def test_missing_onboard_elut_is_actionable(moc_l1, testdata: Path, tmp_path: Path):
    _root, l1_files = moc_l1
    (cal_l1,) = [p for p in l1_files if p.name.startswith("solo_L1_stix-cal-energy_")]
    injected = tmp_path / cal_l1.name
    rng = np.random.default_rng(1)
    with fits.open(cal_l1) as hdul:
        hdul["DATA"].data["counts"][0] = synthetic_spectrum(
            np.full((32, 12), 224.0), np.full((32, 12), 2.26), 5.0, rng
        )
        hdul.writeto(injected)
    with (
        loaded_kernels(KernelStore(testdata / "spice" / "kernels")) as kernels,
        pytest.raises(ProductBuildError, match=r"elut_index.csv has no entry valid at 2019-11-27"),
    ):
        build_l2_day([injected], DAY, conf_dir=testdata / "conf", kernels=kernels)


def test_fit_with_the_kit_configuration(testdata: Path):
    when = datetime(2021, 9, 1, tzinfo=UTC)
    conf = testdata / "conf"
    ecc = read_ecc_config(ecc_config_dir(conf, when))
    assert ecc.name == "ecc_cfg_1"
    elut = read_elut(elut_file(conf, when))
    # the detector as the ELUT describes it, in 1024-channel units
    offset, gain = elut.offset / 4.0, 1.0 / (4.0 * elut.gain)
    assert 215 < offset.mean() < 235
    assert 2.25 < gain.mean() < 2.35
    rng = np.random.default_rng(2021)
    cal = calibrate_spectrum(synthetic_spectrum(offset, gain, 100.0, rng), ecc)
    assert cal.fit_ok.all()
    assert cal.gain_range_ok
    assert np.abs(cal.offset - offset).max() < 0.4
    assert np.abs(cal.gain / gain - 1).max() < 0.005
    edges = cal.energy_edges(elut.adc_edges)
    # ELUT edges are whole 4096-channel ADC values (up to 0.06 keV rounding) plus the fit error
    nominal = np.asarray(NOMINAL_EDGES, dtype=np.float64)
    assert np.all(np.abs(edges[..., 1:-1] - nominal) < 0.2 + 0.004 * nominal)
    assert np.all(edges[..., 0] == 0)
    assert np.all(np.isinf(edges[..., -1]))
