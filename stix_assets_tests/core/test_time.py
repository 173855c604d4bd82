"""SCET helpers (exact ints, STIXCore's float) and SCET <-> UTC through a made-up SCLK kernel."""

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import spiceypy
from astropy.time import Time
from hypothesis import example, given
from hypothesis import strategies as st

from stix_assets.core.errors import SpiceCoverageError, StixDataWarning
from stix_assets.core.spice import KernelStore, LoadedKernels, loaded_kernels
from stix_assets.core.time import (
    SCET_EPOCH,
    SCET_EPOCH_UTC,
    day_index,
    float_to_scet,
    nominal_scet,
    nominal_utc,
    parse_scet_string,
    scet_day,
    scet_day_index,
    scet_day_start,
    scet_float,
    scet_split,
    scet_string,
    scet_ticks,
    scet_to_float,
    scet_to_utc,
    sclk_extrapolated,
    sclk_last_correlation_utc,
    split_scet_seconds,
    stixcore_float,
    utc_day_index,
    utc_to_scet,
)
from stix_assets_tests.core.test_spice import LAST_CORRELATION_COARSE, make_kernel_tree

coarse_st = st.integers(0, 2**32 - 1)
fine_st = st.integers(0, 65535)

# --- exact helpers ---------------------------------------------------------------------------


@given(coarse_st, fine_st)
@example(0, 0)
@example(2**32 - 1, 65535)
def test_scet_string_round_trip(coarse, fine):
    text = scet_string(coarse, fine)
    assert len(text) == 16
    assert text[10] == ":"
    assert parse_scet_string(text) == (coarse, fine)
    assert parse_scet_string("1/" + text) == (coarse, fine)  # SPICE's sce2s partition prefix


def test_scet_string_examples_and_range():
    assert scet_string(664070400, 0) == "0664070400:00000"
    with pytest.raises(ValueError, match="out of range"):
        scet_string(2**32, 0)
    with pytest.raises(ValueError, match="out of range"):
        parse_scet_string("0664070400:65536")


@given(coarse_st, st.integers(0, 65534))
def test_stixcore_float_round_trip(coarse, fine):
    value = scet_to_float(coarse, fine)
    assert value == coarse + fine / 65535
    c, f = float_to_scet(value)
    assert (int(c), int(f)) == (coarse, fine)


@given(coarse_st.filter(lambda c: c < 2**32 - 1))
def test_stixcore_float_cannot_tell_fine_65535_from_next_second(coarse):
    # quirk 1: fine / 65535 makes fine = 65535 a whole second, indistinguishable from (c + 1, 0)
    assert scet_to_float(coarse, 65535) == scet_to_float(coarse + 1, 0)
    assert tuple(map(int, float_to_scet(scet_to_float(coarse, 65535)))) == (coarse + 1, 0)


def test_stixcore_float_matches_reference_header():
    # OBT_BEG of solo_L1_stix-config-16_20200415_V02.fits, packet SCET 640267793:29237
    assert scet_to_float(640267793, 29237) == 640267793.446128
    assert np.array_equal(
        scet_to_float(np.array([1, 2]), np.array([0, 65535])), np.array([1.0, 3.0])
    )


def test_stixcore_float_of_seconds_uses_fine_over_65535():
    sec = 640267793 + 29237 / 65536
    assert stixcore_float(sec) == pytest.approx(640267793.446128, abs=1e-7)
    assert stixcore_float(np.array([sec]))[0] == pytest.approx(640267793.446128, abs=1e-7)


@given(coarse_st.filter(lambda c: c < 2**32 - 1), fine_st)
@example(0, 65535)
def test_scet_split_round_trips_scet_float(coarse, fine):
    assert scet_split(float(scet_float(coarse, fine))) == (coarse, fine)
    c, f = split_scet_seconds(scet_float(np.array([coarse]), np.array([fine])))
    assert (int(c[0]), int(f[0])) == (coarse, fine)


def test_scet_split_carries_or_clamps_a_rounded_up_fine():
    # 1/131072 s before the next second rounds to fine 65536
    seconds = 7 + 65535.75 / 65536
    assert scet_split(seconds) == (8, 0)
    assert scet_split(seconds, clamp=True) == (7, 65535)
    assert stixcore_float(seconds) == 8.0


def test_day_numbers_count_from_the_epoch():
    assert day_index(SCET_EPOCH) == 0
    assert day_index(date(2020, 12, 1)) == 7640
    assert scet_day_index(np.array([0, 86399, 86400, 660096003])).tolist() == [0, 0, 1, 7640]
    t = Time(["2000-01-01T00:00:00", "2020-12-01T23:59:59.999"], scale="utc")
    assert utc_day_index(t).tolist() == [0, 7640]


def test_nominal_utc_reads_scet_as_seconds_after_the_epoch():
    assert SCET_EPOCH_UTC == datetime(2000, 1, 1, tzinfo=UTC)
    assert nominal_utc(86400 + 0.5) == datetime(2000, 1, 2, 0, 0, 0, 500000, tzinfo=UTC)
    assert nominal_scet(nominal_utc(660096003)) == 660096003.0


@given(st.integers(0, 2**32 - 1))
def test_scet_day_contains_coarse(coarse):
    day = scet_day(coarse)
    start = scet_day_start(day)
    assert start <= coarse < start + 86400
    assert start % 86400 == 0


