"""Level-binary (LB) files: the raw packets of each kind, per SCET day or per BSD request.

Layout as STIXCore writes it (domain doc 3.3-3.6, 7.1), checked file by file against the
STIXCore reference products in ``stix_assets_tests/realdata/test_lb_reference.py``:

* packets grouped by (service, subtype, PI1); non-BSD kinds give one file per SCET day
  (``coarse // 86400``), BSD kinds one file per request ``(tc sequence control, request id)``;
* ``LB/<st>/<sst>[/<ssid>]/solo_LB_stix-<st>-<sst>[-<ssid>]_<day start:010d>_V02.fits`` or
  ``..._0000000000-9999999999_V02_<rid:010d>-<tcc:05d>.fits``;
* HDUs PRIMARY, CONTROL (one row per packet, header fields) and DATA (``control_index`` and the
  lower-case hex of the complete packet);
* an existing file of the same name is merged: new packets win, unique on (scet_coarse,
  scet_fine, sequence_count), sorted on that key, re-indexed.

Known differences from STIXCore (docs/decisions.md):

* time-not-synchronised packets: ``scet_coarse`` holds the coarse time with the top bit masked
  and ``time_sync`` is False, so the file is named by the masked time (STIXCore kept the bit and
  named such files with SCET day 2743891200, year 2086). The DATA hex keeps the original bytes.
* software identity: ``CREATOR = 'stix-assets'``, ``VERS_SW``/``VERS_CFG`` are ours, ``HISTORY``
  says ``Processed by stix-assets LB``; ``DATE`` and the checksum comments are the ``created``
  argument (UTC), not the local clock, so the same inputs give byte-identical files.
* kept: header ``VERSION = '00'`` although the file name says ``V02`` (STIXCore's LB header);
  ``SCI_RID = '0000000000'`` and ``SCI_TCC = ''`` for non-BSD files.
* a read-merge-write of one file holds an exclusive lock on its directory, so two runs writing
  the same LB file cannot lose each other's packets (inside a level-day's
  `stix_assets.core.atomic.StagedWrites` block, until the block has renamed its files).
"""

import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.archive import lb_directory, lb_file_name
from stix_assets.core.atomic import locked_folder
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.fits import Card, TableHdu, read_fits, write_fits
from stix_assets.core.ingest import TmIndex
from stix_assets.core.products.header import CREATOR, SCHEMA_COMMENT, creation_time
from stix_assets.core.products.registry import product_for
from stix_assets.core.time import (
    SECONDS_PER_DAY,
    day_index,
    scet_day,
    scet_day_index,
    scet_string,
)
from stix_assets.schemas import schema_version

__all__ = ["CREATOR", "LbFileResult", "write_lb"]

logger = logging.getLogger(__name__)

_HEADER_VERSION = "00"  # STIXCore's LB header value (the file name carries V02)
_HEADER_FIELDS = (
    "version",
    "packet_type",
    "header_flag",
    "process_id",
    "packet_category",
    "sequence_flag",
    "sequence_count",
    "data_length",
    "pus_version",
    "service_type",
    "service_subtype",
    "destination_id",
)


@dataclass(frozen=True, slots=True)
class LbFileResult:
    """One LB file written.

    Attributes
    ----------
    path : the file
    product_key : registry key (``ql_lightcurve``, ``xray_spec``, ``other``, ...)
    scet_day : SCET day of a daily file, ``None`` for a BSD file
    request_id : ``(tc seq control, request id)`` of a BSD file, else ``None``
    n_packets : packets in the file after the merge
    n_new : packets whose key was not in the file before
    sha256 : hex digest of the bytes written
    raw_files : TM files named in ``RAW_FILE``
    """

    path: Path
    product_key: str
    scet_day: date | None
    request_id: tuple[int, int] | None
    n_packets: int
    n_new: int
    sha256: str
    raw_files: tuple[str, ...]

    def as_metadata(self) -> dict[str, object]:
        """Plain values for metadata and the catalog."""
        return {
            "path": str(self.path),
            "product": self.product_key,
            "scet_day": self.scet_day.isoformat() if self.scet_day else None,
            "request_id": list(self.request_id) if self.request_id else None,
            "packets": self.n_packets,
            "new_packets": self.n_new,
            "sha256": self.sha256,
            "raw_files": list(self.raw_files),
        }


