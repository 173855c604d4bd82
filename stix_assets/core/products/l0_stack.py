"""Stacking and splitting L0 products (domain doc 3.7).

Products of one family from several LB files are stacked with `concat_products` (DATA rows
unique on the centisecond time, first wins; CONTROL rows re-indexed), and a daily product is cut
into SCET days by the day of its DATA bin centres with `split_by_day`. L1 uses `concat_products`
too, to stack the L0 files around a UTC day.

Only products with the same columns and per-row shapes stack (`L0Product.signature`): a packet
whose counters say 5 energies where its neighbours say 4 cannot share their DATA table.
`stack_by_shape` stacks each shape apart; where two shapes fall on one day, `keep_largest` keeps
the one with the most rows and hands back the others, whose packets the caller reports.
"""

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.products.dtypes import min_uint
from stix_assets.core.products.model import L0Product
from stix_assets.core.time import SCET_EPOCH, SECONDS_PER_DAY

__all__ = ["concat_products", "keep_largest", "shape_difference", "split_by_day", "stack_by_shape"]


def _take(table: Mapping[str, NDArray], idx: NDArray) -> dict[str, NDArray]:
    return {k: np.asarray(v)[idx] for k, v in table.items()}


def _fit_index(col: NDArray, template: NDArray) -> NDArray:
    dtype = template.dtype
    if dtype.kind in "ui" and len(col) and int(col.max()) > np.iinfo(dtype).max:
        dtype = np.dtype(min_uint(col))
    return col.astype(dtype)


def _stack(cols: list[NDArray]) -> NDArray:
    if cols[0].dtype.kind == "S":
        width = max(c.dtype.itemsize for c in cols)
        return np.concatenate([c.astype(f"S{width}") for c in cols])
    return np.concatenate(cols)


def concat_products(prods: Sequence[L0Product]) -> L0Product:
    """Stack products of one family: control re-indexed, data unique on centisecond time.

    Rows are sorted by time; of rows with the same rounded centisecond time the first (in input
    order) is kept; control rows no longer referenced are dropped and indices renumbered. One
    product goes through the same steps: a day built from one LB file and the same day built from
    it and its neighbours must get the same rows (a hypothesis test found 6 duplicate bins kept in
    the one case and dropped in the other).
    """
    base = 0
    controls, datas = [], []
    for p in prods:
        c = dict(p.control)
        d = dict(p.data)
        c["index"] = c["index"].astype(np.int64) + base
        d["control_index"] = d["control_index"].astype(np.int64) + base
        base = int(c["index"].max()) + 1 if len(c["index"]) else base
        controls.append(c)
        datas.append(d)
    control = {k: _stack([c[k] for c in controls]) for k in controls[0]}
    data = {k: _stack([d[k] for d in datas]) for k in datas[0]}
    first = prods[0]
    key = np.round(data["time"] * 100.0).astype(np.int64)
    _, keep = np.unique(key, return_index=True)
    data = _take(data, keep)
    ranges: dict[str, tuple[float, float]] = {}
    for p in prods:
        for v, s, e in p.idb_versions:
            lo, hi = ranges.get(v, (s, e))
            ranges[v] = (min(lo, s), max(hi, e))
    merged = dataclasses.replace(
        first,
        control=control,
        data=data,
        idb_versions=tuple((v, s, e) for v, (s, e) in sorted(ranges.items())),
        parents=tuple(sorted({x for p in prods for x in p.parents})),
        raw_files=tuple(sorted({x for p in prods for x in p.raw_files})),
        data_range=(
            min(p.data_range[0] for p in prods),
            max(p.data_range[1] for p in prods),
        ),
    )
    return _reindex(merged, template=first)


def _reindex(prod: L0Product, template: L0Product | None = None) -> L0Product:
    """Keep referenced control rows, renumber ``index``/``control_index`` from 0."""
    template = template or prod
    used, inverse = np.unique(prod.data["control_index"].astype(np.int64), return_inverse=True)
    cidx = prod.control["index"].astype(np.int64)
    pos = np.searchsorted(cidx, used) if np.all(np.diff(cidx) > 0) else None
    if pos is None:
        order = np.argsort(cidx, kind="stable")
        pos = order[np.searchsorted(cidx[order], used)]
    control = _take(prod.control, pos)
    control["index"] = _fit_index(np.arange(len(pos)), template.control["index"])
    data = dict(prod.data)
    data["control_index"] = _fit_index(
        inverse.reshape(-1).astype(np.int64), template.data["control_index"]
    )
    return dataclasses.replace(prod, control=control, data=data)


def split_by_day(prod: L0Product) -> list[L0Product]:
    """Split a daily product by the SCET day of its DATA bin centres (domain doc 3.7)."""
    days = np.floor(prod.data["time"] / SECONDS_PER_DAY).astype(np.int64)
    out = []
    for day in np.unique(days).tolist():
        idx = np.flatnonzero(days == day)
        part = dataclasses.replace(
            prod,
            data=_take(prod.data, idx),
            scet_day=SCET_EPOCH + np.timedelta64(day, "D").astype(object),
        )
        out.append(_reindex(part, template=prod))
    return out


def stack_by_shape(prods: Sequence[L0Product]) -> list[L0Product]:
    """Stack products of one family, one stack per signature (in order of first appearance)."""
    groups: dict[tuple, list[L0Product]] = {}
    for p in prods:
        groups.setdefault(p.signature(), []).append(p)
    return [concat_products(g) for g in groups.values()]


def keep_largest(prods: Sequence[L0Product]) -> tuple[L0Product, list[L0Product]]:
    """The product with the most DATA rows (the first of equals) and the others."""
    order = sorted(range(len(prods)), key=lambda i: (-prods[i].n_rows, i))
    return prods[order[0]], [prods[i] for i in order[1:]]


def shape_difference(kept: L0Product, other: L0Product) -> str:
    """The first column whose presence, kind or per-row shape differs, as text."""
    a = {(t, n): (k, s) for t, n, k, s in kept.signature()}
    b = {(t, n): (k, s) for t, n, k, s in other.signature()}
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            table, name = key
            ours = "absent" if key not in b else f"{b[key][0]}{list(b[key][1])}"
            theirs = "absent" if key not in a else f"{a[key][0]}{list(a[key][1])}"
            return f"{table} column {name!r} is {ours}, {theirs} in the kept rows"
    return "same columns"
