"""Compare two product files: header keywords, columns and values per HDU, and lineage.

`diff_files` reads two FITS product files with astropy and returns a `FileDiff`: keywords added,
removed and changed per HDU, HDUs and columns added or removed, columns whose dtype, shape or unit
changed, and for each common column the number of rows and values that differ with the largest
differences and their row. The lineage part compares what a file was made from: the IDB versions
(``IDB_VERSIONS`` HDU), the kernels (``SPICE_MK``), STIX-CONF (``VERS_CFG``), the code version
(``VERS_SW``), the raw and parent files (``RAW_FILE``, ``PARENT``) and, when a catalog is given,
the inputs recorded in ``product_files``.

``DATE``, ``CHECKSUM`` and ``DATASUM`` change with every write and are left out unless
``all_keywords`` is set. The table-structure keywords (``TTYPEn``, ``TFORMn``, ``NAXISn``,
``TFIELDS`` ...) are always left out: the column comparison reports what they describe.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

__all__ = [
    "VOLATILE_KEYWORDS",
    "ColumnDiff",
    "FileDiff",
    "KeywordChange",
    "diff_files",
    "format_diff",
    "version_files",
]

VOLATILE_KEYWORDS = frozenset({"DATE", "CHECKSUM", "DATASUM"})
"""Keywords that differ between two writes of the same content."""

_STRUCTURE = re.compile(
    r"^(TTYPE|TFORM|TUNIT|TDIM|TNULL|TSCAL|TZERO|TDISP|NAXIS)\d*$|^(TFIELDS|PCOUNT|GCOUNT|BITPIX)$"
)
_LINEAGE_KEYWORDS = {
    "kernels": "SPICE_MK",
    "stix_conf": "VERS_CFG",
    "code_version": "VERS_SW",
    "raw_files": "RAW_FILE",
    "parents": "PARENT",
}


@dataclass(frozen=True, slots=True)
class KeywordChange:
    """One header keyword of one HDU that differs; ``a`` None: added in B, ``b`` None: removed."""

    hdu: str
    keyword: str
    a: Any
    b: Any


@dataclass(frozen=True, slots=True)
class ColumnDiff:
    """Differences of one column present in both files.

    ``largest`` holds up to a few ``(row, a, b, abs_difference)`` tuples, largest first
    (``abs_difference`` None for non-numeric values).
    """

    hdu: str
    column: str
    n_rows_a: int
    n_rows_b: int
    n_rows_differ: int
    n_values_differ: int
    format_change: dict[str, tuple[str, str]] = field(default_factory=dict)
    largest: list[tuple[int, Any, Any, float | None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FileDiff:
    """The differences between two product files (empty lists: the files are equal)."""

    a: Path
    b: Path
    hdus_added: list[str]
    hdus_removed: list[str]
    keywords: list[KeywordChange]
    columns_added: dict[str, list[str]]
    columns_removed: dict[str, list[str]]
    columns_changed: list[ColumnDiff]
    lineage: dict[str, tuple[Any, Any]]

    @property
    def is_equal(self) -> bool:
        """True when nothing compared differs."""
        return not (
            self.hdus_added
            or self.hdus_removed
            or self.keywords
            or any(self.columns_added.values())
            or any(self.columns_removed.values())
            or self.columns_changed
            or self.lineage
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values."""
        return _plain(
            {
                "a": str(self.a),
                "b": str(self.b),
                "equal": self.is_equal,
                "hdus_added": self.hdus_added,
                "hdus_removed": self.hdus_removed,
                "keywords_added": [_kw(k) for k in self.keywords if k.a is None],
                "keywords_removed": [_kw(k) for k in self.keywords if k.b is None],
                "keywords_changed": [
                    _kw(k) for k in self.keywords if k.a is not None and k.b is not None
                ],
                "columns_added": {h: c for h, c in self.columns_added.items() if c},
                "columns_removed": {h: c for h, c in self.columns_removed.items() if c},
                "columns_changed": [
                    {
                        "hdu": c.hdu,
                        "column": c.column,
                        "n_rows_a": c.n_rows_a,
                        "n_rows_b": c.n_rows_b,
                        "n_rows_differ": c.n_rows_differ,
                        "n_values_differ": c.n_values_differ,
                        "format_change": {k: list(v) for k, v in c.format_change.items()},
                        "largest": [
                            {"row": r, "a": va, "b": vb, "abs_difference": d}
                            for r, va, vb, d in c.largest
                        ],
                    }
                    for c in self.columns_changed
                ],
                "lineage": {k: {"a": a, "b": b} for k, (a, b) in self.lineage.items()},
            }
        )


