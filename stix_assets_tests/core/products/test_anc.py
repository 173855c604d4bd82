"""ANC aspect ephemeris product: demo HK maxi and the kit's real HK maxi (2020-12-01).

The aspect solution itself is tested in ``core/aspect``; here the product: columns, header,
errors, SPICE columns, and what the header says about the SAS parameters used.
"""

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.core.aspect import SAS_OPTICS, arm_signals, load_sas_params
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products.anc import anc_file_name, write_anc_ephemeris
from stix_assets.core.products.l0 import build_l0_day
from stix_assets.core.products.l0_writer import write_l0
from stix_assets.core.products.l1 import build_l1_day, write_l1
from stix_assets.core.products.lb import write_lb
from stix_assets.core.spice import KernelStore, loaded_kernels
from stix_assets.demo.kernels import _write_spk
from stix_assets_tests.core.aspect.conftest import write_sas_param_dir

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _check_product(path: Path, utc_day: date, n_rows: int) -> fits.HDUList:
    hdul = fits.open(path, checksum=True)
    assert path.name == anc_file_name(utc_day)
    assert [h.name for h in hdul] == ["PRIMARY", "CONTROL", "DATA", "IDB_VERSIONS"]
    head = hdul[0].header
    assert (head["LEVEL"], head["STYPE"], head["SSTYPE"], head["SSID"]) == ("ANC", 0, 0, 1)
    assert head["FILENAME"] == path.name
    assert head["PARENT"].startswith("solo_L1_stix-hk-maxi")
    data = hdul["DATA"].data
    assert len(data) == n_rows
    assert data.columns["y_srf"].format == "E"
    assert data.columns["sas_ok"].format == "L"
    assert data.columns["solo_loc_heeq_zxy"].format == "3D"
    assert (data["timedel"] == 0).all()
    return hdul


@pytest.fixture(scope="module")
def demo_root(demo_l1):
    """The demo processed to L1 (both days); read only, the products go to their own folders."""
    return demo_l1.root


def test_demo_hk_maxi(demo_root, tmp_path_factory):
    root = demo_root
    hk = next((root.archive / "L1/2024/05/15/HK").glob("solo_L1_stix-hk-maxi_*.fits"))
    out = tmp_path_factory.mktemp("anc_out")
    params = load_sas_params(write_sas_param_dir(out / "SAS_param"))
    with loaded_kernels(KernelStore(root.spice_kernels)) as kernels:  # SPK, no FK/CK
        result = write_anc_ephemeris(
            hk, out, kernels, created=CREATED, software_version="t", sas_params=params
        )
    assert result.path == out / "ANC/2024/05/15/ASP/solo_ANC_stix-asp-ephemeris_20240515_V02U.fits"
    with _check_product(result.path, date(2024, 5, 15), 1350) as hdul:
        data = hdul["DATA"].data
        # the demo orbit keeps SOLO near 0.93 AU: the SAS signals are too weak (as STX-GSW says)
        assert 900 < data["spice_disc_size"].min()
        assert data["spice_disc_size"].max() < 1200
        assert set(data["sas_error"]) == {"SUN_TOO_FAR"}
        assert not data["sas_ok"].any()
        dist_km = 695700.0 / np.sin(np.deg2rad(data["spice_disc_size"] / 3600.0))
        np.testing.assert_allclose(np.linalg.norm(data["solo_loc_heeq_zxy"], axis=1), dist_km)
        assert np.isnan(data["roll_angle_rpy"]).all()  # no attitude kernel in the demo
        assert data["time_utc"][0].startswith("2024-05-15T00:0")
        history = "\n".join(hdul[0].header["HISTORY"])
        assert "SAS params: apcoord_FM_circ.sav sha256" in history
        assert "SAS params: SAS_calib_20211005.sav sha256" in history


