"""ANC aspect ephemeris: the SAS inversion, demo HK maxi and the kit's real HK maxi (2020-12-01).

The aperture geometry and the diode calibration of STX-GSW are not available (binary IDL save
files), so the inversion is tested as a round trip on the module's own optical model; the real
and demo files check the product (columns, header, errors, SPICE columns).
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products.anc import (
    SAS_CONSTANTS,
    anc_file_name,
    calibrate_diodes,
    model_signals,
    solve_aspect,
    write_anc_ephemeris,
)
from stix_assets.core.products.l0 import build_l0_day
from stix_assets.core.products.l0_writer import write_l0
from stix_assets.core.products.l1 import build_l1_day, write_l1
from stix_assets.core.products.lb import write_lb
from stix_assets.core.spice import KernelStore, loaded_kernels
from stix_assets_tests.core.test_flarelist import make_demo_l1

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
_ARCSEC_PER_RAD = 206264.80624709636


def _disc(rsol_m: float) -> float:
    return rsol_m / SAS_CONSTANTS.focal_length_m * _ARCSEC_PER_RAD


@pytest.mark.parametrize("rsol_m", [3.5e-3, 6.0e-3, 9.0e-3])  # ~0.7, 0.45, 0.3 AU
def test_inversion_recovers_offsets(rsol_m):
    rng = np.random.default_rng(3)
    x_ab, x_cd = rng.uniform(-8e-4, 8e-4, 20), rng.uniform(-8e-4, 8e-4, 20)
    signals = model_signals(x_ab, x_cd, rsol_m) * 2.5e-7  # any common scale
    sol = solve_aspect(signals, np.full(20, _disc(rsol_m)), np.full(20, 64.0))
    assert sol.sas_ok.all()
    scale = SAS_CONSTANTS.arcsec_per_m
    np.testing.assert_allclose(sol.y_srf, -(x_ab + x_cd) / np.sqrt(2) * scale, atol=0.5)
    np.testing.assert_allclose(sol.z_srf, -(x_ab - x_cd) / np.sqrt(2) * scale, atol=0.5)


def test_errors_per_report():
    signals = model_signals(np.zeros(5), np.zeros(5), 5e-3)
    disc = np.array([_disc(5e-3), _disc(2e-3), _disc(20e-3), np.nan, _disc(5e-3)])
    duration = np.array([64.0, 64.0, 64.0, 64.0, 32.0])
    sol = solve_aspect(signals, disc, duration)
    assert sol.error.tolist() == [
        "", "SUN_TOO_FAR", "SUN_TOO_BIG", "NO_SPICE", "SAS_DATA_WRONG_DURATION",
    ]  # fmt: skip
    assert np.isnan(sol.y_srf[1:]).all()


def test_calibration_constants():
    # (v / 16 - 0.06018 V) / 51100 Ohm, no bias, unit gain
    np.testing.assert_allclose(calibrate_diodes(np.full((1, 4), 1.6)), (0.1 - 0.06018) / 51100)


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


def test_demo_hk_maxi(tmp_path_factory):
    root = make_demo_l1(tmp_path_factory.mktemp("anc"))
    hk = next((root.archive / "L1/2024/05/15/HK").glob("solo_L1_stix-hk-maxi_*.fits"))
    out = tmp_path_factory.mktemp("anc_out")
    with loaded_kernels(KernelStore(root.spice_kernels)) as kernels:  # SPK, no FK/CK
        result = write_anc_ephemeris(hk, out, kernels, created=CREATED, software_version="t")
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
