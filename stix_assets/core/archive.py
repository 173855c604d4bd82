"""Archive paths and file names of LB files (domain doc 3.2, 3.3).

An LB file of a daily kind is named by the first coarse second of its SCET day
(`stix_assets.core.time.scet_day_start`); SCET days and their arithmetic live in
`stix_assets.core.time`.
"""

from datetime import date
from pathlib import Path

from stix_assets.core.products.registry import BASE_PROCESSING_VERSION
from stix_assets.core.time import scet_day_start

__all__ = ["LB_BSD_DATE_PART", "lb_directory", "lb_file_name"]

LB_BSD_DATE_PART = "0000000000-9999999999"


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
