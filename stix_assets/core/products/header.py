"""The primary-header cards every L0/L1/L2 product starts with (domain doc 3.5, common part).

STIXCore builds them in one place (``generate_common_header``); so do we, so a keyword or its
comment changes once for every level.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from stix_assets.core.fits import Card
from stix_assets.core.time import stixcore_float
from stix_assets.schemas import schema_version

__all__ = ["CREATOR", "ORIGIN", "SCHEMA_COMMENT", "common_cards", "creation_time", "obt_utc_cards"]

ORIGIN = "STIX Team, FHNW"
CREATOR = "stix-assets"
SCHEMA_COMMENT = "Version of the product format (docs/product-format.md)"


def common_cards(
    *,
    file_name: str,
    raw_files: Sequence[str],
    parents: Sequence[str],
    created: datetime,
    level: str,
    software_version: str,
    config_version: str,
    version: int,
    ids: tuple[object, object, object, str, str],
    parent_comment: str = "Source file current data product",
) -> list[Card]:
    """FILENAME ... SCI_TCC, in STIXCore's order.

    ``ids`` is ``(STYPE, SSTYPE, SSID, SCI_RID, SCI_TCC)``; ``created`` is UTC.
    """
    stype, sstype, ssid, rid, tcc = ids
    return [
        ("FILENAME", file_name, "FITS filename"),
        ("RAW_FILE", ";".join(raw_files), "Raw filename(s)"),
        ("PARENT", ";".join(parents), parent_comment),
        ("DATE", created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3], "FITS file creation date in UTC"),
        ("BLANK", 4294967295, "Value marking undefined pixels (before the applic"),
        ("LEVEL", level, "Processing level of the data"),
        ("ORIGIN", ORIGIN, "FHNW"),
        ("CREATOR", CREATOR, "FITS creation software"),
        ("VERS_SW", software_version, "Version of SW that provided FITS file"),
        ("VERS_CFG", config_version, "Version of the common instrument configuration"),
        ("VERSION", f"{version:02d}", "Version of data product"),
        ("SCHEMAV", schema_version(level), SCHEMA_COMMENT),
        ("OBSRVTRY", "Solar Orbiter", "Satellite name"),
        ("TELESCOP", "SOLO/STIX", "Telescope/Sensor name"),
        ("INSTRUME", "STIX", "Instrument name"),
        ("STYPE", stype, "Service Type"),
        ("SSTYPE", sstype, "Sub-service Type"),
        ("SSID", ssid, "Science Structure ID"),
        ("SCI_RID", rid, "Science data request ID"),
        ("SCI_TCC", tcc, "Science data request TC packet seq. control"),
    ]


def obt_utc_cards(beg: float, end: float, utc: Sequence[str]) -> list[Card]:
    """OBT_BEG ... DATE-END of L1 and later products.

    ``beg``/``end`` are SCET seconds (written as STIXCore's float OBT); ``utc`` is the UTC start,
    centre and end text.
    """
    return [
        ("OBT_BEG", stixcore_float(beg), "Start of acquisition time in OBT"),
        ("OBT_END", stixcore_float(end), "End of acquisition time in OBT"),
        ("TIMESYS", "UTC", "System used for time keywords"),
        ("DATE-OBS", utc[0], "Start of acquisition time in UTC"),
        ("DATE-BEG", utc[0], "Start of acquisition time in UTC"),
        ("DATE-AVG", utc[1], "Center of acquisition time in UTC"),
        ("DATE-END", utc[2], "End of acquisition time in UTC"),
    ]


def creation_time(created: datetime) -> tuple[datetime, str]:
    """A writer's creation time in UTC and the checksum-comment stamp made of it.

    Raises
    ------
    ValueError
        If ``created`` is naive: a file's DATE must not depend on the machine's time zone.
    """
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    created = created.astimezone(UTC)
    return created, created.strftime("%Y-%m-%dT%H:%M:%S")
