"""Raw to engineering values with the IDB calibrations (domain doc 2.3), vectorised per parameter.

A parameter is calibrated when its PCF row has a ``PCF_CURTX``:

* ``PCF_CATEG == 'S'``: textual (TXP): the first row with ``FROM <= raw <= TO`` gives the text;
  ``True``/``False`` become booleans; a raw value without a row is kept and reported.
* ``PCF_CATEG == 'N'`` with CAP points: a curve; 2 points give the straight line through them
  (extrapolating), more give a cubic B-spline through the points, the spline STIXCore gets from
  ``scipy.interpolate.splrep`` with ``s=0`` (`stix_assets.core.idb.spline`, without scipy; with
  3 points the spline is quadratic, where STIXCore fails).
* ``PCF_CATEG == 'N'`` with an MCF row: the polynomial ``A0 + A1 x + ... + A4 x**4`` (POL1..POL5;
  empty coefficients count as 0).

The rate control regime parameters NIX00276 (QL) and NIX00401 (BSD) keep their raw values although
the IDB gives them a textual calibration. Units come from ``PCF_UNIT`` through astropy; ``degC`` is
converted to kelvin and ``S`` (written for seconds in IDB 2.26.36) is read as seconds.
"""

import logging

import astropy.units as u
import numpy as np
from numpy.typing import NDArray

from stix_assets.core.idb.model import Idb
from stix_assets.core.idb.rows import ParameterDef
from stix_assets.core.idb.spline import interpolating_spline
from stix_assets.core.idb.table import ParameterTable

__all__ = ["KEEP_RAW", "calibrate", "calibrate_parameter"]

logger = logging.getLogger(__name__)

KEEP_RAW = frozenset({"NIX00276", "NIX00401"})
_UNIT_ALIASES = {"S": "s", "%": "percent", "degC": "deg_C"}


def _unit(text: str | None) -> u.UnitBase | None:
    if text is None:
        return None
    return u.Unit(_UNIT_ALIASES.get(text, text))


def _textual(raw: NDArray, rows: list[tuple[str, str, str]]) -> tuple[NDArray, int]:
    """Look up texts; returns (values, number of raw values without a row)."""
    out = np.empty(raw.shape, dtype=object)
    done = np.zeros(raw.shape, dtype=bool)
    texts = {t for *_, t in rows}
    as_bool = texts <= {"True", "False"}
    for lo, hi, text in rows:
        hit = ~done & (raw >= float(lo)) & (raw <= float(hi))
        out[hit] = (text == "True") if as_bool else text
        done |= hit
    missing = int(np.count_nonzero(~done))
    if missing:
        out[~done] = raw[~done]
    elif as_bool:
        out = out.astype(bool)
    return out, missing


def _curve(raw: NDArray, points: list[tuple[str, str]]) -> NDArray[np.float64]:
    xy = sorted((float(x), float(y)) for x, y in points)
    x = np.array([p[0] for p in xy])
    y = np.array([p[1] for p in xy])
    r = raw.astype(np.float64)
    if len(xy) == 2:
        slope = (y[1] - y[0]) / (x[1] - x[0])
        return y[0] + slope * (r - x[0])
    return interpolating_spline(x, y, r)


def _polynomial(raw: NDArray, coeffs: tuple[object, ...]) -> NDArray[np.float64]:
    r = raw.astype(np.float64)
    out = np.zeros(r.shape, dtype=np.float64)
    for power, a in enumerate(coeffs):
        if a is not None and float(a) != 0.0:  # type: ignore[arg-type]
            out += float(a) * r**power  # type: ignore[arg-type]
    return out


def calibrate_parameter(
    raw: NDArray, param: ParameterDef, idb: Idb
) -> tuple[object | None, str | None]:
    """Engineering values of one parameter.

    Returns
    -------
    values : engineering values (a `~astropy.units.Quantity` when the IDB gives a unit, a bool or
        object array for textual calibrations), or ``None`` when the parameter is not calibrated
    issue : a note when something could not be calibrated as the IDB says, else ``None``
    """
    curtx = param.curtx
    if curtx is None or param.name in KEEP_RAW or raw.dtype == object:
        return None, None
    raw = np.asarray(raw)
    if param.categ == "S":
        rows = idb.textual(curtx)
        if not rows:
            return None, f"{param.name}: textual calibration {curtx} has no TXP rows"
        values, missing = _textual(raw, rows)
        issue = f"{param.name}: {missing} raw values outside {curtx}, kept raw" if missing else None
        return values, issue
    if param.categ != "N":
        return None, f"{param.name}: calibration category {param.categ!r} not supported"
    points = idb.curve(curtx)
    if len(points) >= 2:
        values = _curve(raw, points)
    elif idb.polynomial(curtx) is not None:
        values = _polynomial(raw, idb.polynomial(curtx) or ())
    else:
        return None, f"{param.name}: calibration {curtx} has neither 2+ CAP points nor MCF row"
    try:
        unit = _unit(param.unit)
    except ValueError:
        return values, f"{param.name}: unknown unit {param.unit!r}, values left without unit"
    if unit is None:
        return values, None
    quantity = values * unit
    if unit == u.deg_C:
        quantity = quantity.to(u.K, equivalencies=u.temperature())
    return quantity, None


def calibrate(table: ParameterTable, idb: Idb) -> ParameterTable:
    """Attach engineering values for every calibrated parameter of ``table``.

    Parameters
    ----------
    table : raw parameter values
    idb : the IDB the table was decoded with (its calibrations are used)

    Returns
    -------
    ParameterTable
        A copy with ``engineering`` filled and ``calibration_issues`` noting raw values kept.
    """
    eng: dict[str, object] = {}
    issues: list[str] = []
    for name, raw in table.values.items():
        param = idb.parameter(name)
        if param is None:
            continue
        values, issue = calibrate_parameter(raw, param, idb)
        if values is not None:
            eng[name] = values
        if issue is not None:
            issues.append(issue)
    if issues:
        logger.warning(
            "calibration issues spid=%d idb=%s count=%d first=%s",
            table.spid,
            idb.version,
            len(issues),
            issues[0],
        )
    return table.with_engineering(eng, tuple(issues))
