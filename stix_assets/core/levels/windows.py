"""The input window of every level, defined once: which upstream days a level-day reads.

A level-day is rebuilt from *everything* known for its window, never from what one run happened
to see; so the days that a set of new upstream files affects are exactly the days whose window
contains them (`affected_days`, the inverse of `input_days`). The Dagster partition mappings of
the level assets are derived from the same table (`stix_assets.assets.levels`).

=====  ========  ======================  ==========================================================
level  reads     daily product window    why
=====  ========  ======================  ==========================================================
LB     TM files  the SCET day itself     a TM file lists the SCET days of its packets (catalog)
L0     LB        SCET day -1, 0, +1      a bin whose centre lies just past midnight can sit in the
                                         LB file of the neighbouring day; BSD: the day itself
L1     L0        SCET day -1, 0, +1      UTC and SCET days differ by up to a minute, so a UTC day
                                         takes bins from the SCET day files around it (BSD too)
CAL    L1        the UTC day itself      one CAL file per calibration spectrum of the L1 day
=====  ========  ======================  ==========================================================
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stix_assets.core.products.registry import PRODUCTS, product_by_key

__all__ = [
    "INPUT_WINDOWS",
    "LEVELS",
    "InputWindow",
    "affected_days",
    "input_days",
    "level_after",
    "products_at",
]

LEVELS = ("LB", "L0", "L1", "CAL")
"""The levels built per day, in order (CAL is the L2 stage; ``L2`` on the command line)."""


@dataclass(frozen=True, slots=True)
class InputWindow:
    """Which upstream partitions one partition of a level reads.

    Attributes
    ----------
    upstream : the level read (``"TM"`` for LB)
    daily : day offsets of the upstream partitions a daily product reads
    per_request : day offsets a per-request (BSD) product reads
    """

    upstream: str
    daily: tuple[int, ...]
    per_request: tuple[int, ...]

    def offsets(self, product: str) -> tuple[int, ...]:
        """Day offsets read for ``product`` (a registry key)."""
        return self.per_request if product_by_key(product).per_request else self.daily


INPUT_WINDOWS: Mapping[str, InputWindow] = {
    "LB": InputWindow("TM", daily=(0,), per_request=(0,)),
    "L0": InputWindow("LB", daily=(-1, 0, 1), per_request=(0,)),
    "L1": InputWindow("L0", daily=(-1, 0, 1), per_request=(-1, 0, 1)),
    "CAL": InputWindow("L1", daily=(0,), per_request=(0,)),
}


def level_after(level: str) -> str | None:
    """The level built from ``level`` (``None`` after the last)."""
    i = LEVELS.index(level)
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None


def products_at(level: str) -> tuple[str, ...]:
    """Registry keys of the products that exist at ``level``, in registry order.

    Every product has LB files; those with an L0 family (the builders) continue to L0 and L1;
    CAL exists for the L1 families with an L2-stage product.
    """
    if level == "LB":
        return tuple(p.key for p in PRODUCTS)
    if level in ("L0", "L1"):
        from stix_assets.core.products.builders import BUILDERS  # the families import numpy code

        return tuple(p.key for p in PRODUCTS if p.key in BUILDERS)
    if level == "CAL":
        from stix_assets.core.products.l2 import L2_PRODUCTS  # imports the CAL fit (scipy)

        return tuple(L2_PRODUCTS)
    raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")


def input_days(level: str, product: str, day: dt.date) -> list[dt.date]:
    """Upstream days read when ``product`` is built at ``level`` for ``day``."""
    return [day + dt.timedelta(days=off) for off in INPUT_WINDOWS[level].offsets(product)]


def affected_days(level: str, upstream: Mapping[dt.date, Iterable[str]]) -> dict[dt.date, set[str]]:
    """Days (and their products) of ``level`` whose input window holds new upstream files.

    Parameters
    ----------
    level : the level to rebuild
    upstream : upstream partition day -> products written (or touched) there

    Returns
    -------
    day -> products to rebuild; products that do not exist at ``level`` are left out.
    """
    window = INPUT_WINDOWS[level]
    present = set(products_at(level))
    out: dict[dt.date, set[str]] = {}
    for day, products in upstream.items():
        for product in set(products) & present:
            for off in window.offsets(product):
                out.setdefault(day - dt.timedelta(days=off), set()).add(product)
    return out
