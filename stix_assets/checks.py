"""Asset checks of the level assets: one Dagster result per asset, check and day partition.

Each check is named as the statement it verifies (``lb_has_no_lost_packets``) and evaluated by a
pure function of `stix_assets.core.quality`; this module only picks the files of the partition
from the catalog (``product_files``), calls the core and wraps its `QualityResult`. All checks are
non-blocking: a failing check marks the partition in the UI but never stops the pipeline.

One `dg.multi_asset_check` per level evaluates every selected check of one partition in one step,
so the files of a day are read once. `checks_for_level` builds it for any level and set of asset
keys; ``LB_CHECKS`` are the checks of the ``lb/<product>`` assets.

=====================================  ======  ==========================================
check (``<level>_`` prefix)            levels  products
=====================================  ======  ==========================================
``has_no_lost_packets``                LB      all
``has_no_duplicate_packets``           LB      all
``has_no_overdue_sequences``           LB      per-request (BSD)
``has_no_time_gaps``                   L0+     ``gap_products`` (QL light curves)
``has_increasing_times``               L0+     all
``has_no_decompression_overflow``      L0+     all
``uses_flown_orbit_kernels``           L1+     all
``is_newer_than_inputs``               all     all
=====================================  ======  ==========================================

``tm_has_no_quarantined_packets`` (`TM_CHECKS`) checks the ``tm/raw`` asset, one TM file per
partition: no packet of the file was quarantined, by the ingest gates or by a level that left it
out (the catalog's ``quarantine``; counts by reason category in the metadata).
"""

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from stix_assets.assets._lean import lean_metadata
from stix_assets.assets._results import TM_RAW_KEY
from stix_assets.core import quality
from stix_assets.core.catalog import Catalog
from stix_assets.core.products.registry import product_by_key
from stix_assets.partitions import scet_days, tm_files
from stix_assets.resources import StixSettings

__all__ = [
    "BSD_MAX_AGE_DAYS",
    "CHECK_STATEMENTS",
    "GAP_PRODUCTS",
    "LB_CHECKS",
    "MAX_GAP_S",
    "TM_CHECKS",
    "TM_QUARANTINE_CHECK",
    "check_name",
    "checks_for_level",
    "to_check_result",
]

MAX_GAP_S = 120.0
"""Longest tolerated gap between QL light-curve bins (s); the QL cadence is 4 s."""
BSD_MAX_AGE_DAYS = 7.0
"""Days after which a BSD packet sequence still incomplete fails its check."""
GAP_PRODUCTS = ("ql_lightcurve",)
"""Products whose time axis must be continuous (others, e.g. QL spectra, are sparse by design)."""
_LEVEL_ORDER = ("lb", "l0", "l1", "l2", "l3")


@dataclass(frozen=True, slots=True)
class _Partition:
    """What a check sees of one partition: the day, its files per product, the catalog."""

    day: dt.date
    level: str
    files: Mapping[str, list[Path]]
    catalog: Catalog
    now: dt.datetime

    def of(self, product: str) -> list[Path]:
        return self.files.get(product, [])

    def all_files(self) -> list[Path]:
        return [p for ps in self.files.values() for p in ps]


@dataclass(frozen=True, slots=True)
class _Statement:
    """One check kind: its name, description, which (level, product) it applies to, its logic."""

    name: str
    description: str
    levels: tuple[str, ...]
    applies: Callable[[str], bool]
    evaluate: Callable[[_Partition, str, dict], quality.QualityResult]


def _at_or_above(level: str) -> tuple[str, ...]:
    return _LEVEL_ORDER[_LEVEL_ORDER.index(level) :]


def _is_bsd(product: str) -> bool:
    try:
        return product_by_key(product).per_request
    except KeyError:
        return False


def _packets(kind: str) -> Callable[[_Partition, str, dict], quality.QualityResult]:
    def evaluate(part: _Partition, product: str, cache: dict) -> quality.QualityResult:
        if "stats" not in cache:  # all LB files of the day, read once per step
            cache["stats"] = quality.day_sequence_stats(part.all_files(), scet_day=part.day)
        apids = quality.product_apids(part.of(product)) if part.of(product) else []
        if kind == "lost":
            if "missing" not in cache:
                touched = quality.touched_products(part.catalog, part.day)
                cache["missing"] = sorted(touched - set(part.files))
            return quality.lost_packets_result(
                cache["stats"], apids, missing_products=cache["missing"]
            )
        return quality.duplicate_packets_result(cache["stats"], apids)

    return evaluate