@pytest.mark.realdata
def test_real_hk_maxi_2020_12_01(testdata, tmp_path):
    store = IdbStore(testdata / "idb")
    index = index_tm_file(testdata / "reference/stixcore/input/PktTmRaw.xml", store)
    lb = write_lb(index, tmp_path, created=CREATED, software_version="test")
    l0 = []
    for day in sorted({d for ds in index.days_by_product.values() for d in ds}):
        built = build_l0_day(
            [r.path for r in lb], day, store, testdata / "conf", products=["hk_maxi"]
        )
        l0.extend(write_l0(built.products, tmp_path, created=CREATED, software_version="test"))
    day = date(2020, 12, 1)
    with loaded_kernels(KernelStore(testdata / "spice/kernels")) as kernels:
        built = build_l1_day([r.path for r in l0], day, store, kernels, testdata / "conf")
        l1 = write_l1(built.products, tmp_path, created=CREATED, software_version="test")
        hk = next(r.path for r in l1 if r.product_key == "hk_maxi")
        result = write_anc_ephemeris(hk, tmp_path, kernels, created=CREATED, software_version="t")
    with _check_product(result.path, day, 9) as hdul:
        data = hdul["DATA"].data
        # SOLO at ~0.87 AU on 2020-12-01: apparent radius ~1099 arcsec, below the SAS range;
        # the same value as the L1 header's RSUN_ARC (evaluated at the file centre)
        rsun_arc = fits.getheader(hk)["RSUN_ARC"]
        assert (np.abs(data["spice_disc_size"] - rsun_arc) < 0.5).all()
        assert set(data["sas_error"]) == {"SUN_TOO_FAR"}
        # no SAS parameter files given: the header says the pointing was not computed
        history = "\n".join(hdul[0].header["HISTORY"])
        assert "no SAS parameter files configured" in history
        assert "SAS params:" not in history
        dist_au = data["solo_loc_carrington_dist"] / 1.495978707e8
        assert ((dist_au > 0.85) & (dist_au < 0.9)).all()
        np.testing.assert_allclose(
            np.linalg.norm(data["solo_loc_heeq_zxy"], axis=1), data["solo_loc_carrington_dist"]
        )
        # the kit has no spacecraft attitude CK (only STIX and fixed-offset CKs): NaN, as
        # STIXCore writes without CK coverage
        assert np.isnan(data["roll_angle_rpy"]).all()
        lon, lat = data["solo_loc_carrington_lonlat"][0]
        assert -180 <= lon <= 180
        assert abs(lat) < 8
        utc = datetime.fromisoformat(data["time_utc"][0]).replace(tzinfo=UTC)
        assert utc - datetime(2020, 12, 1, tzinfo=UTC) < timedelta(days=1)


_AU_KM = 1.495978707e8


def _near_sun_spk(path: Path, distance_au: float) -> None:
    """Overwrite the demo SPK: SOLO on a circular orbit at ``distance_au`` (the demo's Earth)."""
    j2000 = datetime(2000, 1, 1, 12, tzinfo=UTC)
    et0 = (datetime(2024, 5, 12, tzinfo=UTC) - j2000).total_seconds() + 69.184
    circular = (distance_au * _AU_KM, 0.0, np.radians(5.0), 0.0, 0.0, 0.0, et0)
    _write_spk(path, et0, et0 + 6 * 86400.0, solo=circular)


def test_pointing_recovered_through_the_product(demo_root, tmp_path_factory):
    """Voltages made from known pointing offsets come back as y_srf/z_srf in the ANC file."""
    root = demo_root
    out = tmp_path_factory.mktemp("anc_sol_out")
    kernel_dir = out / "kernels"
    shutil.copytree(root.spice_kernels, kernel_dir)
    _near_sun_spk(next((kernel_dir / "spk").glob("*.bsp")), 0.4)
    params = load_sas_params(write_sas_param_dir(out / "SAS_param"))
    hk = out / "solo_L1_stix-hk-maxi_20240515_V02U.fits"
    shutil.copy(next((root.archive / "L1/2024/05/15/HK").glob("solo_L1_stix-hk-maxi_*.fits")), hk)
    with fits.open(hk, mode="update") as hdul:
        data = hdul["DATA"].data
        n = len(data)
        phase = np.linspace(0.0, 2 * np.pi, n)
        x_m, y_m = 4e-4 * np.cos(phase), 3e-4 * np.sin(3 * phase)  # up to 150 arcsec
        disc = np.degrees(np.arcsin(695700.0 / (0.4 * _AU_KM))) * 3600.0
        rsol = SAS_OPTICS.image_radius_m(np.array([disc]))[0]
        currents = arm_signals(x_m, y_m, rsol, params) / 1e-6 * 40e-9  # tens of nA
        volts = 16 * ((currents * params.gain + params.bias_a) * 51100.0 + 0.06018)
        for k, name in enumerate(("a0", "a1", "b0", "b1")):
            data[f"hk_asp_photo{name}_v"] = volts[:, k]
    with loaded_kernels(KernelStore(kernel_dir)) as kernels:
        result = write_anc_ephemeris(
            hk, out, kernels, created=CREATED, software_version="t", sas_params=params
        )
    assert result.n_ok == n  # 64 s reports all day; the last one repeats the previous spacing
    with fits.open(result.path) as hdul:
        table = hdul["DATA"].data
        ok = table["sas_ok"]
        np.testing.assert_allclose(table["spice_disc_size"], disc, rtol=2e-3)
        np.testing.assert_allclose(table["y_srf"][ok], (y_m * 0.375e6)[ok], atol=1.0)
        np.testing.assert_allclose(table["z_srf"][ok], (x_m * 0.375e6)[ok], atol=1.0)
