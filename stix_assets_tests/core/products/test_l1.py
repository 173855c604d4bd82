"""Unit tests of the L1 framework: naming, IDB periods, the BSD off-by-one fix, energies, errors."""

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.time import Time

from stix_assets.core.energies import elut_file, energies_for_mask, read_elut
from stix_assets.core.errors import ProductBuildError, SpiceKernelError
from stix_assets.core.products import l1, l1_build, l1_calibrate, l1_families
from stix_assets.core.products.l0 import L0Product
from stix_assets.core.products.registry import product_by_key


def test_complete_name_drops_only_the_status():
    assert (
        l1.complete_name("solo_L0_stix-ql-lightcurve_0659318400_V02U.fits")
        == "solo_L0_stix-ql-lightcurve_0659318400_V02.fits"
    )
    bsd = "solo_L0_stix-sci-xray-spec_0641563728-0641564388_V04_0083036480-52373.fits"
    assert l1.complete_name(bsd) == bsd


def test_file_names():
    spec = product_by_key("ql_lightcurve")
    assert l1.l1_file_name(spec, date(2020, 11, 22)) == (
        "solo_L1_stix-ql-lightcurve_20201122_V02U.fits"
    )
    spec = product_by_key("xray_spec")
    start, end = Time("2020-11-22T23:14:44.410"), Time("2020-11-22T23:29:59.312")
    assert l1.l1_file_name(spec, date(2020, 11, 22), bsd=(start, end, "1266516544-51667")) == (
        "solo_L1_stix-sci-xray-spec_20201122T231444-20201122T232959_V04_1266516544-51667.fits"
    )
    assert l1_build._bsd_suffix(
        "solo_L0_stix-sci-xray-spec_0659402043-0659402958_V04_1266516544-51667.fits"
    ) == ("1266516544-51667")


def test_row_versions_extend_periods():
    periods = (("2.26.35", 200.0, 300.0), ("2.26.34", 100.0, 150.0))
    times = np.array([50.0, 120.0, 170.0, 200.0, 250.0, 400.0])
    got = l1_calibrate._row_versions(times, periods)
    assert got.tolist() == ["2.26.34", "2.26.34", "2.26.34", "2.26.35", "2.26.35", "2.26.35"]


def _bsd(timedel: list[float], version: str = "2.26.34") -> L0Product:
    n = len(timedel)
    return L0Product(
        spec=product_by_key("xray_cpd"),
        control={"index": np.zeros(1, np.uint8)},
        data={
            "time": 1000.0 + np.arange(n, dtype=float),
            "timedel": np.array(timedel),
            "counts": np.arange(n),
            "control_index": np.zeros(n, np.uint8),
        },
        idb_versions=((version, 1000.0, 1010.0),),
    )


def test_bsd_shift_at_minimum_resolution():
    prod, notes = l1_families.bsd_time_shift(
        _bsd([1.0, 2.0, 3.0, 4.0]), datetime(2021, 1, 1, tzinfo=UTC)
    )
    assert prod.data["timedel"].tolist() == [1.0, 2.0]
    assert prod.data["counts"].tolist() == [1, 2]
    assert ("HISTORY", "Time and count arrays were shifted to fix offset", "") in prod.header
    assert notes


def test_bsd_shift_not_applied_when_summed_or_fixed_idb():
    prod, _ = l1_families.bsd_time_shift(_bsd([2.0, 2.0, 2.0]), datetime(2021, 1, 1, tzinfo=UTC))
    assert prod.n_rows == 3
    assert prod.header[-1][0] == "COMMENT"
    # after 2021-09-06T13:00 the minimum is 0.5 s
    prod, _ = l1_families.bsd_time_shift(_bsd([1.0, 1.0, 1.0]), datetime(2022, 1, 1, tzinfo=UTC))
    assert prod.n_rows == 3
    prod, _ = l1_families.bsd_time_shift(
        _bsd([1.0, 1.0, 1.0], "2.26.36"), datetime(2021, 1, 1, tzinfo=UTC)
    )
    assert prod.n_rows == 3
    assert prod.header == ()


def test_bsd_shift_refuses_two_idb_versions():
    two = dataclasses.replace(
        _bsd([1.0, 1.0]), idb_versions=(("2.26.34", 0.0, 1.0), ("2.26.35", 1.0, 2.0))
    )
    with pytest.raises(ValueError, match="several IDB"):
        l1_families.bsd_time_shift(two, datetime(2021, 1, 1, tzinfo=UTC))