@dataclass(frozen=True, slots=True)
class _Rows:
    """LB rows in column form (CONTROL fields without ``index``, plus the hex)."""

    fields: dict[str, NDArray]
    hex: NDArray[np.bytes_]

    def __len__(self) -> int:
        return len(self.hex)

    def key(self) -> NDArray[np.int64]:
        f = self.fields
        return (
            (f["scet_coarse"].astype(np.int64) << 30)
            | (f["scet_fine"].astype(np.int64) << 14)
            | f["sequence_count"].astype(np.int64)
        )

    def take(self, idx: NDArray[np.int64]) -> "_Rows":
        return _Rows({k: v[idx] for k, v in self.fields.items()}, self.hex[idx])

    @staticmethod
    def concat(parts: "Sequence[_Rows]") -> "_Rows":
        names = parts[0].fields.keys()
        return _Rows(
            {n: np.concatenate([p.fields[n] for p in parts]) for n in names},
            np.concatenate([p.hex for p in parts]),
        )


def write_lb(
    sources: TmIndex | Sequence[TmIndex],
    archive_root: Path | str,
    *,
    created: datetime,
    software_version: str,
    config_version: str = "",
    scet_days: Collection[date] | None = None,
    products: Collection[str] | None = None,
) -> list[LbFileResult]:
    """Write (or merge into) the LB files of the given indexed TM files.

    Parameters
    ----------
    sources : one or more `TmIndex`; when they overlap, a later one wins
    archive_root : archive root; files go to ``LB/<st>/<sst>[/<ssid>]/`` below it
    created : creation time (timezone-aware) written to ``DATE`` and the checksum comments
    software_version : ``VERS_SW``
    config_version : ``VERS_CFG`` (STIX-CONF version)
    scet_days : only packets of these SCET days (BSD files get the packets of these days)
    products : only these registry product keys

    Returns
    -------
    list of LbFileResult, in file-name order

    Raises
    ------
    ProductBuildError
        If an existing LB file has a packet whose hex length disagrees with its data_length.
    """
    created_utc, _ = creation_time(created)
    indexes = [sources] if isinstance(sources, TmIndex) else list(sources)
    rows = _rows_of(indexes)
    if len(rows) == 0:
        return []
    root = Path(archive_root)
    results = [
        _write_one(spec, rows, root, created_utc, software_version, config_version)
        for spec in _plan(rows, scet_days, products)
    ]
    return sorted(results, key=lambda r: r.path.name)


# -- rows ------------------------------------------------------------------------------------
def _rows_of(indexes: Sequence[TmIndex]) -> _Rows:
    """All packets as LB rows, newest source first (so a plain first-wins unique lets it win)."""
    parts = [_index_rows(ix) for ix in reversed(indexes) if len(ix.batch)]
    if not parts:
        return _Rows({}, np.zeros(0, dtype="S1"))
    return _Rows.concat(parts) if len(parts) > 1 else parts[0]


def _index_rows(index: TmIndex) -> _Rows:
    batch, h = index.batch, index.batch.headers
    fields: dict[str, NDArray] = {n: h[n].astype(np.int64) for n in _HEADER_FIELDS}
    fields["scet_coarse"] = h["scet_coarse"].astype(np.uint32)
    fields["scet_fine"] = h["scet_fine"].astype(np.int64)
    files = np.array([f.encode("ascii") for f in batch.files])
    fields["raw_file"] = files[batch.file_index]
    fields["packet"] = batch.packet_id.astype(np.int64)
    fields["request_id"] = index.request_id.astype(np.int64)
    fields["ssid"] = batch.pi1.astype(np.int64)
    fields["time_sync"] = h["time_sync"].astype(bool)
    hexes = np.array([batch.hex(i).encode("ascii") for i in range(len(batch))])
    return _Rows(fields, hexes)


# -- planning: which file gets which rows ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class _FileSpec:
    service: int
    subtype: int
    ssid: int | None
    product_key: str
    scet_day: date | None
    request_id: tuple[int, int] | None
    rows: NDArray[np.int64]