def _kw(k: KeywordChange) -> dict[str, Any]:
    return {"hdu": k.hdu, "keyword": k.keyword, "a": k.a, "b": k.b}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, Path | date):
        return str(value)
    return value


def _hdu_name(i: int, hdu: Any) -> str:
    return "PRIMARY" if i == 0 else (hdu.name or f"HDU{i}")


def _header_items(header: fits.Header, *, all_keywords: bool) -> dict[str, Any]:
    """Keyword -> value; repeated keywords (HISTORY, COMMENT) become a list of their values."""
    out: dict[str, Any] = {}
    for key, value in header.items():
        if _STRUCTURE.match(key) or key in ("SIMPLE", "EXTEND", "XTENSION", "EXTNAME"):
            continue
        if not all_keywords and key in VOLATILE_KEYWORDS:
            continue
        if key in ("HISTORY", "COMMENT", ""):
            out.setdefault(key, []).append(str(value))
        else:
            out[key] = value
    return out


def _keyword_changes(name: str, ha: fits.Header, hb: fits.Header, *, all_keywords: bool):
    a = _header_items(ha, all_keywords=all_keywords)
    b = _header_items(hb, all_keywords=all_keywords)
    changes = [KeywordChange(name, k, a[k], None) for k in a if k not in b]
    changes += [KeywordChange(name, k, None, b[k]) for k in b if k not in a]
    changes += [KeywordChange(name, k, a[k], b[k]) for k in a if k in b and a[k] != b[k]]
    return changes


def _format(col: fits.Column) -> dict[str, str]:
    return {"format": str(col.format), "unit": str(col.unit or ""), "dim": str(col.dim or "")}


