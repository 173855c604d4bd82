"""L2 stage (`stix_assets.core.products.l2`): CAL files from an L1 cal-energy file.

The L1 input is written in place with the project's writer: two calibration spectra on
2022-03-01 (after the test SPK coverage, so SPICE_ER = 1), one a synthetic Ba-133 spectrum, one
without counts. STIX-CONF is a small tree with one ELUT and the ECC configuration of `test_cal`.
"""

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.fits import write_fits
from stix_assets.core.products.l0 import L0Product
from stix_assets.core.products.l0_writer import l0_tables
from stix_assets.core.products.l2 import L2_PRODUCTS, build_l2_day, write_l2
from stix_assets.core.products.registry import product_by_key
from stix_assets.core.spice import KernelStore, loaded_kernels
from stix_assets_tests.core.products.test_cal import (
    random_calibration,
    synthetic_spectrum,
    write_ecc_conf,
)
from stix_assets_tests.core.test_spice import make_kernel_tree
from stix_assets_tests.schema_check import assert_conform

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
DAY = date(2022, 3, 1)  # outside the test SPK coverage: SPICE_ER, no frame kernel needed
SCET_DAY0 = (DAY - date(2000, 1, 1)).days * 86400
START = SCET_DAY0 + 3_600  # SCET 2022-03-01T01:00 (UTC within a minute)
L1_NAME = "solo_L1_stix-cal-energy_20220301_V03U.fits"


def write_elut_conf(conf_dir: Path, offset4: np.ndarray, gain4: np.ndarray) -> None:
    """``elut/elut_index.csv`` (one table from 2020-01-01, a second from 2022-03-01T12:00)."""
    folder = conf_dir / "elut"
    folder.mkdir(parents=True, exist_ok=True)
    nominal = np.array([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 25, 28, 32,
                        36, 40, 45, 50, 56, 63, 70, 76, 84, 100, 120, 150], float)  # fmt: skip
    lines = ["comment", "comment", "Offset,Gain keV/ADC,Pixel,Detector,edges..."]
    for det in range(32):
        for pix in range(12):
            edges = np.round(offset4[det, pix] + nominal / gain4[det, pix]).astype(int)
            lines.append(
                f"{offset4[det, pix]},{gain4[det, pix]},{pix},{det},"
                + ",".join(str(e) for e in edges)
            )
    for name in ("elut_table_a.csv", "elut_table_b.csv"):
        (folder / name).write_text("\n".join(lines) + "\n")
    (folder / "elut_index.csv").write_text(
        "index, start_date, end_date, elut_file\n"
        "0, 2020-01-01T00:00:00, 2022-03-01T12:00:00, elut_table_a.csv\n"
        "1, 2022-03-01T12:00:00, none, elut_table_b.csv\n"
    )


def write_l1_cal(path: Path, counts: np.ndarray, starts: list[int], durations: list[int]) -> None:
    """An L1 cal-energy file as `write_l1` lays it out (the columns CAL reads)."""
    n = len(starts)
    spec = product_by_key("cal_energy")
    control = {
        "scet_coarse": np.array(starts, dtype=np.uint32),
        "scet_fine": np.zeros(n, dtype=np.uint32),
        "integration_time": np.array(durations, dtype=np.float64),
        "index": np.arange(n, dtype=np.int64),
        "raw_file": np.full(n, b"PktTmRaw_test.xml"),
        "packet": np.arange(n, dtype=np.int64),
        "parent": np.full(n, b"solo_L0_stix-cal-energy_0604800000_V03.fits"),
        "live_time": np.array([d * 900 for d in durations], dtype=np.uint32),
    }
    data = {
        "time": np.array(starts, float) + np.array(durations, float) / 2,
        "timedel": np.array(durations, dtype=np.float64),
        "counts": counts,
        "counts_comp_err": np.sqrt(counts).astype(np.float32),
        "control_index": np.arange(n, dtype=np.uint16),
    }
    prod = L0Product(
        spec, control, data,
        control_units={"integration_time": "s", "live_time": "ms"},
        data_units={"counts": "count", "counts_comp_err": "count"},
        idb_versions=(("2.26.34", float(starts[0]), float(starts[-1] + durations[-1])),),
        level="L1",
    )  # fmt: skip
    cards = [
        ("FILENAME", path.name, ""), ("RAW_FILE", "PktTmRaw_test.xml", ""),
        ("LEVEL", "L1", ""), ("STYPE", 21, ""), ("SSTYPE", 6, ""), ("SSID", 41, ""),
        ("OBT_BEG", float(starts[0]), ""), ("BUNIT", "counts", ""),
        ("HISTORY", "Processed by stix-assets L1", ""),
    ]  # fmt: skip
    write_fits(path, cards, l0_tables(prod), checksum_comment="test")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("l2")
    rng = np.random.default_rng(11)
    offset, gain = random_calibration(rng)
    conf = root / "conf"
    write_ecc_conf(conf)
    write_elut_conf(conf, 4 * offset, 1 / (4 * gain))  # the onboard ELUT equals the truth
    counts = np.zeros((2, 32, 12, 1024))
    counts[0] = synthetic_spectrum(offset, gain, 100.0, rng)
    l1 = root / "L1" / L1_NAME
    l1.parent.mkdir(parents=True)
    write_l1_cal(l1, counts, [START, START + 7200], [1800, 600])
    kernel_root = make_kernel_tree(root / "kernels")
    with loaded_kernels(KernelStore(kernel_root)) as kernels:
        yield root, conf, l1, kernels, offset, gain


