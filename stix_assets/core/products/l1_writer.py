"""Writing L1 files: primary header cards and the tables of an `L1Product`, atomically.

Files go under ``<archive_root>/L1/<YYYY>/<MM>/<DD>/<TYPE>/`` with the name chosen at build time
(`stix_assets.core.products.l1_build.l1_file_name`) and are rewritten whole
(`stix_assets.core.fits.write_fits`): HDUs PRIMARY, CONTROL, DATA, IDB_VERSIONS and ENERGIES as
at L0 (`stix_assets.core.products.l0_writer.l0_tables`).
"""

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np

from stix_assets.core.ephemeris import EPHEMERIS_COMMENTS
from stix_assets.core.fits import Card, write_fits
from stix_assets.core.products.header import common_cards, creation_time, obt_utc_cards
from stix_assets.core.products.l0_writer import l0_tables
from stix_assets.core.products.l1_model import L1FileResult, L1Product

__all__ = ["SOOP_KEYWORDS", "write_l1"]

logger = logging.getLogger(__name__)

SOOP_KEYWORDS = (
    ("OBS_MODE", "Observation mode"),
    ("OBS_TYPE", "Encoded version of OBS_MODE"),
    ("OBS_ID", "Unique ID of the individual observation"),
    ("SOOPNAME", "Name of the SOOP Campaign that the data belong to"),
    ("SOOPTYPE", "Campaign ID(s) that the data belong to"),
    ("TARGET", "Type of target from planning"),
)


def _float_or_empty(value: float) -> float | str:
    return "" if value is None or np.isnan(value) else value


def _primary_cards(
    prod: L1Product, created: datetime, software_version: str, config_version: str
) -> list[Card]:
    t = prod.tables
    spec = t.spec
    beg, end = t.time_range()
    timedel = np.asarray(t.data["timedel"], dtype=np.float64)
    dmin, dmax = t.data_range
    cards: list[Card] = [
        *common_cards(
            file_name=prod.file_name,
            raw_files=t.raw_files,
            parents=t.parents,
            created=created,
            level="L1",
            software_version=software_version,
            config_version=config_version,
            version=spec.processing_version,
            ids=prod.ids,
        ),
        ("DATAMIN", _float_or_empty(dmin), "Minimum valid physical value"),
        ("DATAMAX", _float_or_empty(dmax), "Maximum valid physical value"),
        ("BUNIT", t.bunit, "Units of physical value, after application of BSCALE, BZERO"),
        ("XPOSURE", float(timedel.min()) if len(timedel) else 0.0, "[s] shortest exposure time"),
        ("XPOMAX", float(timedel.max()) if len(timedel) else 0.0, "[s] maximum exposure time"),
        *((key, "none", comment) for key, comment in SOOP_KEYWORDS),
        *obt_utc_cards(beg, end, prod.utc),
    ]
    cards.extend((k, v, EPHEMERIS_COMMENTS.get(k, "")) for k, v in prod.ephemeris.items())
    cards.extend(c for c in t.header if c[0] not in ("COMMENT", "HISTORY"))
    cards.extend(c for c in t.header if c[0] == "COMMENT")
    cards.extend(c for c in t.header if c[0] == "HISTORY")
    cards.append(("HISTORY", "Processed by stix-assets L1", ""))
    return cards


def write_l1(
    products: Iterable[L1Product],
    archive_root: Path | str,
    *,
    created: datetime,
    software_version: str,
    config_version: str = "",
    needs_reprocessing: bool = False,
) -> list[L1FileResult]:
    """Write L1 products under ``<archive_root>/L1/<YYYY>/<MM>/<DD>/<TYPE>/`` (whole rewrite).

    Parameters
    ----------
    products : from `build_l1_day`
    archive_root : archive root
    created : timezone-aware creation time (``DATE``, checksum comments)
    software_version, config_version : ``VERS_SW``, ``VERS_CFG``
    needs_reprocessing : the day's flag (`L1Build.needs_reprocessing`), copied into every result

    Returns
    -------
    list of L1FileResult in file-name order
    """
    created, stamp = creation_time(created)
    root = Path(archive_root)
    results = []
    for prod in products:
        if prod.n_rows == 0:
            continue
        path = root / prod.directory / prod.file_name
        cards = _primary_cards(prod, created, software_version, config_version)
        sha = write_fits(
            path,
            cards,
            l0_tables(prod.tables),
            checksum_comment=stamp,
        )
        logger.info("l1 written file=%s rows=%d", prod.file_name, prod.n_rows)
        suffix = _request_suffix(prod)
        results.append(
            L1FileResult(
                path=path,
                product_key=prod.tables.spec.key,
                utc_day=prod.utc_day,
                request_id=suffix,
                sha256=sha,
                n_rows=prod.n_rows,
                inputs=prod.tables.parents,
                spice_error=prod.spice_error,
                needs_reprocessing=needs_reprocessing or prod.spice_error or prod.extrapolated,
                notes=prod.notes,
            )
        )
    return sorted(results, key=lambda r: r.path.name)


def _request_suffix(prod: L1Product) -> str | None:
    if not prod.tables.spec.per_request:
        return None
    return prod.file_name.removesuffix(".fits").split("_", 5)[-1]
