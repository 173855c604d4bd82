"""Decompression overflow: values at the top of their compression scheme's range."""

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stix_assets.core.compression import decompress
from stix_assets.core.quality.base import (
    LISTED,
    WARN,
    QualityResult,
    QualityTable,
    not_applicable,
    read_table,
)

__all__ = [
    "check_decompression_overflow",
    "saturated_mask",
    "skm_max_value",
]

logger = logging.getLogger(__name__)


def skm_max_value(s: int, k: int, m: int) -> int:
    """Largest magnitude a compressed byte of scheme (S, K, M) decompresses to.

    >>> skm_max_value(0, 0, 7)
    127
    """
    top = (1 << (k + m)) - 1
    return int(decompress(top, s=0, k=k, m=m)[0])


def saturated_mask(
    values: ArrayLike, skm: ArrayLike, *, skip: Iterable[tuple[int, int, int]] = ()
) -> NDArray[np.bool_]:
    """Values at the top of their compression scheme (the on-board value may have been larger).

    Parameters
    ----------
    values : (n, ...) decompressed values
    skm : (n, 3) scheme of each row
    skip : schemes whose rows are never flagged (e.g. trigger scaling (0, 0, 7), K + M = 0)

    Returns
    -------
    bool array shaped like ``values``
    """
    v = np.abs(np.asarray(values).astype(np.int64))
    schemes = np.asarray(skm, dtype=np.int64).reshape(-1, 3)
    limit = np.full(len(schemes), np.iinfo(np.int64).max, dtype=np.int64)
    skipped = {tuple(x) for x in skip}
    for s, k, m in {tuple(x) for x in schemes.tolist()}:
        if (s, k, m) in skipped or k + m == 0 or k + m > 8 or (1 << k) - 2 + m + 1 > 62:
            continue
        limit[np.all(schemes == (s, k, m), axis=1)] = skm_max_value(s, k, m)
    return v >= limit.reshape((-1,) + (1,) * (v.ndim - 1))


_TRIGGER_SCALED = (0, 0, 7)  # triggers unscaled after decompression (skm.TRIGGER_SCALED_SKM)


def _overflow_in(table: QualityTable) -> dict[str, int]:
    control, data = table.control, table.data
    if control is None or data is None or "control_index" not in (data.dtype.names or ()):
        return {}
    out: dict[str, int] = {}
    index = control["index"].astype(np.int64) if "index" in control.dtype.names else None
    for name in control.dtype.names or ():
        if not (name.startswith("compression_scheme_") and name.endswith("_skm")):
            continue
        column = name[len("compression_scheme_") : -len("_skm")]
        if column not in (data.dtype.names or ()):
            continue
        ci = data["control_index"].astype(np.int64)
        rows = np.searchsorted(index, ci) if index is not None else ci
        skm = np.asarray(control[name]).reshape(len(control), 3)[np.clip(rows, 0, len(control) - 1)]
        skip = [_TRIGGER_SCALED] if column == "triggers" else []
        out[column] = int(saturated_mask(data[column], skm, skip=skip).sum())
    return out


def check_decompression_overflow(files: Sequence[Path | str]) -> QualityResult:
    """Check that no decompressed value sits at the maximum of its S/K/M scheme (WARN)."""
    per_file = []
    for path in files:
        table = read_table(path)
        found = _overflow_in(table)
        if found:
            per_file.append({"file": table.name, **found})
    if not per_file:
        return not_applicable(WARN, "no compressed columns in this partition", n_files=len(files))
    total = sum(v for f in per_file for k, v in f.items() if k != "file")
    return QualityResult(
        passed=total == 0,
        severity=WARN,
        summary=f"{total} values at the top of their compression scheme",
        metadata={"saturated": total, "files": per_file[:LISTED]},
    )
