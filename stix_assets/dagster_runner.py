"""Materialize given TM files through the asset graph on a Dagster instance (``--dagster``).

``stix-assets process --dagster`` calls `materialize_tm_files`: the files are put in the incoming
folder (the TM store the assets read by partition key), added as ``tm_files`` partitions,
``tm/raw`` is materialized for each, then the LB products of every SCET day they touched, one run
per day, exactly what the two sensors would request. Runs go through `dagster.materialize` on the
given instance (normally ``DagsterInstance.get()``, i.e. ``DAGSTER_HOME``), so the UI shows them.

If the daemon runs with ``tm_inbox_sensor`` on the same incoming folder, it also sees the copied
files and requests ``tm/raw`` once more; that repeat is idempotent (same catalog rows, LB merge
adds no packet).
"""

import datetime as dt
import filecmp
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.storage.defs_state.base import set_defs_state_storage

from stix_assets.assets._batches import BATCH_DAYS, RANGE_END_TAG, RANGE_START_TAG, REPROCESS_TAG
from stix_assets.assets._results import (
    TM_RAW_KEY,
    data_days_from_metadata,
    days_touched_from_metadata,
    lb_asset_key,
    level_asset_key,
)
from stix_assets.assets.daily import (
    ANC_ASPECT_KEY,
    FLARELIST_KEY,
    LL03_KEY,
    anc_aspect,
    l3_flarelist,
    plots_ql_lightcurve,
)
from stix_assets.assets.ingest import tm_raw
from stix_assets.assets.levels import ROUTE_ASSETS
from stix_assets.core.levels import LEVELS, affected_days, products_at
from stix_assets.core.levels.windows import level_after
from stix_assets.core.manifest import write_manifest
from stix_assets.core.products.registry import PRODUCTS
from stix_assets.partitions import scet_day_key, scet_day_range, tm_files
from stix_assets.resources import StixSettings
from stix_assets.sensors import plan_days

