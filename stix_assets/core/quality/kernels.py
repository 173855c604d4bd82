"""SPICE kernels behind L1 and later files: flown, not predicted, orbit."""

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import fitsio

from stix_assets.core.quality.base import LISTED, WARN, QualityResult, not_applicable
from stix_assets.core.spice import meta_kernel_date

__all__ = [
    "check_orbit_kernels",
    "orbit_kind",
]

logger = logging.getLogger(__name__)


def orbit_kind(spice_mk: str, utc_day: date) -> str | None:
    """Orbit kernels a product of ``utc_day`` was made with, from its ``SPICE_MK`` value.

    ``"flown"`` when a flown meta-kernel dated after the day was loaded (STIXCore's criterion, as
    `stix_assets.core.ephemeris.DayCoverage.before_flown_mk`), ``"predicted"`` otherwise, ``None``
    when no meta-kernel is named.

    >>> orbit_kind("solo_ANC_soc-pred-mk_V1_20240601_001.tm, "
    ...            "solo_ANC_soc-flown-mk_V1_20240520_001.tm", date(2024, 5, 25))
    'predicted'
    """
    names = [n.strip() for n in spice_mk.replace(";", ",").split(",") if n.strip()]
    if not names:
        return None
    flown = [meta_kernel_date(n) for n in names if "-flown-" in n.lower()]
    return "flown" if any(d is not None and utc_day < d for d in flown) else "predicted"


def check_orbit_kernels(files: Sequence[Path | str], *, utc_day: date) -> QualityResult:
    """Check that the products of a UTC day were made with flown, not predicted, orbit kernels (WARN)."""
    kinds: dict[str, str | None] = {}
    for path in files:
        header = fitsio.read_header(str(path), ext=0)
        value = header.get("SPICE_MK")
        kinds[Path(path).name] = None if value is None else orbit_kind(str(value), utc_day)
    known = {k: v for k, v in kinds.items() if v is not None}
    if not known:
        return not_applicable(WARN, "no SPICE_MK in this partition", n_files=len(files))
    predicted = sorted(k for k, v in known.items() if v == "predicted")
    return QualityResult(
        passed=not predicted,
        severity=WARN,
        summary=f"{len(predicted)} of {len(known)} files made with predicted orbit kernels",
        metadata={"predicted": len(predicted), "files_predicted": predicted[:LISTED]},
    )