def _sequences(part: _Partition, product: str, cache: dict) -> quality.QualityResult:
    return quality.check_sequences_complete(
        part.of(product), now=part.now, max_age_days=cache["bsd_max_age_days"]
    )


def _gaps(part: _Partition, product: str, cache: dict) -> quality.QualityResult:
    on_scet = part.level in ("lb", "l0")  # L1+ time axes are UTC, partitions UTC days
    return quality.check_time_gaps(
        part.of(product), max_gap_s=cache["max_gap_s"], scet_day=part.day if on_scet else None
    )


CHECK_STATEMENTS: tuple[_Statement, ...] = (
    _Statement(
        "has_no_lost_packets",
        "No packet of this product's APIDs is missing inside the day (14-bit sequence counts "
        "over all LB files of the day).",
        ("lb",),
        lambda product: True,
        _packets("lost"),
    ),
    _Statement(
        "has_no_duplicate_packets",
        "No packet of this product's APIDs repeats the sequence count of the packet before it.",
        ("lb",),
        lambda product: True,
        _packets("duplicated"),
    ),
    _Statement(
        "has_no_overdue_sequences",
        f"No bulk-science packet sequence is still incomplete {BSD_MAX_AGE_DAYS:g} days after "
        "its last packet was sent.",
        ("lb",),
        _is_bsd,
        _sequences,
    ),
    _Statement(
        "has_no_time_gaps",
        f"No gap between time bins longer than {MAX_GAP_S:g} s, day edges included.",
        _at_or_above("l0"),
        lambda product: product in GAP_PRODUCTS,
        _gaps,
    ),
    _Statement(
        "has_increasing_times",
        "DATA times strictly increase in every file of the day.",
        _at_or_above("l0"),
        lambda product: True,
        lambda part, product, cache: quality.check_times_increasing(part.of(product)),
    ),
    _Statement(
        "has_no_decompression_overflow",
        "No decompressed value sits at the maximum of its S/K/M compression scheme.",
        _at_or_above("l0"),
        lambda product: True,
        lambda part, product, cache: quality.check_decompression_overflow(part.of(product)),
    ),
    _Statement(
        "uses_flown_orbit_kernels",
        "The day was processed with a flown (not predicted) orbit meta-kernel (SPICE_MK).",
        _at_or_above("l1"),
        lambda product: True,
        lambda part, product, cache: quality.check_orbit_kernels(
            part.of(product), utc_day=part.day
        ),
    ),
    _Statement(
        "is_newer_than_inputs",
        "No file of the day is older than one of its inputs (catalog written_at vs input times).",
        _LEVEL_ORDER,
        lambda product: True,
        lambda part, product, cache: quality.check_no_stale_products(
            part.catalog, part.of(product)
        ),
    ),
)


def check_name(level: str, statement: str) -> str:
    """Name of a check (``lb_has_no_lost_packets``)."""
    return f"{level.lower()}_{statement}"


def to_check_result(
    asset_key: dg.AssetKey, name: str, result: quality.QualityResult
) -> dg.AssetCheckResult:
    """Wrap a core `QualityResult` (the only place that does)."""
    metadata: dict[str, object] = {"summary": result.summary}
    for key, value in result.metadata.items():
        metadata[key] = dg.MetadataValue.json(value) if isinstance(value, list | dict) else value
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=result.passed,
        severity=dg.AssetCheckSeverity(result.severity),
        description=result.summary,
        metadata=lean_metadata(metadata),
    )


def _for_partition(result: dg.AssetCheckResult, partition_key: str) -> dg.AssetCheckEvaluation:
    """The evaluation of one day of a range run (a result cannot name its partition)."""
    return dg.AssetCheckEvaluation(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        severity=result.severity,
        description=result.description,
        blocking=False,
        partition=partition_key,
    )


def _product_of(key: dg.AssetKey) -> str:
    return key.path[-1]


