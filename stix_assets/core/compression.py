"""STIX one-byte integer compression (S/K/M scheme), vectorised.

Source: STIX-TN-0117-FHNW (quasi-exponential compression); the same algorithm as
``stixpy.calibration.compression`` and STIXCore's former ``stixcore/calibration/compression.py``.
A value is sent as one byte with S sign bits (0 or 1), K exponent bits and M mantissa bits,
``S + K + M <= 8``. Magnitudes below ``2**(M + 1)`` are sent exactly; larger ones keep their top
``M + 1`` significant bits. Decompression returns the middle of the range of values that compress
to the byte, and the variance of a uniform distribution over that range.

No known difference from STIXCore.

>>> decompress(92, s=0, k=5, m=3)[0]
array(12799)
>>> compress(12345, s=0, k=5, m=3)
array(92)
"""

import logging

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stix_assets.core.errors import StixError

__all__ = [
    "CompressionError",
    "CompressionRangeError",
    "CompressionSchemeError",
    "compress",
    "decompress",
    "max_value",
]

logger = logging.getLogger(__name__)

_INT64_MAX = 2**63 - 1


class CompressionError(StixError):
    """Base class of compression errors."""


class CompressionSchemeError(CompressionError):
    """Invalid S/K/M parameters (S not 0/1, negative K or M, S + K + M > 8)."""


class CompressionRangeError(CompressionError):
    """A value outside what the scheme can represent (or a compressed byte outside 0..255)."""


def _check_scheme(s: int, k: int, m: int) -> None:
    if s not in (0, 1):
        raise CompressionSchemeError(f"S must be 0 or 1, got {s}")
    if k < 0 or m < 0:
        raise CompressionSchemeError(f"K and M must be >= 0, got K={k} M={m}")
    if s + k + m > 8:
        raise CompressionSchemeError(f"S + K + M must be <= 8, got {s}+{k}+{m}")


def max_value(*, k: int, m: int) -> int:
    """Largest magnitude representable with K exponent and M mantissa bits.

    ``2**(2**K - 2) * 2**(M + 1) - 1`` (STIX-TN-0117); with K = 0 there is no exponent and the
    M bits send ``0 .. 2**M - 1`` exactly.
    """
    if k == 0:
        return 2**m - 1
    return 2 ** (2**k - 2) * 2 ** (m + 1) - 1


def compress(values: ArrayLike, *, s: int, k: int, m: int) -> NDArray[np.int64]:
    """Compress integers to one byte each.

    Parameters
    ----------
    values : int array-like
        Values to compress; negative values need ``s=1``.
    s, k, m : int
        Sign, exponent and mantissa bits.

    Returns
    -------
    int64 array of compressed bytes (0..255).

    Raises
    ------
    CompressionSchemeError
        Invalid S/K/M.
    CompressionRangeError
        A negative value with ``s=0`` or a magnitude above `max_value`.

    Examples
    --------
    >>> compress(-1984, s=1, k=3, m=4)
    array(255)
    """
    _check_scheme(s, k, m)
    v = np.asarray(values)
    if not np.issubdtype(v.dtype, np.integer):
        raise CompressionRangeError(f"values must be integers, got dtype {v.dtype}")
    v = v.astype(np.int64)
    negative = v < 0
    if s == 0 and np.any(negative):
        raise CompressionRangeError("negative values need S=1")
    mag = np.abs(v)
    limit = min(max_value(k=k, m=m), _INT64_MAX)
    if np.any(mag > limit):
        raise CompressionRangeError(f"magnitude above {limit} for K={k} M={m}")
    exact = mag < 2 ** (m + 1)
    safe = np.where(exact, 2 ** (m + 1), mag)
    kv = _floor_log2(safe) - m  # shifts that leave M + 1 significant bits
    mantissa = (safe >> kv) & (2**m - 1)
    out = np.where(exact, mag, ((kv + 1) << m) | mantissa)
    if s == 1:
        out = np.where(negative, out + 128, out)
    return out.astype(np.int64)


def _floor_log2(x: NDArray[np.int64]) -> NDArray[np.int64]:
    """Exact floor(log2(x)) for positive int64 (no float rounding)."""
    out = np.zeros(x.shape, dtype=np.int64)
    x = x.copy()
    for step in (32, 16, 8, 4, 2, 1):
        big = x >= (np.int64(1) << step)
        out = np.where(big, out + step, out)
        x = np.where(big, x >> step, x)
    return out


def decompress(
    values: ArrayLike, *, s: int, k: int, m: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Decompress bytes to integers plus the variance of each value.

    Parameters
    ----------
    values : int array-like
        Compressed bytes, 0..255.
    s, k, m : int
        Sign, exponent and mantissa bits.

    Returns
    -------
    values : int64 array, the middle of each byte's range
    variance : float64 array, ``((2**e)**2 + 2) / 12`` for inexact values, else 0

    Raises
    ------
    CompressionSchemeError
        Invalid S/K/M.
    CompressionRangeError
        A byte outside 0..255, or one whose value does not fit int64 (only with K >= 6).

    Examples
    --------
    >>> decompress(255, s=1, k=3, m=4)[0]
    array(-2015)
    """
    _check_scheme(s, k, m)
    c = np.asarray(values)
    if not np.issubdtype(c.dtype, np.integer):
        raise CompressionRangeError(f"compressed values must be integers, got dtype {c.dtype}")
    c = c.astype(np.int64)
    if np.any((c < 0) | (c > 255)):
        raise CompressionRangeError("compressed values must be within 0..255")
    if s == 1:
        negative = c >= 128
        mag = c & 127
    else:
        negative = np.zeros(c.shape, dtype=bool)
        mag = c
    exact = mag < 2 ** (m + 1)
    e = np.where(exact, 1, (mag >> m) - 1)
    if np.any(~exact & (e + m + 1 > 62)):
        raise CompressionRangeError(f"decompressed value exceeds int64 for K={k} M={m}")
    mant = 2**m + (mag & (2**m - 1))
    value = np.where(exact, mag, (mant << e) + (np.int64(1) << (e - 1)) - 1)
    variance = np.where(exact, 0.0, ((2.0**e) ** 2 + 2.0) / 12.0)
    value = np.where(negative, -value, value)
    return value.astype(np.int64), variance.astype(np.float64)
