"""Writing L0 products: file names, directories, primary header, column encoding, FITS.

The writing half of the L0 level (domain doc 3.3-3.5, 7.3); `stix_assets.core.products.l0`
builds the products. DATA ``time``/``timedel`` become uint32 centiseconds relative to ``OBT_BEG``
(float32 seconds for the aspect-burst exception); header times follow STIXCore's fine/65535
convention (quirk 1). Files go through `stix_assets.core.fits.write_fits`: atomic and
deterministic (the same products and ``created`` give the same bytes).
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.fits import Card, TableHdu, write_fits
from stix_assets.core.products.header import common_cards, creation_time
from stix_assets.core.products.model import L0FileResult, L0Product
from stix_assets.core.products.registry import ProductSpec
from stix_assets.core.time import (
    FINE_PER_SECOND,
    scet_day,
    scet_day_start,
    scet_split,
    stixcore_float,
)

__all__ = ["l0_directory", "l0_file_name", "l0_start_day", "l0_tables", "write_l0"]

logger = logging.getLogger(__name__)


# -- naming --------------------------------------------------------------------------------------
def l0_directory(spec: ProductSpec, ssid: int | None) -> Path:
    """``L0/<st>/<sst>[/<ssid>]`` relative to the archive root."""
    parts = ["L0", str(spec.service), str(spec.subtypes[0] if spec.subtypes else 0)]
    if ssid is not None:
        parts.append(str(ssid))
    return Path(*parts)


def l0_file_name(prod: L0Product) -> str:
    """File name of an L0 product (domain doc 3.3).

    Daily: ``solo_L0_stix-<name>_<SCET day start:010d>_V<NN>U.fits``; BSD:
    ``solo_L0_stix-<name>_<start coarse:010d>-<end coarse:010d>_V<NN>_<rid:010d>[-<tcc:05d>]``.
    """
    version = f"V{prod.spec.processing_version:02d}"
    name = prod.spec.name
    if prod.spec.per_request:
        start, end = prod.time_range()
        tcc, rid = prod.request_id or (0, 0)
        suffix = f"_{rid:010d}" + ("" if tcc is None or tcc < 0 else f"-{tcc:05d}")
        return (
            f"solo_L0_stix-{name}_{int(np.floor(start)):010d}-{int(np.floor(end)):010d}"
            f"_{version}{suffix}.fits"
        )
    if prod.scet_day is None:
        raise ProductBuildError(f"daily L0 product {prod.spec.key} without a SCET day")
    status = "U" if prod.spec.daily else ""
    return f"solo_L0_stix-{name}_{scet_day_start(prod.scet_day):010d}_{version}{status}.fits"


# -- writing -------------------------------------------------------------------------------------
def l0_start_day(name: str) -> date | None:
    """SCET day of the start coarse time in an L0 file name (``..._<start>[-<end>]_V..``).

    The start of a daily file is its SCET day, that of a BSD file the start of its data;
    ``None`` for a name without one.
    """
    parts = name.split("_")
    start = parts[3].split("-")[0] if len(parts) > 3 else ""
    return scet_day(int(start)) if start.isdigit() else None


def _ssid(prod: L0Product) -> int | None:
    if prod.spec.ssids and len(prod.spec.ssids) == 1:
        return prod.spec.ssids[0]
    return None


def _scet_text(seconds: float) -> str:
    coarse, fine = scet_split(seconds)
    return f"{coarse:010d}:{fine:05d}"


def _primary_cards(
    prod: L0Product,
    name: str,
    created: datetime,
    software_version: str,
    config_version: str,
) -> list[Card]:
    spec = prod.spec
    beg, end = prod.time_range()
    ticks = [c * 65536 + f for c, f in (scet_split(beg), scet_split(end))]
    # integer midpoint, truncated as STIXCore's SCETime does
    avg = (sum(ticks) // 2) / FINE_PER_SECOND
    timedel = prod.data["timedel"]
    rid = prod.request_id
    ssid = _ssid(prod)
    cards: list[Card] = [
        *common_cards(
            file_name=name,
            raw_files=prod.raw_files,
            parents=prod.parents,
            created=created,
            level=prod.level,
            software_version=software_version,
            config_version=config_version,
            version=spec.processing_version,
            ids=(
                int(spec.service or 0),
                int(spec.subtypes[0]) if spec.subtypes else 0,
                ssid if ssid is not None else "",
                f"{rid[1]:010d}" if rid else "",
                f"{rid[0]:05d}" if rid else "",
            ),
            parent_comment="Source file current data",
        ),
        ("OBT_BEG", stixcore_float(beg), "Start acquisition time in OBT"),
        ("OBT_END", stixcore_float(end), "End acquisition time in OBT"),
        ("TIMESYS", "OBT", "System used for time keywords"),
        ("DATE-OBS", _scet_text(beg), "Depreciated, same as DATE-BEG"),
        ("DATE-BEG", _scet_text(beg), "Start time of observation"),
        ("DATE-AVG", _scet_text(avg), "Average time of observation"),
        ("DATE-END", _scet_text(end), "End time of observation"),
        ("DATAMIN", prod.data_range[0], "Minimum valid physical value"),
        ("DATAMAX", prod.data_range[1], "Maximum valid physical value"),
        ("BUNIT", prod.bunit, "Units of physical value, after application of BSCALE, BZERO"),
        ("XPOSURE", float(np.min(timedel)) if len(timedel) else 0.0, "[s] shortest exposure time"),
        ("XPOMAX", float(np.max(timedel)) if len(timedel) else 0.0, "[s] maximum exposure time"),
    ]
    cards.extend(c for c in prod.header if c[0] not in ("COMMENT", "HISTORY"))
    cards.extend(c for c in prod.header if c[0] in ("COMMENT", "HISTORY"))
    cards.append(("HISTORY", "Processed by stix-assets L0", ""))
    return cards


def _structured(columns: Mapping[str, NDArray]) -> NDArray[np.void]:
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    n = len(next(iter(arrays.values()))) if arrays else 0
    dtype = [(k, a.dtype, a.shape[1:]) for k, a in arrays.items()]
    out = np.zeros(n, dtype=dtype)
    for k, a in arrays.items():
        out[k] = a
    return out


def _data_columns(prod: L0Product, beg: float) -> dict[str, NDArray]:
    data = dict(prod.data)
    t, dt = np.asarray(data["time"]), np.asarray(data["timedel"])
    if prod.time_encoding == "s":
        data["time"] = (t - beg).astype(np.float32)
        data["timedel"] = dt.astype(np.float32)
    else:
        data["time"] = np.round((t - beg) * 100.0).astype(np.uint32)
        # explicit wrap of a negative duration (STIXCore's file holds it so; see science.py)
        data["timedel"] = np.round(dt * 100.0).astype(np.int64).astype(np.uint32)
    return data


def l0_tables(prod: L0Product) -> list[TableHdu]:
    """The extension HDUs of an L0 file (CONTROL, DATA, IDB_VERSIONS[, ENERGIES])."""
    beg, _ = prod.time_range()
    time_unit = "s" if prod.time_encoding == "s" else "cs"
    data_units = {"time": time_unit, "timedel": time_unit, **prod.data_units}
    versions = prod.idb_versions
    width = max([len(v) for v, _, _ in versions] + [1])
    idb = np.zeros(
        len(versions), dtype=[("version", f"S{width}"), ("obt_start", "f8"), ("obt_end", "f8")]
    )
    for i, (v, s, e) in enumerate(versions):
        idb[i] = (v.encode("ascii"), s, e)
    tables = [
        TableHdu("CONTROL", _structured(prod.control), dict(prod.control_units), tscal=True),
        TableHdu("DATA", _structured(_data_columns(prod, beg)), data_units, tscal=True),
        TableHdu("IDB_VERSIONS", idb, {"obt_start": "s", "obt_end": "s"}, tscal=True),
    ]
    if prod.energies is not None:
        tables.append(
            TableHdu(
                "ENERGIES",
                _structured(prod.energies),
                {"e_low": "keV", "e_high": "keV"},
                tscal=True,
            )
        )
    return tables


def write_l0(
    products: Iterable[L0Product],
    archive_root: Path | str,
    *,
    created: datetime,
    software_version: str,
    config_version: str = "",
) -> list[L0FileResult]:
    """Write L0 products under ``<archive_root>/L0/<st>/<sst>[/<ssid>]/`` (whole rewrite).

    Parameters
    ----------
    products : from `build_l0_day` / `build_l0_files`
    archive_root : archive root
    created : timezone-aware creation time (``DATE``, checksum comments)
    software_version, config_version : ``VERS_SW``, ``VERS_CFG``

    Returns
    -------
    list of L0FileResult in file-name order
    """
    created, stamp = creation_time(created)
    root = Path(archive_root)
    results = []
    for prod in products:
        if prod.n_rows == 0:
            continue
        name = l0_file_name(prod)
        path = root / l0_directory(prod.spec, _ssid(prod)) / name
        cards = _primary_cards(prod, name, created, software_version, config_version)
        sha = write_fits(path, cards, l0_tables(prod), checksum_comment=stamp)
        logger.info("l0 written file=%s rows=%d", name, prod.n_rows)
        results.append(
            L0FileResult(
                path, prod.spec.key, prod.scet_day, prod.request_id, sha, prod.n_rows, prod.parents
            )
        )
    return sorted(results, key=lambda r: r.path.name)