def test_one_cal_product_per_spectrum_with_counts(setup):
    _root, conf, l1, kernels, _offset, _gain = setup
    built = build_l2_day([l1], DAY, conf_dir=conf, kernels=kernels)
    assert [i.reason for i in built.issues] == ["spectrum 1: no counts, nothing to calibrate"]
    (prod,) = built.products
    assert prod.file_name.startswith("solo_CAL_stix-cal-energy_20220301T0")
    assert prod.file_name.endswith("_V02.fits")
    assert prod.directory == Path("CAL/2022/03/01/CAL")
    assert prod.n_fitted == 384
    assert prod.live_time_s == pytest.approx(1620.0)  # 1 620 000 ms


def test_written_cal_file(setup):
    root, conf, l1, kernels, offset, gain = setup
    built = build_l2_day([l1], DAY, conf_dir=conf, kernels=kernels)
    (result,) = write_l2(
        built.products, root / "out", created=CREATED, software_version="t", config_version="c"
    )
    assert result.path.relative_to(root / "out").parts[:5] == ("CAL", "2022", "03", "01", "CAL")
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert_conform([result.path])
    assert (result.product_key, result.request_id, result.n_rows) == ("cal_energy", None, 1)
    assert result.inputs == ("solo_L1_stix-cal-energy_20220301_V03.fits",)
    with fits.open(result.path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "CONTROL", "DATA", "IDB_VERSIONS"]
        h = hdul[0].header
        assert (h["LEVEL"], h["VERSION"], h["BUNIT"], h["DATAMIN"], h["DATAMAX"]) == (
            "CAL", "02", "keV", 4.0, 150.0,
        )  # fmt: skip
        assert (h["STYPE"], h["SSTYPE"], h["SSID"]) == (21, 6, 41)
        assert (h["XPOSURE"], h["XPOMAX"], h["LIVETIME"]) == (1800.0, 1800.0, 1620.0)
        assert h["PARENT"] == "solo_L1_stix-cal-energy_20220301_V03.fits"
        assert h["FILENAME"] == result.path.name
        assert h["DATE-BEG"].startswith("2022-03-01T0")
        assert h["SPICE_ER"] == "1"
        units = {c.name: c.unit for c in hdul["DATA"].columns}
        assert (units["offset"], units["gain"], units["live_time"]) == ("adu", "keV / adu", "s")
        assert units["e_edges_actual"] == units["ecc_error"] == "keV"
        control, data = hdul["CONTROL"].data, hdul["DATA"].data
        assert control["ob_elut_name"][0] == "elut_table_a"
        assert control["ecc_config_name"][0] == "ecc_cfg_1"
        assert list(data.columns.names) == [
            "time", "timedel", "control_index", "live_time", "offset", "gain", "goc",
            "ecc_error", "gain_range_ok", "e_edges_actual", "fit_ok",
        ]  # fmt: skip
        assert data["offset"].shape == (1, 32, 12)
        assert data["ecc_error"].shape == (1, 4, 32, 12)
        assert data["gain_range_ok"][0]
        assert data["fit_ok"].all()
        np.testing.assert_allclose(data["offset"][0], 4 * offset, atol=1.6)
        np.testing.assert_allclose(data["gain"][0], 1 / (4 * gain), rtol=0.005)
        edges = data["e_edges_actual"][0]
    # the ELUT edges were made from the true calibration: actual edges ~ nominal edges
    # (ELUT rounding to whole ADC channels is up to 0.06 keV)
    assert edges.shape == (32, 12, 33)
    np.testing.assert_allclose(edges[..., 1], 4.0, atol=0.3)
    np.testing.assert_allclose(edges[..., 29], 100.0, atol=0.6)


def test_rewrite_is_byte_identical(setup):
    root, conf, l1, kernels, *_ = setup
    built = build_l2_day([l1], DAY, conf_dir=conf, kernels=kernels)
    kw = {"created": CREATED, "software_version": "t", "config_version": "c"}
    first = write_l2(built.products, root / "a", **kw)
    second = write_l2(built.products, root / "b", **kw)
    assert [r.sha256 for r in first] == [r.sha256 for r in second]


def test_other_days_and_families_are_skipped(setup):
    _root, conf, l1, kernels, *_ = setup
    built = build_l2_day([l1], date(2022, 3, 2), conf_dir=conf, kernels=kernels)
    assert built.products == []
    assert built.issues == []
    assert L2_PRODUCTS == ("cal_energy",)
    with pytest.raises(ProductBuildError, match="no L2 product for"):
        build_l2_day([l1], DAY, conf_dir=conf, kernels=kernels, products=["ql_lightcurve"])


def test_kernels_are_needed_for_spectra_with_counts(setup):
    _root, conf, l1, *_ = setup
    with pytest.raises(ProductBuildError, match="SPICE kernels"):
        build_l2_day([l1], DAY, conf_dir=conf)


def test_elut_change_within_a_spectrum(setup, tmp_path: Path):
    _root, conf, _l1, kernels, offset, gain = setup
    rng = np.random.default_rng(5)
    counts = synthetic_spectrum(offset, gain, 5.0, rng)[None]
    l1 = tmp_path / L1_NAME
    write_l1_cal(l1, counts, [SCET_DAY0 + 11 * 3600], [7200])  # 11:00-13:00, ELUT at 12:00
    with pytest.raises(ProductBuildError, match="ELUT changes within spectrum 0"):
        build_l2_day([l1], DAY, conf_dir=conf, kernels=kernels)
