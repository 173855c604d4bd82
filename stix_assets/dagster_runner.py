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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from stix_assets.assets._results import TM_RAW_KEY, days_touched_from_metadata, lb_asset_key
from stix_assets.assets.ingest import idb_versions, tm_raw
from stix_assets.assets.levels import level_binary
from stix_assets.core.products.registry import PRODUCTS
from stix_assets.partitions import scet_day_key, scet_day_range, tm_files
from stix_assets.resources import StixSettings
from stix_assets.sensors import plan_days

__all__ = ["DagsterRun", "DagsterRunSummary", "materialize_tm_files"]

logger = logging.getLogger(__name__)

_ASSETS = [idb_versions, tm_raw, level_binary]


@dataclass(frozen=True, slots=True)
class DagsterRun:
    """One run: its partition, what it selected, its id and whether it succeeded."""

    partition_key: str
    assets: tuple[str, ...]
    run_id: str
    success: bool


@dataclass(frozen=True, slots=True)
class DagsterRunSummary:
    """The ``tm/raw`` runs (one per file) and the LB runs (one per SCET day)."""

    tm_runs: tuple[DagsterRun, ...]
    lb_runs: tuple[DagsterRun, ...]

    @property
    def success(self) -> bool:
        """True when every run succeeded."""
        return all(r.success for r in (*self.tm_runs, *self.lb_runs))

    @property
    def failed(self) -> tuple[DagsterRun, ...]:
        """The runs that failed."""
        return tuple(r for r in (*self.tm_runs, *self.lb_runs) if not r.success)

    def __str__(self) -> str:
        ok_tm = sum(r.success for r in self.tm_runs)
        ok_lb = sum(r.success for r in self.lb_runs)
        return (
            f"{ok_tm}/{len(self.tm_runs)} TM files ingested, "
            f"{ok_lb}/{len(self.lb_runs)} LB days written"
        )


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
) -> tuple[DagsterRun, dg.ExecuteInProcessResult]:
    result = dg.materialize(
        _ASSETS,
        instance=instance,
        partition_key=partition_key,
        selection=list(selection),
        resources={"stix": stix},
        tags={"stix/trigger": "cli"},
        raise_on_error=False,
    )
    names = tuple("/".join(k.path) for k in selection)
    return DagsterRun(partition_key, names, result.run_id, result.success), result


def materialize_tm_files(
    paths: Sequence[Path | str],
    settings: StixSettings,
    instance: dg.DagsterInstance,
) -> DagsterRunSummary:
    """Ingest TM files and write the LB days they touch, as Dagster runs on ``instance``.

    Parameters
    ----------
    paths : TM files (``*PktTmRaw*.xml``); copied into ``settings.incoming_path()`` unless there
    settings : folders and options, as the code location uses them
    instance : where runs and materializations are recorded

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
    lb_runs = [
        _materialize(
            instance, settings, scet_day_key(r.scet_day), [lb_asset_key(p) for p in r.products]
        )[0]
        for r in plan.requests
    ]
    summary = DagsterRunSummary(tuple(tm_runs), tuple(lb_runs))
    logger.info("dagster processing done summary=%s", summary)
    return summary
