import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stix_assets.core.compression import (
    CompressionRangeError,
    CompressionSchemeError,
    compress,
    decompress,
    max_value,
)


def test_reference_values():
    # STIX-TN-0117-FHNW / stixpy reference pairs (domain doc 5.1)
    assert int(decompress(92, s=0, k=5, m=3)[0]) == 12799
    assert int(decompress(255, s=1, k=3, m=4)[0]) == -2015
    assert int(compress(12345, s=0, k=5, m=3)) == 92
    assert int(compress(-1984, s=1, k=3, m=4)) == 255


def test_ql_light_curve_values():
    # bytes of the kit's 21_6_30 packet against what STIXCore wrote to L0 (counts, comp_err)
    values, variance = decompress(np.array([50, 49, 80]), s=0, k=5, m=3)
    assert values.tolist() == [335, 303, 4351]
    np.testing.assert_allclose(np.sqrt(variance[:1]), 9.246621, rtol=1e-6)


def test_vectorised_shapes_and_dtypes():
    v, var = decompress(np.arange(256).reshape(16, 16), s=0, k=4, m=4)
    assert v.shape == var.shape == (16, 16)
    assert v.dtype == np.int64
    assert var.dtype == np.float64
    assert (var[v < 32] == 0).all()


@pytest.mark.parametrize(
    ("s", "k", "m", "match"),
    [(2, 3, 3, "S must be 0 or 1"), (0, -1, 3, "K and M"), (1, 4, 4, r"S \+ K \+ M")],
)
def test_bad_scheme(s, k, m, match):
    with pytest.raises(CompressionSchemeError, match=match):
        decompress(1, s=s, k=k, m=m)
    with pytest.raises(CompressionSchemeError, match=match):
        compress(1, s=s, k=k, m=m)


def test_out_of_range_inputs():
    with pytest.raises(CompressionRangeError, match=r"0\.\.255"):
        decompress([0, 256], s=0, k=5, m=3)
    with pytest.raises(CompressionRangeError, match=r"0\.\.255"):
        decompress(-1, s=0, k=5, m=3)
    with pytest.raises(CompressionRangeError, match="negative values need S=1"):
        compress(-1, s=0, k=5, m=3)
    with pytest.raises(CompressionRangeError, match="magnitude above"):
        compress(max_value(k=3, m=4) + 1, s=1, k=3, m=4)
    with pytest.raises(CompressionRangeError, match="exceeds int64"):
        decompress(255, s=0, k=7, m=1)
    with pytest.raises(CompressionRangeError, match="integers"):
        decompress(np.array([1.5]), s=0, k=5, m=3)


# K up to 5: with K >= 6 the largest values no longer fit int64 (tested separately)
schemes = st.tuples(st.integers(0, 1), st.integers(0, 5), st.integers(0, 7)).filter(
    lambda t: sum(t) <= 8
)


@given(schemes, st.data())
@example((0, 5, 3), None)  # the QL light-curve scheme
def test_exact_below_two_to_m_plus_one(scheme, data):
    s, k, m = scheme
    limit = min(2 ** (m + 1), max_value(k=k, m=m) + 1)
    vals = np.arange(-(limit - 1) if s else 0, limit)
    c = compress(vals, s=s, k=k, m=m)
    back, var = decompress(c, s=s, k=k, m=m)
    assert back.tolist() == vals.tolist()
    assert (var == 0).all()


@given(schemes, st.data())
def test_round_trip_within_bin_and_monotonic(scheme, data):
    s, k, m = scheme
    top = max_value(k=k, m=m)
    v = np.array(sorted(data.draw(st.lists(st.integers(0, top), min_size=1, max_size=50))))
    c = compress(v, s=s, k=k, m=m)
    assert ((c >= 0) & (c <= 255)).all()
    assert (np.diff(c) >= 0).all()  # monotonic
    back, var = decompress(c, s=s, k=k, m=m)
    half = np.sqrt(12 * var) / 2  # half width of the bin
    assert (np.abs(back - v) <= half + 1).all()
    # compressing the decompressed value gives the same byte
    assert compress(back, s=s, k=k, m=m).tolist() == c.tolist()
    if s:
        assert compress(-v, s=s, k=k, m=m).tolist() == np.where(v > 0, c + 128, c).tolist()


@given(schemes)
def test_largest_compressed_value(scheme):
    s, k, m = scheme
    top = max_value(k=k, m=m)
    c = int(compress(top, s=s, k=k, m=m))
    back = int(decompress(c, s=s, k=k, m=m)[0])
    assert back <= top
    assert c == 2 ** (k + m) - 1  # the largest code
