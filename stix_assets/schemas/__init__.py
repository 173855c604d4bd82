"""The format contract of the products: one versioned JSON schema per level family.

Each ``<family>.json`` (``lb``, ``l0``, ``l1``, ``cal``) lists, per product kind (the
``stix-...`` part of the file name), the HDUs in order and per table HDU the columns with dtype,
per-row shape (``null`` for a dimension that varies between files) and unit, and the primary
keywords every product of the kind carries. ``version`` is written into every product as the
``SCHEMAV`` primary keyword (`schema_version`); ``changelog`` says what each version changed.

``schemas.lock.json`` keeps the sha256 of each version's content (`schema_hash`, the changelog
left out): the tests fail when a schema changes without a new version. The product format
document ``docs/product-format.md`` is rendered from the schemas (`stix_assets.schemas.render`).
"""

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "FAMILIES",
    "LOCK_FILE",
    "SCHEMA_DIR",
    "family_of_level",
    "load_schema",
    "product_kind",
    "schema_hash",
    "schema_version",
]

SCHEMA_DIR = Path(__file__).parent
LOCK_FILE = SCHEMA_DIR / "schemas.lock.json"
FAMILIES = ("lb", "l0", "l1", "cal")
_LEVELS = {"LB": "lb", "L0": "l0", "L1": "l1", "CAL": "cal", "L2": "cal"}
_KIND = re.compile(r"^solo_[A-Z0-9]+_(stix-[a-z0-9-]+?)(?:-\d{3,})?_")


def family_of_level(level: str) -> str:
    """The schema family of a ``LEVEL`` keyword value (``LB``, ``L0``, ``L1``, ``CAL``/``L2``).

    Raises
    ------
    KeyError
        For a level without a schema.
    """
    return _LEVELS[level.strip().upper()]


@cache
def load_schema(family: str) -> dict[str, Any]:
    """The schema of one family (``lb``, ``l0``, ``l1``, ``cal``), read once per process."""
    return json.loads((SCHEMA_DIR / f"{family}.json").read_text())


def schema_version(level: str) -> int:
    """The current schema version of a level's products (the ``SCHEMAV`` keyword)."""
    return int(load_schema(family_of_level(level))["version"])


def schema_hash(schema: dict[str, Any]) -> str:
    """sha256 of a schema's content in canonical JSON, its ``changelog`` left out."""
    content = {k: v for k, v in schema.items() if k != "changelog"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def product_kind(file_name: str) -> str:
    """The product kind of a file name (the ``stix-...`` part).

    ``solo_L1_stix-ql-lightcurve_20201122_V02U.fits`` -> ``stix-ql-lightcurve``; a trailing
    event or request number (3 digits or more) is dropped.

    Raises
    ------
    ValueError
        If the name is not a STIX product name.
    """
    match = _KIND.match(file_name)
    if match is None:
        raise ValueError(f"{file_name} is not a STIX product file name")
    return match.group(1)
