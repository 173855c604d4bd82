"""Archive paths and file names (domain doc 3.2, 3.3) and SCET day arithmetic.

SCET days are counted from the SCET epoch 2000-01-01: ``scet_day = epoch + coarse // 86400``.
Because of leap seconds and clock drift a SCET day starts a few seconds before UTC midnight; the
date is only a label for ``coarse // 86400``.
"""

from datetime import date, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.products.registry import BASE_PROCESSING_VERSION

__all__ = [
    "LB_BSD_DATE_PART",
    "SCET_EPOCH",
    "SECONDS_PER_DAY",
    "lb_directory",
    "lb_file_name",
    "scet_day_index",
    "scet_day_of",
    "scet_day_start",
    "scet_string",
]

SECONDS_PER_DAY = 86400
SCET_EPOCH = date(2000, 1, 1)
LB_BSD_DATE_PART = "0000000000-9999999999"


def scet_day_index(scet_coarse: NDArray[np.integer]) -> NDArray[np.int64]:
    """Day number ``coarse // 86400`` of each coarse time."""
    return np.asarray(scet_coarse, dtype=np.int64) // SECONDS_PER_DAY


def scet_day_of(scet_coarse: int) -> date:
    """SCET day (as a date label) of one coarse time.

    >>> scet_day_of(660096003)
    datetime.date(2020, 12, 1)
    """
    return SCET_EPOCH + timedelta(days=int(scet_coarse) // SECONDS_PER_DAY)


def scet_day_start(scet_day: date) -> int:
    """Coarse SCET at the start of a SCET day (the inverse of `scet_day_of`).

    >>> scet_day_start(date(2020, 12, 1))
    660096000
    """
    return (scet_day - SCET_EPOCH).days * SECONDS_PER_DAY


def scet_string(scet_coarse: int, scet_fine: int) -> str:
    """SCET in STIXCore's text form ``cccccccccc:fffff``.

    >>> scet_string(660096003, 42023)
    '0660096003:42023'
    """
    return f"{int(scet_coarse):010d}:{int(scet_fine):05d}"


def lb_directory(service: int, subtype: int, ssid: int | None) -> Path:
    """``LB/<service>/<subtype>[/<ssid>]`` relative to the archive root."""
    parts = ["LB", str(service), str(subtype)]
    if ssid is not None:
        parts.append(str(ssid))
    return Path(*parts)


def lb_file_name(
    service: int,
    subtype: int,
    ssid: int | None,
    *,
    scet_day: date | None = None,
    request_id: tuple[int, int] | None = None,
    version: int = BASE_PROCESSING_VERSION,
) -> str:
    """Name of an LB file: per SCET day, or per BSD request ``(tc seq control, request id)``.

    >>> lb_file_name(3, 25, 2, scet_day=date(2020, 12, 1))
    'solo_LB_stix-3-25-2_0660096000_V02.fits'
    >>> lb_file_name(21, 6, 24, request_id=(51667, 1266516544))
    'solo_LB_stix-21-6-24_0000000000-9999999999_V02_1266516544-51667.fits'
    """
    kind = f"{service}-{subtype}" + ("" if ssid is None else f"-{ssid}")
    if request_id is not None:
        tcc, rid = request_id
        return f"solo_LB_stix-{kind}_{LB_BSD_DATE_PART}_V{version:02d}_{rid:010d}-{tcc:05d}.fits"
    if scet_day is None:
        raise ValueError("an LB file name needs a scet_day or a request_id")
    return f"solo_LB_stix-{kind}_{scet_day_start(scet_day):010d}_V{version:02d}.fits"
