"""Carry a set of days from one level to the next, each level-day through `build_level_day`.

This is the direct route (``stix-assets process`` without ``--dagster``); the Dagster routes
request the same level-days as runs, derived with the same `affected_days`.
"""

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from stix_assets.core.levels.day import LevelContext, LevelDayResult, build_level_day
from stix_assets.core.levels.windows import LEVELS, affected_days
from stix_assets.core.spice import KernelStore, LoadedKernels, loaded_kernels

__all__ = ["ChainResult", "run_chain", "written_days"]


@dataclass(slots=True)
class ChainResult:
    """Every level-day built by `run_chain`, per level, and the wall time of each level (s)."""

    results: dict[str, list[LevelDayResult]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def written(self, level: str) -> list:
        """The file results of ``level``, over all its days."""
        return [w for r in self.results.get(level, []) for w in r.written]

    def issues(self) -> list[dict[str, object]]:
        """Everything left out, over all levels and days."""
        return [i for rs in self.results.values() for r in rs for i in r.issues]


def written_days(results: list[LevelDayResult]) -> dict[dt.date, set[str]]:
    """Data day -> products that got files, over level-day results (see `data_days`)."""
    out: dict[dt.date, set[str]] = {}
    for r in results:
        for day, products in r.data_days().items():
            out.setdefault(day, set()).update(products)
    return out


@contextlib.contextmanager
def _kernels_for(level: str, store: KernelStore | None) -> Iterator[LoadedKernels | None]:
    if level not in ("L1", "CAL"):
        yield None
        return
    if store is None:
        raise ValueError(f"level {level} needs the SPICE kernel folder (spice_dir)")
    with loaded_kernels(store) as kernels:
        yield kernels


def run_chain(
    lb_days: Mapping[dt.date, set[str]],
    ctx: LevelContext,
    *,
    end_level: str,
    kernel_store: KernelStore | None = None,
    on_step: Callable[[str], None] | None = None,
) -> ChainResult:
    """Rebuild the LB days given and, level by level up to ``end_level``, every day they affect.

    Parameters
    ----------
    lb_days : SCET day -> products whose TM input changed (from the indexed TM files)
    ctx : the run's context
    end_level : last level built (``LB``, ``L0``, ``L1`` or ``CAL``)
    kernel_store : SPICE kernels (L1, CAL); loaded once per level
    on_step : progress callback before each level (``"L0: 5 days"``)

    Returns
    -------
    ChainResult
    """
    out = ChainResult()
    todo: dict[dt.date, set[str]] = {d: set(p) for d, p in lb_days.items() if p}
    for level in LEVELS[: LEVELS.index(end_level) + 1]:
        if level != "LB":
            todo = affected_days(level, written_days(out.results[LEVELS[LEVELS.index(level) - 1]]))
        if on_step is not None:
            on_step(f"building {level}: {len(todo)} days")
        start = time.perf_counter()
        with _kernels_for(level, kernel_store) as kernels:
            out.results[level] = [
                build_level_day(level, day, ctx, products=sorted(products), kernels=kernels)
                for day, products in sorted(todo.items())
            ]
        out.seconds[level] = time.perf_counter() - start
    return out
