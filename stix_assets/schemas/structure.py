"""The structure of a product file as the schemas describe it, and the check of a file against it."""

from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from stix_assets.schemas import family_of_level, load_schema, product_kind

__all__ = ["file_structure", "merge_structures", "validate_file"]


def _dtype(values: np.ndarray) -> str:
    kind = values.dtype.kind
    if kind in "SU":
        return "str"
    return values.dtype.newbyteorder("=").name


def file_structure(path: Path | str) -> dict[str, Any]:
    """HDUs, columns (dtype as astropy reads it, per-row shape, unit) and primary keywords."""
    with fits.open(path) as hdul:
        hdus = []
        for i, hdu in enumerate(hdul):
            entry: dict[str, Any] = {"name": "PRIMARY" if i == 0 else hdu.name}
            if i > 0 and hasattr(hdu, "columns"):
                entry["columns"] = [
                    {
                        "name": col.name,
                        "dtype": _dtype(np.asarray(hdu.data[col.name])),
                        "shape": list(np.asarray(hdu.data[col.name]).shape[1:]),
                        "unit": str(col.unit or ""),
                    }
                    for col in hdu.columns
                ]
            hdus.append(entry)
        keywords = [k for k in dict.fromkeys(hdul[0].header) if k not in ("COMMENT", "HISTORY")]
        return {"hdus": hdus, "required_keywords": keywords}


def merge_structures(structures: list[dict[str, Any]]) -> dict[str, Any]:
    """One product kind's schema from the structures of several files.

    Dimensions that differ become ``null``, keywords are the ones every file has, HDUs not in
    every file are optional.
    """
    first = structures[0]
    keywords = [
        k
        for k in first["required_keywords"]
        if all(k in s["required_keywords"] for s in structures)
    ]
    hdus: list[dict[str, Any]] = []
    names = list(dict.fromkeys(h["name"] for s in structures for h in s["hdus"]))
    for name in names:
        seen = [h for s in structures for h in s["hdus"] if h["name"] == name]
        entry: dict[str, Any] = {"name": name}
        if len(seen) < len(structures):
            entry["optional"] = True
        if "columns" in seen[0]:
            cols = []
            for col in seen[0]["columns"]:
                same = [c for h in seen for c in h.get("columns", []) if c["name"] == col["name"]]
                shape = [
                    d
                    if all(
                        len(c["shape"]) == len(col["shape"]) and c["shape"][i] == d for c in same
                    )
                    else None
                    for i, d in enumerate(col["shape"])
                ]
                cols.append({**col, "shape": shape})
            entry["columns"] = cols
        hdus.append(entry)
    return {"hdus": hdus, "required_keywords": keywords}


def _shape_ok(want: list[int | None], got: list[int]) -> bool:
    return len(want) == len(got) and all(
        w is None or w == g for w, g in zip(want, got, strict=True)
    )


def _hdu_problems(name: str, want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    problems = []
    want_cols = {c["name"]: c for c in want.get("columns", [])}
    got_cols = {c["name"]: c for c in got.get("columns", [])}
    if list(want_cols) != list(got_cols):
        problems.append(f"{name} columns {list(got_cols)} != schema {list(want_cols)}")
    for col in (c for c in want_cols if c in got_cols):
        w, g = want_cols[col], got_cols[col]
        if w["dtype"] != g["dtype"]:
            problems.append(f"{name}.{col} dtype {g['dtype']} != schema {w['dtype']}")
        if not _shape_ok(w["shape"], g["shape"]):
            problems.append(f"{name}.{col} shape {g['shape']} != schema {w['shape']}")
        if w["unit"] != g["unit"]:
            problems.append(f"{name}.{col} unit {g['unit']!r} != schema {w['unit']!r}")
    return problems


def validate_file(path: Path | str) -> list[str]:
    """What in a product file breaks its schema (empty list: it conforms).

    The schema is chosen by the ``LEVEL`` keyword and the product kind of the file name; the
    file's ``SCHEMAV`` must be the schema's version.
    """
    path = Path(path)
    level = str(fits.getval(path, "LEVEL"))
    schema = load_schema(family_of_level(level))
    kind = product_kind(path.name)
    if kind not in schema["products"]:
        return [f"{path.name}: no {level} schema for product kind {kind}"]
    want = schema["products"][kind]
    got = file_structure(path)
    problems = []
    schemav = fits.getheader(path).get("SCHEMAV")
    if schemav != schema["version"]:
        problems.append(f"SCHEMAV {schemav!r} != schema version {schema['version']}")
    missing = [k for k in want["required_keywords"] if k not in got["required_keywords"]]
    if missing:
        problems.append(f"primary keywords missing: {missing}")
    got_hdus = {h["name"]: h for h in got["hdus"]}
    order = [h["name"] for h in want["hdus"] if h["name"] in got_hdus]
    if order != [h["name"] for h in got["hdus"]]:
        problems.append(f"HDUs {[h['name'] for h in got['hdus']]} != schema {order}")
    for hdu in want["hdus"]:
        if hdu["name"] not in got_hdus:
            if not hdu.get("optional"):
                problems.append(f"HDU {hdu['name']} missing")
            continue
        problems += _hdu_problems(hdu["name"], hdu, got_hdus[hdu["name"]])
    return [f"{path.name}: {p}" for p in problems]