def _plan(
    rows: _Rows, scet_days: Collection[date] | None, products: Collection[str] | None
) -> Iterator[_FileSpec]:
    f = rows.fields
    days = scet_day_index(f["scet_coarse"])
    kind = (f["service_type"] << 40) | (f["service_subtype"] << 32) | (f["ssid"] + 1)
    wanted = None if scet_days is None else [day_index(d) for d in scet_days]
    for k in np.unique(kind):
        service, subtype, pi1 = int(k) >> 40, (int(k) >> 32) & 0xFF, (int(k) & 0xFFFFFFFF) - 1
        ssid = None if pi1 < 0 else pi1
        spec = product_for(service, subtype, ssid)
        if products is not None and spec.key not in products:
            continue
        sel = kind == k
        if wanted is not None:
            sel &= np.isin(days, wanted)
        if spec.per_request:
            rid = f["request_id"]
            for tcc, req in np.unique(rid[sel], axis=0).tolist():
                idx = np.flatnonzero(sel & (rid[:, 0] == tcc) & (rid[:, 1] == req))
                yield _FileSpec(service, subtype, ssid, spec.key, None, (tcc, req), idx)
        else:
            for day in np.unique(days[sel]).tolist():
                idx = np.flatnonzero(sel & (days == day))
                yield _FileSpec(
                    service, subtype, ssid, spec.key, scet_day(day * SECONDS_PER_DAY), None, idx
                )


# -- one file ----------------------------------------------------------------------------------
def _write_one(
    spec: _FileSpec,
    rows: _Rows,
    root: Path,
    created: datetime,
    software_version: str,
    config_version: str,
) -> LbFileResult:
    name = lb_file_name(
        spec.service, spec.subtype, spec.ssid, scet_day=spec.scet_day, request_id=spec.request_id
    )
    directory = root / lb_directory(spec.service, spec.subtype, spec.ssid)
    path = directory / name
    new = rows.take(spec.rows)
    _check_lengths(new, name)
    raw_files = {r.decode("ascii") for r in np.unique(new.fields["raw_file"]).tolist()}
    with locked_folder(directory):
        old_keys = np.zeros(0, dtype=np.int64)
        stacked = new
        if path.exists():
            old, old_raw = _read_existing(path, spec)
            raw_files |= old_raw
            old_keys = old.key()
            stacked = _Rows.concat([new, old])
        _, first = np.unique(stacked.key(), return_index=True)
        merged = stacked.take(first)
        raw = tuple(sorted(raw_files))
        primary = _primary_cards(name, spec, merged, raw, created, software_version, config_version)
        sha = write_fits(
            path,
            primary,
            _tables(merged, spec),
            checksum_comment=created.strftime("%Y-%m-%dT%H:%M:%S"),
        )
    n_new = int(np.count_nonzero(~np.isin(merged.key(), old_keys)))
    logger.info("lb written file=%s packets=%d new=%d", name, len(merged), n_new)
    return LbFileResult(
        path, spec.product_key, spec.scet_day, spec.request_id, len(merged), n_new, sha, raw
    )


def _check_lengths(rows: _Rows, name: str) -> None:
    hex_len = np.char.str_len(np.char.rstrip(rows.hex))
    bad = np.flatnonzero(hex_len != 2 * (rows.fields["data_length"] + 7))
    if len(bad):
        i = int(bad[0])
        raise ProductBuildError(
            f"LB {name}: packet {i} has {int(hex_len[i]) // 2} bytes but data_length+7 = "
            f"{int(rows.fields['data_length'][i]) + 7} ({len(bad)} such packets)"
        )


def _read_existing(path: Path, spec: _FileSpec) -> tuple[_Rows, set[str]]:
    content = read_fits(path)
    control, data = content.tables["CONTROL"], content.tables["DATA"]
    order = np.argsort(data["control_index"], kind="stable")
    pos = np.searchsorted(data["control_index"][order], control["index"])
    hexes = data["data"][order][pos]
    fields: dict[str, NDArray] = {n: control[n].astype(np.int64) for n in _HEADER_FIELDS}
    fields["scet_coarse"] = control["scet_coarse"].astype(np.uint32)
    fields["scet_fine"] = control["scet_fine"].astype(np.int64)
    fields["raw_file"] = control["raw_file"]
    fields["packet"] = control["packet"].astype(np.int64)
    n = len(control)
    if spec.request_id is None:
        fields["request_id"] = np.full((n, 2), -1, dtype=np.int64)
    else:
        fields["request_id"] = control["request_id"].astype(np.int64).reshape(n, 2)
    fields["ssid"] = (
        control["ssid"].astype(np.int64)
        if "ssid" in control.dtype.names
        else np.full(n, -1, dtype=np.int64)
    )
    fields["time_sync"] = control["time_sync"].astype(bool)
    old = _Rows(fields, hexes)
    _check_lengths(old, path.name)
    raw = str(content.primary_values.get("RAW_FILE", ""))
    return old, {r for r in raw.split(";") if r}


