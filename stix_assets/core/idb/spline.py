"""The interpolating B-spline of an IDB calibration curve, in numpy (no scipy import).

A CAP curve of more than two points is evaluated as STIXCore does it: the B-spline of degree
``k = min(3, points - 1)`` through the points, as FITPACK's ``curfit`` makes it with smoothing 0
(``scipy.interpolate.splrep(x, y, k=k, s=0)``) and ``splev`` evaluates it, extrapolating with
the end pieces. With smoothing 0 that spline is fixed by its knots alone: ``k + 1`` knots at
each end point and, for ``k = 3``, one interior knot at every point but the two first and the
two last (FITPACK's choice for odd degrees; a quadratic has only 3 points, hence no interior
knot). The coefficients solve the collocation system (the spline meets every point); evaluation
is the Cox-de Boor recursion on the knot interval of each value, the end intervals extended
outwards.

Importing ``scipy.interpolate`` costs 0.3-0.65 s of every L1 process; this costs nothing to
import. `stix_assets_tests/core/idb/test_spline.py` compares it with scipy on every curve of the
kit's IDBs over the whole raw range.
"""

import numpy as np
from numpy.typing import NDArray

__all__ = ["interpolating_spline"]


def _knots(x: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    interior = x[2:-2] if k == 3 else x[:0]  # k == 2: three points, no interior knot
    return np.concatenate([np.full(k + 1, x[0]), interior, np.full(k + 1, x[-1])])


def _interval(t: NDArray[np.float64], k: int, values: NDArray[np.float64]) -> NDArray[np.intp]:
    """Index ``l`` with ``t[l] <= v < t[l + 1]``, clamped to the first and last real interval."""
    n = len(t)
    index = np.searchsorted(t, values, side="right") - 1
    return np.clip(index, k, n - k - 2)


def _basis(
    t: NDArray[np.float64], k: int, values: NDArray[np.float64], index: NDArray[np.intp]
) -> NDArray[np.float64]:
    """The ``k + 1`` B-splines that are not zero on each value's interval (Cox-de Boor)."""
    out = np.zeros((len(values), k + 1))
    out[:, 0] = 1.0
    left = np.zeros((len(values), k + 1))
    right = np.zeros((len(values), k + 1))
    for j in range(1, k + 1):
        left[:, j] = values - t[index + 1 - j]
        right[:, j] = t[index + j] - values
        saved = np.zeros(len(values))
        for r in range(j):
            term = out[:, r] / (right[:, r + 1] + left[:, j - r])
            out[:, r] = saved + right[:, r + 1] * term
            saved = left[:, j - r] * term
        out[:, j] = saved
    return out


def interpolating_spline(
    x: NDArray[np.float64], y: NDArray[np.float64], values: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The spline through the points ``(x, y)``, evaluated at ``values``.

    ``x`` is strictly increasing, with 3 or more points (2 points are a straight line, left to
    the caller).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    k = min(3, len(x) - 1)
    t = _knots(x, k)
    at_points = _interval(t, k, x)
    collocation = np.zeros((len(x), len(x)))
    rows = np.arange(len(x))[:, None]
    collocation[rows, at_points[:, None] - k + np.arange(k + 1)] = _basis(t, k, x, at_points)
    coefficients = np.linalg.solve(collocation, y)
    flat = np.asarray(values, dtype=np.float64).ravel()
    index = _interval(t, k, flat)
    weights = _basis(t, k, flat, index)
    picked = coefficients[index[:, None] - k + np.arange(k + 1)]
    return np.sum(weights * picked, axis=1).reshape(np.shape(values))