def _differs(va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """Element-wise 'differs' of two arrays of one shape; NaN equals NaN."""
    if va.dtype.kind in "fc" or vb.dtype.kind in "fc":
        return ~((va == vb) | (np.isnan(va) & np.isnan(vb)))
    return np.asarray(va != vb)


def _column_diff(
    name: str, column: str, ca: fits.Column, cb: fits.Column, va, vb, n_largest: int
) -> ColumnDiff | None:
    fa, fb = _format(ca), _format(cb)
    change = {k: (fa[k], fb[k]) for k in fa if fa[k] != fb[k]}
    va, vb = np.asarray(va), np.asarray(vb)
    if va.shape != vb.shape:
        n = max(len(va), len(vb))
        return ColumnDiff(name, column, len(va), len(vb), n, max(va.size, vb.size), change)
    numeric = va.dtype.kind in "biuf" and vb.dtype.kind in "biuf"
    try:
        bad = _differs(va.astype(np.float64), vb.astype(np.float64)) if numeric else va != vb
    except (TypeError, ValueError):
        bad = np.array([str(x) != str(y) for x, y in zip(va.ravel(), vb.ravel(), strict=True)])
        bad = bad.reshape(va.shape)
    bad = np.asarray(bad, dtype=bool)
    row_bad = bad.reshape(len(va), -1).any(axis=1) if va.ndim > 1 else bad
    if not row_bad.any() and not change:
        return None
    rows = np.flatnonzero(row_bad)
    largest: list[tuple[int, Any, Any, float | None]] = []
    if numeric and len(rows):
        delta = np.abs(va.astype(np.float64) - vb.astype(np.float64)).reshape(len(va), -1)
        worst = np.nan_to_num(delta, nan=np.inf).max(axis=1)[rows]
        order = rows[np.argsort(-worst, kind="stable")][:n_largest]
        largest = [(int(r), va[r], vb[r], float(np.nanmax(delta[r]))) for r in order]
    else:
        largest = [(int(r), va[r], vb[r], None) for r in rows[:n_largest]]
    return ColumnDiff(
        name, column, len(va), len(vb), int(row_bad.sum()), int(bad.sum()), change, largest
    )


def _table_diff(name: str, ha: Any, hb: Any, n_largest: int):
    cols_a = {c.name: c for c in ha.columns} if hasattr(ha, "columns") else {}
    cols_b = {c.name: c for c in hb.columns} if hasattr(hb, "columns") else {}
    added = [c for c in cols_b if c not in cols_a]
    removed = [c for c in cols_a if c not in cols_b]
    changed = []
    for col in (c for c in cols_a if c in cols_b):
        d = _column_diff(name, col, cols_a[col], cols_b[col], ha.data[col], hb.data[col], n_largest)
        if d is not None:
            changed.append(d)
    return added, removed, changed


def _idb_versions(hdul: fits.HDUList) -> list[str]:
    if "IDB_VERSIONS" not in hdul:
        return []
    data = hdul["IDB_VERSIONS"].data
    if data is None or not len(data):
        return []
    name = data.columns.names[0]
    return sorted({str(v) for v in data[name]})


def _lineage(ha: fits.HDUList, hb: fits.HDUList, row_a, row_b) -> dict[str, tuple[Any, Any]]:
    pa, pb = ha[0].header, hb[0].header
    out: dict[str, tuple[Any, Any]] = {}
    for label, key in _LINEAGE_KEYWORDS.items():
        va, vb = pa.get(key), pb.get(key)
        if va != vb:
            out[label] = (va, vb)
    ia, ib = _idb_versions(ha), _idb_versions(hb)
    if ia != ib:
        out["idb_versions"] = (ia, ib)
    if row_a is not None or row_b is not None:
        ina = sorted(Path(p).name for p in (row_a or {}).get("inputs") or [])
        inb = sorted(Path(p).name for p in (row_b or {}).get("inputs") or [])
        if ina != inb:
            out["inputs"] = (ina, inb)
    return out


def diff_files(
    a: Path | str,
    b: Path | str,
    *,
    all_keywords: bool = False,
    catalog: Any = None,
    n_largest: int = 5,
) -> FileDiff:
    """Compare two product files.

    Parameters
    ----------
    a, b : the two FITS files (A is the reference, B the new one)
    all_keywords : also compare ``DATE``, ``CHECKSUM`` and ``DATASUM``
    catalog : a `stix_assets.core.catalog.Catalog`; when given, the recorded inputs of both files
        are compared too
    n_largest : how many of the largest differences to keep per column

    Returns
    -------
    FileDiff

    Raises
    ------
    OSError
        If a file cannot be opened as FITS.
    """
    a, b = Path(a), Path(b)
    row_a = catalog.product_file(a) if catalog is not None else None
    row_b = catalog.product_file(b) if catalog is not None else None
    with fits.open(a) as ha, fits.open(b) as hb:
        names_a = {_hdu_name(i, h): h for i, h in enumerate(ha)}
        names_b = {_hdu_name(i, h): h for i, h in enumerate(hb)}
        keywords: list[KeywordChange] = []
        added_cols: dict[str, list[str]] = {}
        removed_cols: dict[str, list[str]] = {}
        changed: list[ColumnDiff] = []
        for name in (n for n in names_a if n in names_b):
            keywords += _keyword_changes(
                name, names_a[name].header, names_b[name].header, all_keywords=all_keywords
            )
            if name == "PRIMARY":
                continue
            added, removed, cols = _table_diff(name, names_a[name], names_b[name], n_largest)
            added_cols[name], removed_cols[name] = added, removed
            changed += cols
        return FileDiff(
            a=a,
            b=b,
            hdus_added=[n for n in names_b if n not in names_a],
            hdus_removed=[n for n in names_a if n not in names_b],
            keywords=keywords,
            columns_added=added_cols,
            columns_removed=removed_cols,
            columns_changed=changed,
            lineage=_lineage(ha, hb, row_a, row_b),
        )


def version_files(
    catalog: Any, product: str, scet_or_utc_day: date, versions: Sequence[int]
) -> list[Path]:
    """The catalog's files of one product and partition day with the given versions, in order.

    Parameters
    ----------
    catalog : a `stix_assets.core.catalog.Catalog`
    product : ``<level>/<product key>``, e.g. ``l1/ql_lightcurve`` (``l2/...`` is level CAL)
    scet_or_utc_day : the partition day (SCET day for LB and L0, UTC day from L1 on)
    versions : processing versions, e.g. ``(2, 3)`` for the files named ``..._V02`` and ``_V03``

    Raises
    ------
    LookupError
        If the product name has no level, or a version is not exactly one file.
    """
    level, sep, key = product.partition("/")
    if not sep:
        raise LookupError(f"product {product!r} is not <level>/<product>, e.g. l1/ql_lightcurve")
    level = {"L2": "CAL"}.get(level.upper(), level.upper())
    files = catalog.partition_files(level, scet_or_utc_day, [key]).get(key, [])
    out = []
    for version in versions:
        tag = re.compile(rf"_V{version:02d}[A-Z]?(_|\.fits)")
        found = [p for p in files if tag.search(p.name)]
        if len(found) != 1:
            raise LookupError(
                f"{len(found)} files of {product} on {scet_or_utc_day} with version {version} "
                f"in the catalog (known: {sorted(p.name for p in files)})"
            )
        out.append(found[0])
    return out


def _short(value: Any, width: int = 60) -> str:
    text = repr(_plain(value))
    return text if len(text) <= width else text[: width - 3] + "..."


def format_diff(d: FileDiff) -> str:
    """Human-readable text of a `FileDiff` (one line per difference)."""
    lines = [f"--- {d.a}", f"+++ {d.b}"]
    lines += [f"HDU added: {n}" for n in d.hdus_added]
    lines += [f"HDU removed: {n}" for n in d.hdus_removed]
    for k in d.keywords:
        if k.a is None:
            lines.append(f"[{k.hdu}] keyword added {k.keyword} = {_short(k.b)}")
        elif k.b is None:
            lines.append(f"[{k.hdu}] keyword removed {k.keyword} (was {_short(k.a)})")
        else:
            lines.append(f"[{k.hdu}] keyword changed {k.keyword}: {_short(k.a)} -> {_short(k.b)}")
    for hdu, cols in d.columns_added.items():
        lines += [f"[{hdu}] column added {c}" for c in cols]
    for hdu, cols in d.columns_removed.items():
        lines += [f"[{hdu}] column removed {c}" for c in cols]
    for c in d.columns_changed:
        fmt = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in c.format_change.items())
        lines.append(
            f"[{c.hdu}] column changed {c.column}: rows {c.n_rows_a}/{c.n_rows_b}, "
            f"{c.n_rows_differ} rows and {c.n_values_differ} values differ"
            + (f"; {fmt}" if fmt else "")
        )
        for row, va, vb, delta in c.largest:
            extra = f" (|diff| {delta:g})" if delta is not None else ""
            lines.append(f"    row {row}: {_short(va)} -> {_short(vb)}{extra}")
    for label, (a, b) in d.lineage.items():
        lines.append(f"lineage {label}: {_short(a, 200)} -> {_short(b, 200)}")
    lines.append("equal" if d.is_equal else "different")
    return "\n".join(lines)
