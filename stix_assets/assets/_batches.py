"""Range runs of the day-partitioned level assets: the backfill policy and the batch results.

Reprocessing the mission is a backfill of ranges: a run builds up to `BATCH_DAYS` days, one after
the other with the same function as a single-day run (`stix_assets.core.levels.build_level_day`),
so SPICE kernels, the IDB and the catalog connection are opened once per batch instead of once
per day (docs/decisions.md, "Backfill batches").

Dagster records one materialization per asset and partition of the range. Each day's event carries
that day's metadata (``context.add_asset_metadata(partition_key=...)``); the batch adds a few
counts. The data version of a range run is one for the whole batch (Dagster has no per-partition
data version in one output), derived from the days' own content versions.
"""

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence

import dagster as dg

from stix_assets.partitions import scet_day_from_key

__all__ = [
    "BACKFILL_TAG",
    "BATCH_DAYS",
    "LEVEL_BACKFILL_POLICY",
    "RANGE_END_TAG",
    "RANGE_START_TAG",
    "REPROCESS_TAG",
    "DayResults",
    "batch_results",
    "partition_days",
]

BATCH_DAYS = 31
"""Days per run of a level backfill: a month, so a mission year is about 12 runs per level."""

LEVEL_BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=BATCH_DAYS)
"""Backfill policy of every level multi-asset (LB, L0, L1, CAL)."""

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
"""Run tags of a range run (what a backfill batch carries); tests and ``reprocess`` set them."""

BACKFILL_TAG = "dagster/backfill"
"""Tag Dagster puts on every run of a backfill (the backfill id)."""
REPROCESS_TAG = "stix/reprocess"
"""Tag of the runs of ``stix-assets reprocess``: like a UI backfill's runs (``dagster/backfill``),
their updates do not start the automation of the next level."""

DayResults = tuple[str, Sequence[dg.MaterializeResult]]
"""The partition key of one day and the results its build gave (one per product with files)."""


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The days of the run's partition or partition range, in order."""
    return sorted(scet_day_from_key(key) for key in context.partition_keys)


def _value(entry: object) -> object:
    return getattr(entry, "value", entry)


def batch_results(
    context: dg.AssetExecutionContext, per_day: Sequence[DayResults]
) -> list[dg.MaterializeResult]:
    """Results of the run: the day's own for one day; for a range, one per asset.

    For a range, each day's metadata is attached to that day's event. A product that wrote files
    on any day of the range is materialized for every day of it (Dagster cannot skip part of a
    range); the days without a file say ``n_files: 0``.
    """
    if len(per_day) == 1:
        return list(per_day[0][1])
    keys = [key for key, _ in per_day]
    by_asset: dict[dg.AssetKey, dict[str, dg.MaterializeResult]] = {}
    for key, results in per_day:
        for result in results:
            by_asset.setdefault(dg.AssetKey.from_coercible(result.asset_key), {})[key] = result
    out = []
    for asset_key, by_day in sorted(by_asset.items(), key=lambda kv: kv[0].to_user_string()):
        for key in keys:
            day = by_day.get(key)
            metadata: Mapping[str, object] = (day.metadata or {}) if day else {"n_files": 0}
            context.add_asset_metadata(dict(metadata), asset_key=asset_key, partition_key=key)
        out.append(_batch_result(asset_key, keys, by_day))
    return out


def _batch_result(
    asset_key: dg.AssetKey, keys: Sequence[str], by_day: Mapping[str, dg.MaterializeResult]
) -> dg.MaterializeResult:
    digest = hashlib.sha256()
    for key in sorted(by_day):
        version = by_day[key].data_version
        digest.update(f"{key}:{version.value if version else ''}|".encode())
    n_files = sum(int(_value((r.metadata or {}).get("n_files", 0))) for r in by_day.values())
    return dg.MaterializeResult(
        asset_key=asset_key,
        metadata={
            "batch": f"{keys[0]}...{keys[-1]}",
            "batch_days": len(keys),
            "batch_days_with_files": len(by_day),
            "batch_n_files": n_files,
        },
        data_version=dg.DataVersion(digest.hexdigest()),
    )