def checks_for_level(
    level: str,
    keys: Sequence[dg.AssetKey | str | Sequence[str]],
    partitions_def: dg.PartitionsDefinition,
    *,
    statements: Collection[str] | None = None,
    max_gap_s: float = MAX_GAP_S,
    bsd_max_age_days: float = BSD_MAX_AGE_DAYS,
) -> list[dg.AssetChecksDefinition]:
    """The checks of one level's assets, evaluated per day partition.

    Parameters
    ----------
    level : ``"lb"``, ``"l0"``, ``"l1"``, ... (the asset-key prefix and catalog level)
    keys : the level's asset keys (``lb/ql_lightcurve``); the last element is the product key
    partitions_def : the assets' partitions (SCET days for LB/L0, UTC days for L1+)
    statements : only these statements (default: every one that applies to the level)
    max_gap_s : longest tolerated gap for ``has_no_time_gaps`` (s)
    bsd_max_age_days : age after which an incomplete BSD sequence fails

    Returns
    -------
    list of `dg.AssetChecksDefinition`, one per asset that has an applicable check
    """
    level = level.lower()
    chosen = [
        s
        for s in CHECK_STATEMENTS
        if level in s.levels and (statements is None or s.name in statements)
    ]
    settings = {"max_gap_s": max_gap_s, "bsd_max_age_days": bsd_max_age_days}
    out = []
    for key in (dg.AssetKey.from_coercible(k) for k in keys):
        applicable = [s for s in chosen if s.applies(_product_of(key))]
        if applicable:
            out.append(_asset_checks(level, key, applicable, partitions_def, settings))
    return out


def _asset_checks(
    level: str,
    key: dg.AssetKey,
    statements: Sequence[_Statement],
    partitions_def: dg.PartitionsDefinition,
    settings: Mapping[str, float],
) -> dg.AssetChecksDefinition:
    """The checks of one asset as one step.

    A step checking several assets would be skipped whenever one of them yields nothing for the
    day (the LB specs are skippable).
    """
    plan = {check_name(level, s.name): s for s in statements}
    specs = [
        dg.AssetCheckSpec(
            name,
            asset=key,
            description=s.description,
            blocking=False,
            partitions_def=partitions_def,
        )
        for name, s in plan.items()
    ]
    product = _product_of(key)

    @dg.multi_asset_check(
        specs=specs,
        name=f"{level}_{product}_quality_checks",
        description=f"Data-quality checks of {key.to_user_string()} for one day.",
        can_subset=True,
    )
    def _checks(context: dg.AssetCheckExecutionContext, stix: StixSettings):
        catalog = stix.catalog()
        names = sorted(k.name for k in context.selected_asset_check_keys)
        partition_keys = context.op_execution_context.partition_keys
        for partition_key in partition_keys:  # one day, or each day of a backfill batch
            day = dt.date.fromisoformat(partition_key)
            # the packet checks need every LB file of the day: products share APIDs
            files = quality.partition_files(
                catalog, level, day, None if level == "lb" else [product]
            )
            part = _Partition(day, level, files, catalog, dt.datetime.now(dt.UTC))
            cache: dict = dict(settings)
            for name in names:
                result = to_check_result(key, name, plan[name].evaluate(part, product, cache))
                yield result if len(partition_keys) == 1 else _for_partition(result, partition_key)

    return _checks


def _lb_keys() -> list[dg.AssetKey]:
    from stix_assets.assets.levels import lb_specs

    return [spec.key for spec in lb_specs()]


LB_CHECKS: list[dg.AssetChecksDefinition] = checks_for_level("lb", _lb_keys(), scet_days)
"""Checks of every ``lb/<product>`` asset, per SCET day."""


TM_QUARANTINE_CHECK = "tm_has_no_quarantined_packets"
"""Name of the check on ``tm/raw``: no packet of the TM file was quarantined."""


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            TM_QUARANTINE_CHECK,
            asset=TM_RAW_KEY,
            description="No packet of this TM file was quarantined: not by the ingest gates "
            "(format, length, SCET window, APID, service, duplicate, truncated, bad hex) and not "
            "by a level that left it out.",
            blocking=False,
            partitions_def=tm_files,
        )
    ],
    name="tm_raw_quality_checks",
    description="Quarantined packets of one TM file.",
)
def tm_raw_quality_checks(context: dg.AssetCheckExecutionContext, stix: StixSettings):
    """Quarantine of one TM file, from the catalog."""
    name = context.partition_key
    rows = stix.catalog().quarantined(name)
    yield to_check_result(
        TM_RAW_KEY, TM_QUARANTINE_CHECK, quality.quarantine_result(rows, file=name)
    )


TM_CHECKS: list[dg.AssetChecksDefinition] = [tm_raw_quality_checks]
"""Checks of the ``tm/raw`` asset, per TM file."""