__all__ = [
    "DagsterRun",
    "DagsterRunSummary",
    "materialize_daily_products",
    "materialize_tm_files",
    "reprocess_days",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DagsterRun:
    """One run: its partition, what it selected, its id and whether it succeeded."""

    partition_key: str
    assets: tuple[str, ...]
    run_id: str
    success: bool


@dataclass(frozen=True, slots=True)
class DagsterRunSummary:
    """The ``tm/raw`` runs (one per file) and the runs of each level (one per day)."""

    tm_runs: tuple[DagsterRun, ...]
    lb_runs: tuple[DagsterRun, ...]
    l0_runs: tuple[DagsterRun, ...] = ()
    l1_runs: tuple[DagsterRun, ...] = ()
    l2_runs: tuple[DagsterRun, ...] = ()

    @property
    def success(self) -> bool:
        """True when every run succeeded."""
        return all(r.success for r in self._all())

    def _all(self) -> tuple[DagsterRun, ...]:
        return (*self.tm_runs, *self.lb_runs, *self.l0_runs, *self.l1_runs, *self.l2_runs)

    @property
    def failed(self) -> tuple[DagsterRun, ...]:
        """The runs that failed."""
        return tuple(r for r in self._all() if not r.success)

    def __str__(self) -> str:
        ok_tm = sum(r.success for r in self.tm_runs)
        ok_lb = sum(r.success for r in self.lb_runs)
        ok_l0 = sum(r.success for r in self.l0_runs)
        text = (
            f"{ok_tm}/{len(self.tm_runs)} TM files ingested, "
            f"{ok_lb}/{len(self.lb_runs)} LB days written, "
            f"{ok_l0}/{len(self.l0_runs)} L0 days written"
        )
        if self.l1_runs:
            text += f", {sum(r.success for r in self.l1_runs)}/{len(self.l1_runs)} L1 days written"
        if self.l2_runs:
            text += f", {sum(r.success for r in self.l2_runs)}/{len(self.l2_runs)} CAL days written"
        return text


def _stage(paths: Sequence[Path], incoming: Path) -> list[str]:
    """Put the files in the incoming folder (unless already there); return partition keys."""
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise ValueError("two TM files share a name; partition keys must be unique")
    incoming.mkdir(parents=True, exist_ok=True)
    for path in paths:
        target = incoming / path.name
        if target.resolve() == path.resolve():
            continue
        if target.exists():
            if not filecmp.cmp(path, target, shallow=False):
                raise FileExistsError(f"{target} exists with other content than {path}")
            continue
        shutil.copy2(path, target)
        logger.info("tm staged file=%s incoming=%s", path.name, incoming)
    return names


def _materialize(
    instance: dg.DagsterInstance,
    stix: StixSettings,
    partition_key: str,
    selection: Sequence[dg.AssetKey],
    assets: Sequence[dg.AssetsDefinition | dg.AssetSpec] = ROUTE_ASSETS,
    *,
    last_key: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> tuple[DagsterRun, dg.ExecuteInProcessResult]:
    """One run of ``selection`` for a partition, or the range ``partition_key..last_key``."""
    tags = {"stix/trigger": "cli", **(tags or {})}
    if last_key is not None and last_key != partition_key:  # a range run, as a backfill batch
        tags |= {RANGE_START_TAG: partition_key, RANGE_END_TAG: last_key}
    # Dagster 1.13 resolves the Definitions against a context-global "defs state storage" that
    # points at whichever instance was entered last; an instance entered elsewhere in the process
    # and garbage-collected since leaves it dangling ("Attempted to resolve undefined
    # DagsterInstance weakref"). Pin it to the instance this run is recorded on.
    with set_defs_state_storage(instance.defs_state_storage):
        result = dg.materialize(
            assets,
            instance=instance,
            partition_key=None if RANGE_START_TAG in tags else partition_key,
            selection=list(selection),
            resources={"stix": stix},
            tags=tags,
            # the run's events go to the instance (UI); the terminal gets warnings and errors only
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
    names = tuple("/".join(k.path) for k in selection)
    label = partition_key if RANGE_START_TAG not in tags else f"{partition_key}...{last_key}"
    return DagsterRun(label, names, result.run_id, result.success), result


_NODE = {"LB": "level_binary", "L0": "level_0", "L1": "level_1", "CAL": "level_2"}
_KEY = {
    "LB": lb_asset_key,
    "L0": lambda p: level_asset_key("l0", p),
    "L1": lambda p: level_asset_key("l1", p),
    "CAL": lambda p: level_asset_key("l2", p),
}


def _run_level(
    instance: dg.DagsterInstance,
    stix: StixSettings,
    level: str,
    days: Mapping[dt.date, set[str]],
) -> tuple[list[DagsterRun], dict[dt.date, set[str]]]:
    """One run per day of ``level``; returns the runs and the data days of what they wrote.

    The data days feed `affected_days` of the next level, exactly as in the direct route: the
    partition day for daily files, the data start day of BSD L0 files (``data_days`` metadata).
    """
    runs: list[DagsterRun] = []
    written: dict[dt.date, set[str]] = {}
    for day, products in sorted(days.items()):
        keys = [_KEY[level](p) for p in sorted(products)]
        run, result = _materialize(instance, stix, scet_day_key(day), keys)
        runs.append(run)
        if not run.success:
            continue
        for event in result.asset_materializations_for_node(_NODE[level]):
            product = event.asset_key.path[-1]
            data_days = data_days_from_metadata(event.metadata) if level == "L0" else []
            for data_day in data_days or [day]:
                written.setdefault(data_day, set()).add(product)
    return runs, written


def _chain(
    instance: dg.DagsterInstance,
    stix: StixSettings,
    lb_days: Mapping[dt.date, set[str]],
    *,
    end_level: str,
    last_day: dt.date,
) -> dict[str, list[DagsterRun]]:
    """LB days given, then every day they affect, level by level up to ``end_level``."""
    runs: dict[str, list[DagsterRun]] = {}
    todo = {d: set(p) for d, p in lb_days.items()}
    for level in LEVELS[: LEVELS.index(end_level) + 1]:
        runs[level], written = _run_level(instance, stix, level, todo)
        following = level_after(level)
        if following is not None:
            todo = {d: p for d, p in affected_days(following, written).items() if d <= last_day}
    return runs


def materialize_tm_files(
    paths: Sequence[Path | str],
    settings: StixSettings,
    instance: dg.DagsterInstance,
    *,
    end_level: str = "L0",
) -> DagsterRunSummary:
    """Ingest TM files and rebuild every level-day they affect, as Dagster runs on ``instance``.

    Parameters
    ----------
    paths : TM files (``*PktTmRaw*.xml``); copied into ``settings.incoming_path()`` unless there
    settings : folders and options, as the code location uses them
    instance : where runs and materializations are recorded
    end_level : ``"TM"``, ``"LB"``, ``"L0"``, ``"L1"`` or ``"L2"``: the last level materialized

    Returns
    -------
    DagsterRunSummary
        A failed file does not stop the others; its run is listed as failed.

    Raises
    ------
    FileExistsError
        If the incoming folder holds a different file of the same name.
    """
    names = _stage([Path(p) for p in paths], settings.incoming_path())
    instance.add_dynamic_partitions(tm_files.name, names)
    tm_runs, records = [], []
    for i, name in enumerate(names):
        run, result = _materialize(instance, settings, name, [TM_RAW_KEY])
        tm_runs.append(run)
        events = result.asset_materializations_for_node(tm_raw.op.name) if run.success else []
        records.extend((i, days_touched_from_metadata(e.metadata)) for e in events)
    first_day, last_day = scet_day_range(dt.datetime.now(dt.UTC))
    plan = plan_days(
        records,
        cursor=None,
        first_day=first_day,
        last_day=last_day,
        products=[p.key for p in PRODUCTS],
    )
    if plan.dropped:
        logger.warning("scet days outside the partition range dropped n=%d", len(plan.dropped))
    runs: dict[str, list[DagsterRun]] = {}
    if end_level != "TM":
        lb_days = {r.scet_day: set(r.products) for r in plan.requests}
        runs = _chain(
            instance, settings, lb_days, end_level=_CHAIN_LEVEL[end_level], last_day=last_day
        )
    summary = _summary(tm_runs, runs)
    if end_level != "TM":
        write_manifest(settings.catalog())  # <archive>/manifest/ after the run, as the CLI does
    logger.info("dagster processing done summary=%s", summary)
    return summary


_CHAIN_LEVEL = {"LB": "LB", "L0": "L0", "L1": "L1", "L2": "CAL"}


def _summary(tm_runs: Sequence[DagsterRun], runs: Mapping[str, Sequence[DagsterRun]]):
    return DagsterRunSummary(
        tuple(tm_runs),
        *(tuple(runs.get(level, ())) for level in LEVELS),
    )


def reprocess_days(
    first_day: dt.date,
    last_day: dt.date,
    settings: StixSettings,
    instance: dg.DagsterInstance,
    *,
    levels: Sequence[str] = ("LB", "L0", "L1"),
    products: Sequence[str] | None = None,
    batch_days: int = BATCH_DAYS,
) -> DagsterRunSummary:
    """Rebuild a date range as a backfill of ranges, level by level (all days of a level first).

    One run per level and batch of ``batch_days`` days, as a UI backfill with the levels'
    `LEVEL_BACKFILL_POLICY` makes. A level is not run together with the next one: a run skips
    the steps after a product that had no file (skippable specs), and a day's window reaches
    into the next batch. The runs carry `REPROCESS_TAG`, so the automation does not request the
    next level of those days a second time (`stix_assets.assets.levels.follows_upstream_days`).
    Products filter by registry key. Every level-day is rebuilt from everything the catalog
    knows for it (`stix_assets.core.levels.build_level_day`).
    """
    chosen = [_CHAIN_LEVEL.get(level, level) for level in levels]
    unknown = set(chosen) - set(LEVELS)
    if unknown:
        raise ValueError(f"unknown levels {sorted(unknown)}; use LB, L0, L1, L2")
    n_days = (last_day - first_day).days + 1
    batches = [
        (
            first_day + dt.timedelta(days=i),
            min(last_day, first_day + dt.timedelta(i + batch_days - 1)),
        )
        for i in range(0, n_days, batch_days)
    ]
    runs: dict[str, list[DagsterRun]] = {}
    for level in (lvl for lvl in LEVELS if lvl in chosen):
        keys = [_KEY[level](p) for p in products_at(level) if products is None or p in products]
        for start, end in batches if keys else ():
            run, _ = _materialize(
                instance, settings, scet_day_key(start), keys,
                last_key=scet_day_key(end), tags={REPROCESS_TAG: "cli"},
            )  # fmt: skip
            runs.setdefault(level, []).append(run)
    write_manifest(settings.catalog())
    return _summary((), runs)


def materialize_daily_products(
    days: Sequence[dt.date], settings: StixSettings, instance: dg.DagsterInstance
) -> tuple[DagsterRun, ...]:
    """ANC and LL03 of each UTC day, then the flare list of each month touched, as runs.

    What ``daily_products_schedule`` and ``flarelist_schedule`` would request for these days; a
    day without its L1 input gives a failed run, listed like any other.
    """
    daily = [
        _materialize(
            instance, settings, day.isoformat(), [ANC_ASPECT_KEY, LL03_KEY],
            assets=[anc_aspect, plots_ql_lightcurve],
        )[0]
        for day in sorted(set(days))
    ]  # fmt: skip
    months = sorted({day.replace(day=1) for day in days})
    monthly = [
        _materialize(instance, settings, month.isoformat(), [FLARELIST_KEY], assets=[l3_flarelist])[
            0
        ]
        for month in months
    ]
    return (*daily, *monthly)
