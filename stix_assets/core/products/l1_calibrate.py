"""L1 engineering values: raw parameter columns calibrated with the IDB of each row's time.

Periods of ``IDB_VERSIONS`` are sorted by start, the first open to the past, each ending at the
next start, the last open to the future (domain doc 2.4); a row's time is compared as a STIXCore
float (`stix_assets.core.time.stixcore_float`). Numbers become float64 with the IDB unit
(degC -> K), textual calibrations strings or booleans.
"""

import dataclasses
import logging
from collections.abc import Mapping, Sequence

import astropy.units as u
import numpy as np
from numpy.typing import NDArray

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import IdbStore
from stix_assets.core.idb.calibration import calibrate_parameter
from stix_assets.core.products import l1_families
from stix_assets.core.products.generic import column_name
from stix_assets.core.products.model import L0Product
from stix_assets.core.products.registry import ProductSpec
from stix_assets.core.time import scet_to_float, stixcore_float

__all__ = ["calibrate_columns", "calibrate_product"]

logger = logging.getLogger(__name__)


def _row_versions(
    times: NDArray[np.float64], periods: Sequence[tuple[str, float, float]]
) -> NDArray[np.object_]:
    """IDB version of each row: periods sorted by start, each running to the next start."""
    ordered = sorted(periods, key=lambda p: p[1])
    starts = np.array([p[1] for p in ordered])
    idx = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, None)
    return np.array([p[0] for p in ordered], dtype=object)[idx]


def _layout_parameters(spec: ProductSpec, ssid: int | None, store: IdbStore, versions) -> dict:
    """Column name -> parameter name of a packet-parameter product (later parameters win)."""
    out: dict[str, str] = {}
    for version in versions:
        idb = store.get(version)
        ptype = idb.packet_type(int(spec.service or 0), int(spec.subtypes[0]), ssid)
        if ptype is None:
            continue
        if ptype.is_variable:
            names = [name for _pos, name, _grp, _off in idb.vpd_rows(ptype.tpsd)]
        else:
            names = [name for name, _byte, _bit in idb.plf_rows(ptype.spid)]
        for name in names:
            param = idb.parameter(name)
            if param is not None:
                out[column_name(param.description)] = name
    return out


def _combine(raw: NDArray, groups: list[tuple[NDArray, object]], column: str) -> tuple:
    """One column from per-IDB calibration results; returns (values, unit or None)."""
    results = [r for _, r in groups]
    if all(r is None for r in results):
        return raw, None
    if any(r is None for r in results):
        raise ProductBuildError(f"column {column} is calibrated by only some of its IDB versions")
    if all(isinstance(r, u.Quantity) for r in results):
        unit = results[0].unit  # type: ignore[union-attr]
        out = np.zeros(raw.shape, dtype=np.float64)
        for rows, r in groups:
            out[rows] = r.to_value(unit)  # type: ignore[union-attr]
        return out, unit.to_string()
    if all(np.asarray(r).dtype == bool for r in results):
        out = np.zeros(raw.shape, dtype=bool)
        for rows, r in groups:
            out[rows] = r
        return out, ""
    text = np.empty(raw.shape, dtype=object)
    for rows, r in groups:
        text[rows] = np.asarray(r, dtype=object)
    strings = np.vectorize(str, otypes=[object])(text).astype(str)
    return np.char.encode(strings, "ascii"), ""


def calibrate_columns(
    table: Mapping[str, NDArray],
    parameters: Mapping[str, str],
    row_versions: NDArray[np.object_],
    store: IdbStore,
) -> tuple[dict[str, NDArray], dict[str, str], list[str]]:
    """Engineering values of the raw columns of one table, per IDB version of each row.

    Parameters
    ----------
    table : the columns
    parameters : raw column -> IDB parameter name
    row_versions : IDB version of each row
    store : installed IDBs

    Returns
    -------
    columns : the converted columns only
    units : their units (``""`` for textual ones)
    notes : calibration issues (raw values without a text, ...)
    """
    out: dict[str, NDArray] = {}
    units: dict[str, str] = {}
    notes: list[str] = []
    versions = sorted(set(row_versions.tolist()))
    for col, pname in parameters.items():
        if col not in table:
            continue
        raw = np.asarray(table[col])
        groups = []
        for version in versions:
            rows = np.flatnonzero(row_versions == version)
            idb = store.get(version)
            param = idb.parameter(pname)
            values, issue = (
                (None, None) if param is None else calibrate_parameter(raw[rows], param, idb)
            )
            if issue:
                notes.append(f"{col} (IDB {version}): {issue}")
            groups.append((rows, values))
        values, unit = _combine(raw, groups, col)
        if unit is not None:
            out[col], units[col] = values, unit
    return out, units, notes


def calibrate_product(
    prod: L0Product, ssid: int | None, store: IdbStore
) -> tuple[L0Product, list[str]]:
    """Engineering values of a product's raw columns, row by row with the IDB owning the row.

    The raw columns are the DATA parameter columns of HK and generic products (matched by name to
    the parameters of the packet's IDB layout) and the cal-energy CONTROL columns of
    `stix_assets.core.products.l1_families.raw_control_columns`; the IDB of a row comes from the
    product's ``IDB_VERSIONS`` periods (`_row_versions`).

    Returns
    -------
    prod : the product with the converted columns and their units
    notes : calibration issues (raw values without a text, ...)
    """
    if not prod.idb_versions:
        return prod, []
    notes: list[str] = []
    data, control = dict(prod.data), dict(prod.control)
    data_units, control_units = dict(prod.data_units), dict(prod.control_units)
    if prod.spec.generic or prod.spec.type == "hk":
        versions = sorted({v for v, _, _ in prod.idb_versions})
        params = _layout_parameters(prod.spec, ssid, store, versions)
        params = {c: p for c, p in params.items() if c in data and c not in ("time", "timedel")}
        rows = _row_versions(stixcore_float(data["time"]), prod.idb_versions)
        cols, units, n = calibrate_columns(data, params, rows, store)
        data.update(cols)
        data_units.update({k: v for k, v in units.items() if v})
        notes.extend(n)
    control_params = l1_families.raw_control_columns(prod.spec.key)
    if control_params:
        t = scet_to_float(control["scet_coarse"], control["scet_fine"])
        rows = _row_versions(t, prod.idb_versions)
        cols, units, n = calibrate_columns(control, control_params, rows, store)
        control.update(cols)
        control_units.update({k: v for k, v in units.items() if v})
        notes.extend(n)
    return (
        dataclasses.replace(
            prod, data=data, control=control, data_units=data_units, control_units=control_units
        ),
        notes,
    )