def test_scet_day_examples():
    assert scet_day(0) == SCET_EPOCH
    assert scet_day(664070400) == date(2021, 1, 16)
    assert scet_day_start(date(2020, 11, 22)) == 659318400  # L0 name of the QL day in the kit
    assert scet_day(86399) == SCET_EPOCH
    assert scet_day(86400) == SCET_EPOCH + timedelta(days=1)


def test_scet_ticks_exact_and_checked():
    assert scet_ticks(2**32 - 1, 65535) == 2**48 - 1
    assert scet_ticks(np.uint32(664070400), np.uint16(17)).dtype == np.int64
    with pytest.raises(ValueError, match="out of range"):
        scet_ticks(-1, 0)
    with pytest.raises(ValueError, match="out of range"):
        scet_ticks(0, 65536)


# --- conversions through the made-up SCLK kernel ----------------------------------------------


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> LoadedKernels:
    root = make_kernel_tree(tmp_path_factory.mktemp("kernels"))
    with loaded_kernels(KernelStore(root)) as loaded:
        yield loaded


def test_scet_zero_is_2000_01_01(kernels):
    assert scet_to_utc(0, 0, kernels).isot == "2000-01-01T00:00:00.000"
    assert scet_to_utc(1, 32768, kernels).isot == "2000-01-01T00:00:01.500"


def test_matches_spice_sct2e(kernels):
    rng = np.random.default_rng(7)
    coarse = rng.integers(0, LAST_CORRELATION_COARSE, 2000)
    fine = rng.integers(0, 65536, 2000)
    ours = scet_to_utc(coarse, fine, kernels)
    ets = spiceypy.sct2e(-144, (coarse * 65536 + fine).astype(float))
    spice = Time([spiceypy.et2utc(et, "ISOC", 6) for et in ets], scale="utc")
    assert np.abs((ours - spice).sec).max() < 1e-6  # et2utc rounds to the microsecond


@given(st.integers(0, LAST_CORRELATION_COARSE - 1), fine_st)
@example(599_999_999, 65535)  # last tick before the last record
@example(500_000_000, 0)  # a record boundary (the rate changes)
def test_round_trip_scet_utc_scet(kernels, coarse, fine):
    utc = scet_to_utc(coarse, fine, kernels)
    c, f = utc_to_scet(utc, kernels)
    assert (int(c), int(f)) == (coarse, fine)  # to the tick; 1 ms would be 65 ticks


def test_round_trip_arrays_keep_shape(kernels):
    coarse = np.arange(12, dtype=np.uint32).reshape(3, 4) * 40_000_000
    fine = np.full((3, 4), 12345, dtype=np.uint16)
    utc = scet_to_utc(coarse, fine, kernels)
    assert utc.shape == (3, 4)
    assert utc.scale == "utc"
    c, f = utc_to_scet(utc, kernels)
    assert np.array_equal(c, coarse)
    assert np.array_equal(f, fine)


def test_leap_second(kernels):
    # 2016-12-31T23:59:60 exists in UTC; SCET runs through it without a jump
    c, f = utc_to_scet(Time("2016-12-31T23:59:59.5", scale="utc"), kernels)
    times = scet_to_utc(c + np.arange(4), np.full(4, int(f)), kernels)
    assert list(times.isot) == [
        "2016-12-31T23:59:59.500",
        "2016-12-31T23:59:60.500",
        "2017-01-01T00:00:00.500",
        "2017-01-01T00:00:01.500",
    ]
    et = spiceypy.sct2e(-144, float((c + 1) * 65536 + f))
    assert spiceypy.et2utc(et, "ISOC", 3) == "2016-12-31T23:59:60.500"
    c2, f2 = utc_to_scet(times[1], kernels)
    assert (int(c2), int(f2)) == (int(c) + 1, int(f))


def test_extrapolated_times_warn(kernels):
    coarse = np.array([LAST_CORRELATION_COARSE - 10, LAST_CORRELATION_COARSE + 10])
    assert list(sclk_extrapolated(coarse, [0, 0], kernels)) == [False, True]
    with pytest.warns(StixDataWarning, match="1 of 2 times are after the SCLK"):
        utc = scet_to_utc(coarse, [0, 0], kernels)
    # extrapolation continues with the last rate, exactly as SPICE does
    et = spiceypy.sct2e(-144, float(coarse[1] * 65536))
    assert abs((utc[1] - Time(spiceypy.et2utc(et, "ISOC", 6), scale="utc")).sec) < 1e-6
    assert scet_to_utc(coarse, [0, 0], kernels, warn=False).shape == (2,)
    with pytest.warns(StixDataWarning, match="extrapolated"):
        utc_to_scet(utc[1], kernels)
    assert sclk_last_correlation_utc(kernels) < utc[1]


def test_utc_before_scet_zero_is_refused(kernels):
    with pytest.raises(SpiceCoverageError, match="clock range"):
        utc_to_scet(Time("1999-12-31T23:59:59", scale="utc"), kernels)


def test_conversion_needs_only_the_sclk_model(kernels):
    # the SCLK model is plain data read at load time; nothing calls SPICE per time
    assert scet_to_utc(0, 0, kernels.sclk).isot == "2000-01-01T00:00:00.000"