def _tables(rows: _Rows, spec: _FileSpec) -> list[TableHdu]:
    n = len(rows)
    f = rows.fields
    raw_width = max(1, int(np.char.str_len(f["raw_file"]).max()))
    hex_width = max(1, int(np.char.str_len(rows.hex).max()))
    dtype: list[tuple] = [(name, np.int64) for name in _HEADER_FIELDS]
    dtype += [
        ("scet_coarse", np.uint32),
        ("scet_fine", np.int64),
        ("raw_file", f"S{raw_width}"),
        ("packet", np.int64),
    ]
    dtype.append(
        ("request_id", np.bool_) if spec.request_id is None else ("request_id", np.int64, (2,))
    )
    dtype.append(("index", np.int64))
    if spec.ssid is not None:
        dtype.append(("ssid", np.int64))
    dtype.append(("time_sync", np.bool_))
    control = np.zeros(n, dtype=dtype)
    for name in control.dtype.names or ():
        if name == "index":
            control[name] = np.arange(n)
        elif name == "request_id":
            control[name] = False if spec.request_id is None else f["request_id"]
        else:
            control[name] = f[name]
    data = np.zeros(n, dtype=[("control_index", np.int64), ("data", f"S{hex_width}")])
    data["control_index"] = np.arange(n)
    data["data"] = rows.hex
    return [TableHdu("CONTROL", control), TableHdu("DATA", data)]


def _primary_cards(
    name: str,
    spec: _FileSpec,
    rows: _Rows,
    raw_files: tuple[str, ...],
    created: datetime,
    software_version: str,
    config_version: str,
) -> list[Card]:
    f = rows.fields
    first, last = 0, len(rows) - 1
    obt_beg = scet_string(f["scet_coarse"][first], f["scet_fine"][first])
    obt_end = scet_string(f["scet_coarse"][last], f["scet_fine"][last])
    raw = ";".join(raw_files)
    if spec.request_id is None:
        sci_rid, sci_tcc = "0000000000", ""
    else:
        sci_rid, sci_tcc = f"{spec.request_id[1]:010d}", f"{spec.request_id[0]:05d}"
    return [
        ("FILENAME", name, "FITS filename"),
        ("RAW_FILE", raw, "Raw filename(s)"),
        ("PARENT", raw, "Source file current data product"),
        (
            "DATE",
            created.replace(tzinfo=None).isoformat(timespec="milliseconds"),
            "FITS file creation date in UTC",
        ),
        (
            "BLANK",
            4294967295,
            "Value marking undefined pixels (before the application of BSCALE, BZERO)",
        ),
        ("LEVEL", "LB", "Processing level of the data"),
        ("ORIGIN", "STIX Team, FHNW", "FHNW"),
        ("CREATOR", CREATOR, "FITS creation software"),
        ("VERS_SW", software_version, "Version of SW that provided FITS file"),
        ("VERS_CFG", config_version, "Version of the common instrument configuration"),
        ("VERSION", _HEADER_VERSION, "Version of data product"),
        ("SCHEMAV", schema_version("LB"), SCHEMA_COMMENT),
        ("OBSRVTRY", "Solar Orbiter", "Satellite name"),
        ("TELESCOP", "SOLO/STIX", "Telescope/Sensor name"),
        ("INSTRUME", "STIX", "Instrument name"),
        ("STYPE", spec.service, "Service Type"),
        ("SSTYPE", spec.subtype, "Sub-service Type"),
        ("SSID", "" if spec.ssid is None else spec.ssid, "Science Structure ID"),
        ("SCI_RID", sci_rid, "Science data request ID"),
        ("SCI_TCC", sci_tcc, "Science data request TC packet seq. control"),
        ("OBT_BEG", obt_beg, "Start of acquisition time in OBT"),
        ("OBT_END", obt_end, "End of acquisition time in OBT"),
        ("TIMESYS", "OBT", "System used for time keywords"),
        ("DATE-OBS", obt_beg, "Start of acquisition time in OBT"),
        ("DATE-BEG", obt_beg, "Start of acquisition time in OBT"),
        ("DATE-END", obt_end, "End of acquisition time in OBT"),
        ("HISTORY", "Processed by stix-assets LB", ""),
    ]
