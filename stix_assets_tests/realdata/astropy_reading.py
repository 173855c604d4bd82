"""Our products and STIXCore's, read the way their users read them: through astropy.

`core.fits.read_fits` reads tables with fitsio, and a file that fitsio reads well can still come
out differently in astropy (a string sub-array without the string width in ``TDIM`` was one
concatenated string per row there). The reference tests therefore also read both files with
``astropy.io.fits`` (``hdul[name].data[col]``) and with ``astropy.table.Table.read(path,
hdu=name)`` and compare every column of every table extension: the same names in the same order,
the same kind (number, bool or text), the same shape and the same values.

Kinds, not dtypes: STIXCore's files carry astropy's serialized-column metadata (``time``,
``timedel``, ``counts`` ... were ``Quantity`` columns), so ``Table.read`` rebuilds those as
``Quantity`` and hands back float64 where the file holds uint32/uint64; ours carry no such
metadata and come back with the file's own integer type. The FITS formats themselves are compared
by the tests through ``fits.open`` column definitions.

Values: text is compared with trailing blanks removed (string widths may differ, see each test);
numbers exactly, or within ``rtol`` and, for ``time``/``timedel``, within ``time_atol`` (the
tolerances of the test that calls). ``Table.read`` masks NaN and empty strings by default and
STIXCore's files (astropy-serialized Quantity columns) come back unmasked, so masks are ignored
and the underlying values compared.
"""

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from numpy.typing import NDArray

__all__ = ["READERS", "astropy_differences", "read_columns"]

READERS = ("fits.open", "Table.read")
_TIME_COLUMNS = ("time", "timedel")

Adjust = Callable[[NDArray], NDArray]


def read_columns(path: Path, hdu: str, reader: str) -> dict[str, NDArray]:
    """Every column of one table extension as a plain numpy array, read by ``reader``."""
    if reader == "fits.open":
        with fits.open(path) as hdul:
            data = hdul[hdu].data
            return {name: np.array(data[name]) for name in data.names}
    table = Table.read(path, hdu=hdu)
    return {name: np.array(np.ma.getdata(table[name])) for name in table.colnames}


def _kind(values: NDArray) -> str:
    kind = values.dtype.kind
    return "text" if kind in "SU" else "bool" if kind == "b" else "number"


def _text(values: NDArray) -> NDArray:
    if values.dtype.kind == "S":
        values = np.char.decode(values, "ascii")
    return np.char.rstrip(values.astype(str))


def _same_values(name: str, ours: NDArray, ref: NDArray, rtol: float, time_atol: float) -> bool:
    if _kind(ref) == "text":
        return bool(np.array_equal(_text(ours), _text(ref)))
    if name in _TIME_COLUMNS and time_atol > 0:
        return bool(np.all(np.abs(ours.astype(float) - ref.astype(float)) <= time_atol))
    if rtol == 0:
        return bool(np.array_equal(ours, ref, equal_nan=ref.dtype.kind == "f"))
    return bool(
        np.allclose(ours.astype(float), ref.astype(float), rtol=rtol, atol=0, equal_nan=True)
    )


def _column_problems(
    where: str,
    ours: Mapping[str, NDArray],
    ref: Mapping[str, NDArray],
    *,
    rtol: float,
    time_atol: float,
    expected: Mapping[str, Adjust],
    skip: frozenset[str],
) -> Iterator[str]:
    if list(ours) != list(ref):
        yield f"{where} columns {list(ours)} != {list(ref)}"
        return
    for name, ref_values in ref.items():
        if name in skip:
            continue
        mine = ours[name]
        want = expected[name](ref_values) if name in expected else ref_values
        if _kind(mine) != _kind(want):
            yield f"{where}.{name} kind {mine.dtype} != {want.dtype}"
        elif mine.shape != want.shape:
            yield f"{where}.{name} shape {mine.shape} != {want.shape}"
        elif not _same_values(name, mine, want, rtol, time_atol):
            yield f"{where}.{name} values differ"


def astropy_differences(
    ours: Path,
    ref: Path,
    *,
    rtol: float = 0.0,
    time_atol: float = 0.0,
    expected: Mapping[tuple[str, str], Adjust] | None = None,
    skip: Mapping[str, frozenset[str]] | None = None,
) -> list[str]:
    """Differences between two product files as both astropy readers see them.

    Parameters
    ----------
    ours, ref : our file and STIXCore's
    rtol : relative tolerance for numbers (0: exact)
    time_atol : absolute tolerance for ``time``/``timedel`` in their file unit (0: as ``rtol``)
    expected : ``(hdu, column)`` -> function of the reference values giving ours, for documented
        differences (e.g. the masked time-not-synchronised bit)
    skip : ``hdu`` -> columns not compared (documented differences only); ``"*"`` skips the HDU

    Returns
    -------
    list of str
        One line per difference, naming the reader, file, HDU and column; empty when equal.
    """
    expected = expected or {}
    skip = skip or {}
    with fits.open(ref) as hdul:
        names = [hdu.name for hdu in hdul[1:]]
    with fits.open(ours) as hdul:
        if [hdu.name for hdu in hdul[1:]] != names:
            return [f"{ours.name} HDUs {[h.name for h in hdul[1:]]} != {names}"]
    problems: list[str] = []
    for reader in READERS:
        for hdu in names:
            if "*" in skip.get(hdu, frozenset()):
                continue
            problems.extend(
                _column_problems(
                    f"{reader} {ours.name}:{hdu}",
                    read_columns(ours, hdu, reader),
                    read_columns(ref, hdu, reader),
                    rtol=rtol,
                    time_atol=time_atol,
                    expected={c: f for (h, c), f in expected.items() if h == hdu},
                    skip=skip.get(hdu, frozenset()),
                )
            )
    return problems
