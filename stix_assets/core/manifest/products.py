"""The rows of ``manifest/products.parquet``: one per product file the catalog knows.

Each row joins what the catalog recorded (``product_files``: level, product, day, version,
sha256, rows, kernels flown) with what the file says of itself (``DATE-BEG``/``DATE-END`` and
``OBT_BEG``/``OBT_END`` of its primary header), what its name says (the ``U`` status of an
incomplete daily file), what superseded it (a newer version of the same product, day and
request) and under which name SOAR got it (the publish history).

Header values of a file whose (path, sha256) is already in the previous manifest are taken from
there, so a rebuild reads only the headers of files written since.
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from stix_assets.core.catalog import Catalog, read_publish_history
from stix_assets.core.fits_cards import primary_values
from stix_assets.core.publish.names import parse_name
from stix_assets.core.time import scet_day

__all__ = ["MANIFEST_COLUMNS", "manifest_rows", "read_time_range"]

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", "VARCHAR"),  # relative to the archive root
    ("file_name", "VARCHAR"),
    ("level", "VARCHAR"),
    ("product", "VARCHAR"),
    ("day", "DATE"),  # SCET day (LB, L0) or UTC day (L1+); per-request files: their data start
    ("request_id", "BIGINT"),
    ("version", "INTEGER"),
    ("complete", "BOOLEAN"),  # False for an unverified/incomplete daily file (``_V02U``)
    ("status", "VARCHAR"),  # the letter after the version: 'U', 'C' or ''
    ("time_scale", "VARCHAR"),  # 'UTC' (ISO date_beg/date_end) or 'SCET' (coarse:fine)
    ("date_beg", "VARCHAR"),  # header DATE-BEG as written
    ("date_end", "VARCHAR"),  # header DATE-END as written
    ("obt_beg", "DOUBLE"),  # header OBT_BEG, SCET seconds
    ("obt_end", "DOUBLE"),
    ("sha256", "VARCHAR"),
    ("size", "BIGINT"),
    ("n_rows", "BIGINT"),
    ("needs_reprocessing", "BOOLEAN"),  # made with kernels that do not cover it (predicted)
    ("written_at", "TIMESTAMP"),
    ("superseded_by", "VARCHAR"),  # path of the newest version of the same product/day/request
    ("published_as", "VARCHAR"),  # name delivered to SOAR (ESA name, or -sup name), if any
    ("published_at", "TIMESTAMP"),
)
"""Column name and DuckDB type of every manifest row, in file order."""

_DELIVERED = frozenset({10, 12})  # PUBLISHED, MODIFIED (core.publish.history.DELIVERED)


def _obt_seconds(value: object) -> float | None:
    """``OBT_BEG`` as float seconds; LB writes it as ``'coarse:fine'`` text."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        coarse, _, fine = value.partition(":")
        try:
            return int(coarse) + (int(fine) / 65536 if fine else 0.0)
        except ValueError:
            return None
    return float(value)  # type: ignore[arg-type]


def read_time_range(path: Path) -> dict[str, Any]:
    """Time range of one product file from its primary header.

    Parameters
    ----------
    path : a FITS product file

    Returns
    -------
    dict with ``date_beg``, ``date_end`` (as written), ``time_scale`` (``"UTC"`` when
    ``DATE-BEG`` is ISO time, else ``"SCET"``), ``obt_beg`` and ``obt_end`` (SCET s); values are
    None when the header lacks them or the file is not FITS
    """
    out: dict[str, Any] = dict.fromkeys(
        ("date_beg", "date_end", "time_scale", "obt_beg", "obt_end")
    )
    if path.suffix.lower() != ".fits":
        return out
    try:
        header = primary_values(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        logger.warning("manifest header unreadable file=%s error=%s", path.name, err)
        return out
    beg, end = header.get("DATE-BEG"), header.get("DATE-END")
    out["date_beg"] = None if beg is None else str(beg)
    out["date_end"] = None if end is None else str(end)
    if beg is not None:
        out["time_scale"] = "UTC" if "T" in str(beg) else "SCET"
    out["obt_beg"] = _obt_seconds(header.get("OBT_BEG"))
    out["obt_end"] = _obt_seconds(header.get("OBT_END"))
    return out


def _catalog_rows(catalog: Catalog) -> list[dict[str, Any]]:
    sql = (
        "SELECT path, level, product, partition_day, request_id, version, sha256, size, n_rows,"
        " coalesce(needs_reprocessing, false) AS needs_reprocessing, written_at"
        " FROM product_files ORDER BY path"
    )
    with catalog.connect_readonly() as conn:
        cur = conn.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _published(catalog: Catalog) -> dict[str, tuple[str, datetime | None]]:
    """Absolute source path -> (delivered name, time) of its latest completed delivery."""
    out: dict[str, tuple[str, datetime | None]] = {}
    for row in read_publish_history(catalog):  # oldest first: later deliveries win
        if row.get("result") not in _DELIVERED or row.get("state") != "done":
            continue
        source = str(Path(row["path"]) / row["source_name"])
        name = row.get("delivered_name") or row["name"]
        out[source] = (name, row.get("recorded_at"))
    return out


def _name_fields(file_name: str) -> dict[str, Any]:
    try:
        name = parse_name(file_name)
    except ValueError:
        return {"status": "", "complete": True, "identity": file_name}
    return {"status": name.status, "complete": not name.is_incomplete, "identity": name.identity}


def _superseded(rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Path -> path of the newest version of the same product, day and request."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["level"], r["product"], r["day"], r["request_id"], r["_identity"])
        groups.setdefault(key, []).append(r)
    out: dict[str, str] = {}
    for group in groups.values():
        newest = max(group, key=lambda r: (r["version"], r["written_at"], r["path"]))
        out.update((r["path"], newest["path"]) for r in group if r is not newest)
    return out


def _identity(level: str, fields: Mapping[str, Any]) -> str:
    # the date part of an L1 BSD name is its time range: versions share everything else
    return f"{level}:{fields['identity']}"


def manifest_rows(
    catalog: Catalog, *, previous: Mapping[tuple[str, str], Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One manifest row per product file in the catalog, sorted by path.

    Parameters
    ----------
    catalog : the archive's catalog (product paths relative to ``catalog.archive_root``)
    previous : rows of the previous manifest keyed by (path, sha256): their header values are
        reused instead of reading the file again

    Returns
    -------
    list of dicts with the keys of `MANIFEST_COLUMNS`
    """
    previous = previous or {}
    published = _published(catalog)
    rows = []
    for rec in _catalog_rows(catalog):
        absolute = catalog.absolute_path(rec["path"])
        cached = previous.get((rec["path"], rec["sha256"]))
        times = (
            {k: cached[k] for k in ("date_beg", "date_end", "time_scale", "obt_beg", "obt_end")}
            if cached is not None
            else read_time_range(absolute)
        )
        fields = _name_fields(absolute.name)
        day: date | None = rec["partition_day"]
        if day is None and times["obt_beg"] is not None:
            day = scet_day(int(times["obt_beg"]))
        pub_name, pub_at = published.get(str(absolute), (None, None))
        rows.append(
            {
                **rec,
                "file_name": absolute.name,
                "day": day,
                "complete": fields["complete"],
                "status": fields["status"],
                **times,
                "published_as": pub_name,
                "published_at": pub_at,
                "_identity": _identity(rec["level"], fields),
            }
        )
    superseded = _superseded(rows)
    columns = [name for name, _ in MANIFEST_COLUMNS]
    return [
        {c: r.get(c) for c in columns} | {"superseded_by": superseded.get(r["path"])} for r in rows
    ]