def test_combine_kinds():
    import astropy.units as u

    raw = np.array([1, 2, 3])
    rows_a, rows_b = np.array([0, 1]), np.array([2])
    values, unit = l1_calibrate._combine(
        raw, [(rows_a, [1.0, 2.0] * u.mA), (rows_b, [0.003] * u.A)], "c"
    )
    assert unit == "mA"
    assert values == pytest.approx([1.0, 2.0, 3.0])
    values, unit = l1_calibrate._combine(
        raw, [(rows_a, np.array([True, False])), (rows_b, [True])], "c"
    )
    assert values.dtype == bool
    assert unit == ""
    text = np.array(["On", "Off"], dtype=object)
    values, unit = l1_calibrate._combine(
        raw, [(rows_a, text), (rows_b, np.array([3], dtype=object))], "c"
    )
    assert values.tolist() == [b"On", b"Off", b"3"]
    with pytest.raises(ProductBuildError, match="only some"):
        l1_calibrate._combine(raw, [(rows_a, None), (rows_b, [1.0] * u.V)], "c")


def test_missing_stix_conf_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ProductBuildError, match=r"science_echan_index\.csv is missing"):
        energies_for_mask(tmp_path, datetime(2020, 5, 1, tzinfo=UTC))
    (tmp_path / "elut").mkdir()
    (tmp_path / "elut" / "elut_index.csv").write_text(
        "index, start_date, end_date, elut_file\n0, 2020-01-01T00:00:00, none, gone.csv\n"
    )
    with pytest.raises(ProductBuildError, match=r"gone\.csv .* is missing"):
        elut_file(tmp_path, datetime(2020, 5, 1, tzinfo=UTC))
    with pytest.raises(ProductBuildError, match="no entry valid"):
        elut_file(tmp_path, datetime(2019, 5, 1, tzinfo=UTC))


@pytest.mark.realdata
def test_energies_and_elut_from_the_kit(testdata: Path):
    conf = testdata / "conf"
    mask = np.zeros(33, np.uint8)
    mask[[1, 7, 12, 17, 23, 28]] = 1
    table = energies_for_mask(conf, datetime(2020, 11, 22, tzinfo=UTC), mask)
    assert table["e_low"].tolist() == [4, 10, 15, 25, 50]
    assert table["e_high"].tolist() == [10, 15, 25, 50, 84]
    native = energies_for_mask(conf, datetime(2020, 11, 22, tzinfo=UTC))
    assert len(native["channel"]) == 32
    assert np.isnan(native["e_high"][-1])
    elut = read_elut(elut_file(conf, datetime(2020, 11, 22, tzinfo=UTC)))
    assert elut.name == "elut_table_20200519.csv"
    assert elut.adc_edges.shape == (32, 12, 31)
    assert elut.offset[0, 0] == pytest.approx(883.7037)


@pytest.mark.realdata
def test_unloaded_kernels_are_an_error_and_nothing_is_written(testdata: Path, tmp_path: Path):
    """A day whose kernels are not loaded fails before writing anything."""
    from stix_assets.core.idb import IdbStore
    from stix_assets.core.ingest import index_tm_file
    from stix_assets.core.products.l0 import build_l0_day
    from stix_assets.core.products.l0_writer import write_l0
    from stix_assets.core.products.lb import write_lb
    from stix_assets.core.spice import KernelStore, loaded_kernels

    created = datetime(2025, 1, 1, tzinfo=UTC)
    store = IdbStore(testdata / "idb")
    index = index_tm_file(testdata / "reference/stixcore/input/PktTmRaw.xml", store)
    lb = write_lb(index, tmp_path, created=created, software_version="test")
    day = date(2020, 11, 22)
    built = build_l0_day([r.path for r in lb], day, store, testdata / "conf")
    l0_files = [
        r.path for r in write_l0(built.products, tmp_path, created=created, software_version="t")
    ]
    with loaded_kernels(KernelStore(testdata / "spice" / "kernels")) as kernels:
        pass
    with pytest.raises(SpiceKernelError, match="not loaded"):
        l1.build_l1_day(l0_files, day, store, kernels, testdata / "conf")
    assert not (tmp_path / "L1").exists()
