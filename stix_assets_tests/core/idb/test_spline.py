"""The numpy spline of the IDB curves gives scipy's ``splrep(s=0)``/``splev`` spline (STIXCore's)."""

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import interpolate

from stix_assets.core.idb.spline import interpolating_spline

_RAW = np.arange(0, 65536, dtype=np.float64)  # every 16-bit raw value, far outside most curves


def _scipy(x, y, values):
    tck = interpolate.splrep(x, y, k=min(3, len(x) - 1), s=0)
    return interpolate.splev(values, tck)


def _close(ours, ref, y) -> float:
    """Largest difference, relative to the value (or, near zero, to the curve's largest point)."""
    return float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), np.max(np.abs(y)))))


@pytest.mark.realdata
def test_every_curve_of_the_kit_idbs_as_scipy_evaluates_it(testdata):
    curves = 0
    for db in sorted((testdata / "idb").glob("*/idb.sqlite")):
        with sqlite3.connect(db) as conn:
            points: dict[str, list[tuple[float, float]]] = {}
            for number, x, y in conn.execute("SELECT CAP_NUMBR, CAP_XVALS, CAP_YVALS FROM CAP"):
                points.setdefault(number, []).append((float(x), float(y)))
        for number, xy in points.items():
            if len(xy) < 3:
                continue  # two points: the straight line (calibration.py)
            x, y = (np.array(v) for v in zip(*sorted(xy), strict=True))
            ours = interpolating_spline(x, y, _RAW)
            assert _close(ours, _scipy(x, y, _RAW), y) < 1e-11, (db.parent.name, number)
            assert np.allclose(interpolating_spline(x, y, x), y, rtol=1e-12, atol=0)
            curves += 1
    assert curves >= 40  # 9 IDB versions, 5 to 14 points


@settings(max_examples=200, deadline=None)
@given(
    x=st.lists(st.integers(0, 65535), min_size=3, max_size=20, unique=True).map(sorted),
    data=st.data(),
)
def test_any_curve_as_scipy_evaluates_it(x, data):
    y = data.draw(
        st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=len(x), max_size=len(x)).filter(
            lambda v: max(map(abs, v)) > 1e-3
        )
    )
    x, y = np.array(x, dtype=np.float64), np.array(y)
    values = np.linspace(x[0] - 1000, x[-1] + 1000, 501)
    assert _close(interpolating_spline(x, y, values), _scipy(x, y, values), y) < 1e-9
