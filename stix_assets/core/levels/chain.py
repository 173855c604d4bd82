"""Carry a set of days from one level to the next, each level-day through `build_level_day`.

This is the direct route (``stix-assets process`` without ``--dagster``); the Dagster routes
request the same level-days as runs, derived with the same `affected_days`.

The days of one level do not depend on each other, so with ``workers > 1`` and enough days they
are built in forked worker processes, each taking a contiguous block of days (neighbouring days
share input files, so a block reuses its decoded files). Global state, declared: a worker inherits
the run's context through the module variable ``_WORKER`` (set only while the pool runs, never
pickled); it opens its own IDB store (SQLite connections must not cross a fork) and loads its
own SPICE kernels (SPICE state is per process).
"""

import contextlib
import dataclasses
import datetime as dt
import importlib
import multiprocessing
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from stix_assets.core.levels.day import LevelContext, LevelDayResult, build_level_day
from stix_assets.core.levels.windows import LEVELS, affected_days
from stix_assets.core.spice import KernelStore, LoadedKernels, loaded_kernels
from stix_assets.core.steps import add_seconds, reset, step, step_seconds

__all__ = ["MIN_PARALLEL_DAYS", "ChainResult", "run_chain", "written_days"]

MIN_PARALLEL_DAYS = 4
"""Fewer days of a level than this are built in the calling process (a fork costs more)."""

_WORKER: dict[str, object] = {}

_LEVEL_MODULES = {
    "LB": ("stix_assets.core.products.lb",),
    "L0": ("stix_assets.core.products.l0", "stix_assets.core.products.l0_writer"),
    "L1": ("stix_assets.core.products.l1",),
    "CAL": ("stix_assets.core.products.l2",),
}
"""What each level loads on first use (timed as the step ``imports``, before the workers fork)."""


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
    workers: int = 1,
) -> ChainResult:
    """Rebuild the LB days given and, level by level up to ``end_level``, every day they affect.

    Parameters
    ----------
    lb_days : SCET day -> products whose TM input changed (from the indexed TM files)
    ctx : the run's context
    end_level : last level built (``LB``, ``L0``, ``L1`` or ``CAL``)
    kernel_store : SPICE kernels (L1, CAL); loaded once per level and process
    on_step : progress callback before each level (``"building L0: 5 days"``)
    workers : processes for the days of one level (at least `MIN_PARALLEL_DAYS` days)

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
        with step("imports"):
            for module in _LEVEL_MODULES[level]:
                importlib.import_module(module)
        days = [(day, sorted(products)) for day, products in sorted(todo.items())]
        n_workers = min(workers, len(days) // 2) if len(days) >= MIN_PARALLEL_DAYS else 1
        if n_workers > 1:
            out.results[level] = _build_parallel(level, days, ctx, kernel_store, n_workers)
        else:
            out.results[level] = _build_days(level, days, ctx, kernel_store)
        out.seconds[level] = time.perf_counter() - start
    return out


def _build_days(
    level: str,
    days: list[tuple[dt.date, list[str]]],
    ctx: LevelContext,
    kernel_store: KernelStore | None,
) -> list[LevelDayResult]:
    with _kernels_for(level, kernel_store) as kernels:
        return [
            build_level_day(level, day, ctx, products=products, kernels=kernels)
            for day, products in days
        ]


def _worker_block(
    level: str, days: list[tuple[dt.date, list[str]]]
) -> tuple[list[LevelDayResult], dict[str, float]]:
    """Build a block of days in a forked worker; send back slim results and the step times."""
    reset()  # the parent's totals came along with the fork
    ctx = _WORKER["ctx"]
    ctx = dataclasses.replace(ctx, store=ctx.store.fresh())
    results = _build_days(level, days, ctx, _WORKER["kernel_store"])
    return [r.slim() for r in results], step_seconds()


def _build_parallel(
    level: str,
    days: list[tuple[dt.date, list[str]]],
    ctx: LevelContext,
    kernel_store: KernelStore | None,
    n_workers: int,
) -> list[LevelDayResult]:
    size = -(-len(days) // n_workers)
    blocks = [days[i : i + size] for i in range(0, len(days), size)]
    _WORKER.update(ctx=ctx, kernel_store=kernel_store)
    try:
        with ProcessPoolExecutor(
            max_workers=len(blocks), mp_context=multiprocessing.get_context("fork")
        ) as pool:
            futures = [pool.submit(_worker_block, level, block) for block in blocks]
            out = []
            for future in futures:
                results, seconds = future.result()
                out.extend(results)
                add_seconds(seconds)
            return out
    finally:
        _WORKER.clear()
