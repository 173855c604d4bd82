"""Reading L0 files back into `L0Product` (``level = "L1"``), the first step of L1.

The inverse of `stix_assets.core.products.l0_writer.write_l0`: ``time`` becomes absolute SCET
seconds of the bin centres from ``OBT_BEG`` plus the relative ``time`` column, ``timedel``
signed seconds (a negative duration written as uint32 at L0 is read back negative, not as
42949032 s as STIXCore did), units from ``TUNIT``, and the CONTROL ``parent`` column the
complete (``U``-less) name of the L0 file.
"""

import dataclasses
import functools
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray

from stix_assets.core.fits import Card, read_fits
from stix_assets.core.products.model import L0Product
from stix_assets.core.products.registry import ProductSpec, product_for
from stix_assets.core.time import float_to_scet, scet_float

__all__ = ["complete_name", "read_l0_product"]

logger = logging.getLogger(__name__)

_CARRIED = ("TRIG_SCA", "DATAWARN")
_U_STATUS = re.compile(r"_V(\d+)U([._])")


def complete_name(name: str) -> str:
    """File name without the ``U`` status (``..._V02U.fits`` -> ``..._V02.fits``)."""
    return _U_STATUS.sub(r"_V\1\2", name)


def _columns(table: NDArray[np.void]) -> dict[str, NDArray]:
    return {name: np.asarray(table[name]) for name in table.dtype.names or ()}


def _spec_of(primary: fits.Header, name: str) -> ProductSpec:
    ssid = primary.get("SSID", "")
    ssid = None if ssid in ("", None) else int(ssid)
    service, subtype = int(primary["STYPE"]), int(primary["SSTYPE"])
    spec = product_for(service, subtype, ssid)
    if spec.generic:
        product_name = name.split("_")[2].removeprefix("stix-")
        spec = dataclasses.replace(
            spec,
            name=product_name,
            service=service,
            subtypes=(subtype,),
            ssids=(ssid,) if ssid is not None else (),
        )
    return spec


def _absolute_times(
    primary: fits.Header, data: dict[str, NDArray], units: Mapping[str, str]
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    coarse, fine = float_to_scet(float(primary["OBT_BEG"]))
    beg = float(scet_float(coarse, fine))
    t, dt = np.asarray(data["time"]), np.asarray(data["timedel"])
    if units.get("time") == "s" and t.dtype.kind == "f":
        return beg + t.astype(np.float64), dt.astype(np.float64), "s"
    dt = dt.astype(np.int64)
    dt = np.where(dt >= 2**31, dt - 2**32, dt)  # negative durations written as uint32 at L0
    return beg + t.astype(np.float64) / 100.0, dt / 100.0, "cs"


def _text_cards(primary: fits.Header) -> tuple[Card, ...]:
    cards: list[Card] = [(k, primary[k], primary.comments[k]) for k in _CARRIED if k in primary]
    for key in ("COMMENT", "HISTORY"):
        if key in primary:
            cards.extend((key, str(v), "") for v in primary[key])
    return tuple(cards)


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def read_l0_product(path: Path | str) -> tuple[L0Product, fits.Header]:
    """An L0 file read back into an `L0Product` (``level = "L1"``) plus its primary header.

    ``time`` becomes absolute SCET seconds (1/65536 convention) of the bin centres, ``timedel``
    signed seconds; the CONTROL ``parent`` column is set to the complete name of this L0 file.
    A file is read once per process while it is unchanged (an L1 day reads the SCET days around
    it, so each L0 file serves up to three days); the cached arrays are read-only.
    """
    path = Path(path)
    st = path.stat()
    return _read_l0_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=512)
def _read_l0_cached(path_text: str, _mtime_ns: int, _size: int) -> tuple[L0Product, fits.Header]:
    path = Path(path_text)
    content = read_fits(path)
    for table in content.tables.values():
        table.flags.writeable = False
    primary = content.primary
    spec = _spec_of(primary, path.name)
    control = _columns(content.tables["CONTROL"])
    data = _columns(content.tables["DATA"])
    control_units = dict(content.units["CONTROL"])
    data_units = dict(content.units["DATA"])
    time, timedel, encoding = _absolute_times(primary, data, data_units)
    data["time"], data["timedel"] = time, timedel
    data_units = {k: v for k, v in data_units.items() if k not in ("time", "timedel")}
    parent = complete_name(path.name)
    n_control = len(next(iter(control.values()))) if control else 0
    control["parent"] = np.full(n_control, parent.encode("ascii"))
    versions = tuple(
        (v.decode("ascii").strip(), float(s), float(e))
        for v, s, e in content.tables.get("IDB_VERSIONS", np.zeros(0, "S1,f8,f8")).tolist()
    )
    energies = content.tables.get("ENERGIES")
    prod = L0Product(
        spec=spec,
        control=control,
        data=data,
        control_units=control_units,
        data_units=data_units,
        idb_versions=versions,
        energies=_columns(energies) if energies is not None else None,
        header=_text_cards(primary),
        parents=(parent,),
        raw_files=tuple(r for r in str(primary.get("RAW_FILE", "")).split(";") if r),
        data_range=(_number(primary.get("DATAMIN")), _number(primary.get("DATAMAX"))),
        bunit=str(primary.get("BUNIT", "")),
        time_encoding=encoding,
        level="L1",
    )
    return prod, primary
