"""The level groups: ``lb/``, ``l0/``, ``l1/`` and ``l2/<product>`` assets, one day each.

All LB products are one `multi_asset`: a run reads the TM files that touched the day once and
writes every selected product. Specs are ``skippable``: a product with no packets that day has no
LB file, so it yields nothing instead of an empty "materialized" partition (the UI then shows
exactly the days that have a file; see docs/decisions.md).

A backfill runs up to a month of days per run (`stix_assets.assets._batches`): the body builds
each day of ``context.partition_keys`` in order, exactly as a one-day run would.
"""

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from stix_assets.assets._batches import (
    BACKFILL_TAG,
    LEVEL_BACKFILL_POLICY,
    REPROCESS_TAG,
    batch_results,
    partition_days,
)
from stix_assets.assets._results import (
    CATALOG_POOL,
    L0_GROUP,
    L1_GROUP,
    LB_CODE_VERSION,
    LB_GROUP,
    TM_RAW_KEY,
    l0_asset_key,
    l0_code_version,
    l0_results,
    lb_asset_key,
    lb_results,
    level_asset_key,
    level_code_version,
    level_results,
    product_key_of,
)
from stix_assets.assets.conf_tables import CONF_TABLES_KEY, conf_energy_tables
from stix_assets.assets.ingest import IDB_VERSIONS_KEY, idb_versions, tm_raw
from stix_assets.core.levels import INPUT_WINDOWS, LevelContext, build_level_day, products_at
from stix_assets.core.plots import markdown_image, plot_product
from stix_assets.core.products.l2 import CAL_PROCESSING_VERSION
from stix_assets.core.products.registry import PRODUCTS, ProductSpec, product_by_key
from stix_assets.core.spice import LoadedKernels, loaded_kernels
from stix_assets.partitions import scet_day_key, scet_days, utc_days
from stix_assets.resources import StixSettings

__all__ = [
    "L0_PRODUCTS",
    "ROUTE_ASSETS",
    "SPICE_KERNELS_KEY",
    "follows_upstream_days",
    "l0_specs",
    "l1_specs",
    "lb_specs",
    "level_0",
    "level_1",
    "level_binary",
    "spice_kernels",
    "window_mapping",
]

L0_PRODUCTS = tuple(product_by_key(key) for key in products_at("L0"))
"""Products that have an L0 family (the rest stay at LB: heartbeat, on-board automatic data)."""


def _lb_spec(product: ProductSpec) -> dg.AssetSpec:
    return dg.AssetSpec(
        lb_asset_key(product.key),
        group_name=LB_GROUP,
        description=f"LB ({product.name}): {product.description}",
        kinds={"fits"},
        owners=["team:stix"],
        tags={"level": "LB", "product_type": product.type},
        code_version=LB_CODE_VERSION,
        # lineage only: a TM file touches days found in its data, no mapping can say which
        deps=[dg.AssetDep(TM_RAW_KEY, partition_mapping=dg.AllPartitionMapping())],
        skippable=True,
    )


def window_mapping(level: str, product: str) -> dg.TimeWindowPartitionMapping:
    """The partition mapping of a level's input window (`stix_assets.core.levels.INPUT_WINDOWS`)."""
    offsets = INPUT_WINDOWS[level].offsets(product)
    return dg.TimeWindowPartitionMapping(start_offset=min(offsets), end_offset=max(offsets))


def lb_specs() -> list[dg.AssetSpec]:
    """One spec per registry product, in registry order."""
    return [_lb_spec(p) for p in PRODUCTS]


@dg.multi_asset(
    specs=lb_specs(),
    partitions_def=scet_days,
    can_subset=True,
    name="level_binary",
    pool=CATALOG_POOL,
    backfill_policy=LEVEL_BACKFILL_POLICY,
)
def level_binary(context: dg.AssetExecutionContext, stix: StixSettings):
    """LB files of one SCET day, merged from every TM file the catalog lists for that day."""
    ctx = stix.level_context(context.run.run_id)
    wanted = [product_key_of(k) for k in context.selected_asset_keys]
    per_day = []
    for scet_day in partition_days(context):
        built = build_level_day("LB", scet_day, ctx, products=wanted)
        context.log.info("lb written scet_day=%s files=%d", built.day, len(built.written))
        per_day.append((scet_day_key(scet_day), lb_results(built.written, built.tm_indexes)))
    yield from batch_results(context, per_day)


# -- L0 ------------------------------------------------------------------------------------------
def follows_upstream_days() -> dg.AutomationCondition:
    """Request a day when any upstream day it depends on was updated, old days included.

    Dagster's ``eager()`` only looks at the latest day and waits for every upstream day to exist;
    STIX reprocesses old days all the time (late TM, new kernels), and a day next to a day
    without data must still follow (skippable products leave such days empty).

    Updates made by a backfill (``dagster/backfill``) or by ``stix-assets reprocess``
    (`REPROCESS_TAG`) do not count: a reprocessing names its levels and runs each one itself, so
    the automation must not build the next level of those days a second time. Days a backfill
    still has to run, or a run is running, count as in progress and wait.
    """
    by_backfill = dg.AutomationCondition.all_new_updates_have_run_tags(
        tag_keys={BACKFILL_TAG}
    ) | dg.AutomationCondition.all_new_updates_have_run_tags(tag_keys={REPROCESS_TAG})
    updated = dg.AutomationCondition.any_deps_match(
        (
            dg.AutomationCondition.newly_updated()
            & ~dg.AutomationCondition.executed_with_root_target()
            & ~by_backfill
        ).with_label("newly_updated_outside_backfills")
        | dg.AutomationCondition.will_be_requested()
    ).with_label("any_deps_updated_outside_backfills")
    return (
        updated.since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("follows_upstream_days")


def _l0_spec(product: ProductSpec) -> dg.AssetSpec:
    window = window_mapping("L0", product.key)
    return dg.AssetSpec(
        l0_asset_key(product.key),
        group_name=L0_GROUP,
        description=f"L0 ({product.name}): {product.description}; parsed, decompressed, raw values",
        kinds={"fits"},
        owners=["team:stix"],
        tags={"level": "L0", "product_type": product.type},
        code_version=l0_code_version(product.processing_version),
        deps=[
            dg.AssetDep(lb_asset_key(product.key), partition_mapping=window),
            # the IDB of each SCET day: a new IDB makes exactly its days stale
            dg.AssetDep(IDB_VERSIONS_KEY, partition_mapping=dg.IdentityPartitionMapping()),
        ],
        skippable=True,
        automation_condition=follows_upstream_days().ignore(
            dg.AssetSelection.assets(IDB_VERSIONS_KEY)
        ),
    )


def l0_specs() -> list[dg.AssetSpec]:
    """One spec per product with an L0 family, in registry order."""
    return [_l0_spec(p) for p in L0_PRODUCTS]


@dg.multi_asset(
    specs=l0_specs(),
    partitions_def=scet_days,
    can_subset=True,
    name="level_0",
    backfill_policy=LEVEL_BACKFILL_POLICY,
)
def level_0(context: dg.AssetExecutionContext, stix: StixSettings):
    """L0 files of one SCET day, rebuilt whole from the LB files of the day and its neighbours."""
    ctx = stix.level_context(context.run.run_id)
    wanted = [product_key_of(k) for k in context.selected_asset_keys]
    per_day = []
    for scet_day in partition_days(context):
        built = build_level_day("L0", scet_day, ctx, products=wanted)
        context.log.info(
            "l0 written scet_day=%s lb_files=%d files=%d issues=%d",
            built.day, len(built.inputs), len(built.written), len(built.issues),
        )  # fmt: skip
        results = l0_results(
            built.written, built.build, config_version=ctx.config_version,
            data_days=built.data_days(),
        )  # fmt: skip
        per_day.append((scet_day_key(scet_day), results))
    yield from batch_results(context, per_day)


# -- L1 ------------------------------------------------------------------------------------------
SPICE_KERNELS_KEY = dg.AssetKey(["spice", "kernels"])
STIX_CONF_KEY = dg.AssetKey(["conf", "stix_conf"])

spice_kernels = dg.AssetSpec(
    SPICE_KERNELS_KEY,
    group_name="external",
    kinds={"spice"},
    owners=["team:stix"],
    description=(
        "The SPICE kernel store; its data version is the loaded meta-kernel set, reported by "
        "spice_kernel_sensor when new kernels arrive."
    ),
)


def _l1_spec(product: ProductSpec) -> dg.AssetSpec:
    window = window_mapping("L1", product.key)
    return dg.AssetSpec(
        level_asset_key("l1", product.key),
        group_name=L1_GROUP,
        description=f"L1 ({product.name}): engineering values, UTC times, ephemeris header",
        kinds={"fits"},
        owners=["team:stix"],
        tags={"level": "L1", "product_type": product.type},
        code_version=level_code_version("l1", product.processing_version),
        deps=[
            dg.AssetDep(l0_asset_key(product.key), partition_mapping=window),
            dg.AssetDep(SPICE_KERNELS_KEY),
            # per UTC day: a new STIX-CONF tag makes stale only the days whose tables changed
            dg.AssetDep(CONF_TABLES_KEY),
        ],
        skippable=True,
        automation_condition=follows_upstream_days().ignore(
            dg.AssetSelection.assets(SPICE_KERNELS_KEY, CONF_TABLES_KEY)
        ),
    )


def l1_specs() -> list[dg.AssetSpec]:
    """One spec per product with an L0 family (every one continues to L1)."""
    return [_l1_spec(p) for p in L0_PRODUCTS]


@dg.multi_asset(
    specs=l1_specs(),
    partitions_def=utc_days,
    can_subset=True,
    name="level_1",
    backfill_policy=LEVEL_BACKFILL_POLICY,
)
def level_1(context: dg.AssetExecutionContext, stix: StixSettings):
    """L1 files of one UTC day from the L0 files of the SCET days around it, with SPICE."""
    ctx = stix.level_context(context.run.run_id)
    wanted = [product_key_of(k) for k in context.selected_asset_keys]
    with loaded_kernels(stix.kernel_store()) as kernels:  # once per batch of days
        per_day = [
            (scet_day_key(utc_day), _l1_day(context, utc_day, ctx, wanted, kernels))
            for utc_day in partition_days(context)
        ]
    yield from batch_results(context, per_day)


def _l1_day(
    context: dg.AssetExecutionContext,
    utc_day: dt.date,
    ctx: LevelContext,
    wanted: Sequence[str],
    kernels: LoadedKernels,
) -> list[dg.MaterializeResult]:
    """Build one UTC day of L1 and wrap its results (SPICE coverage, IDB versions, plots)."""
    built = build_level_day("L1", utc_day, ctx, products=wanted, kernels=kernels)
    spice = {"spice_mk": kernels.spice_mk, **built.build.coverage.as_metadata()}
    context.log.info(
        "l1 written utc_day=%s files=%d issues=%d", built.day, len(built.written), len(built.issues)
    )
    idb = {
        p.tables.spec.key: sorted({v for v, _, _ in p.tables.idb_versions})
        for p in built.build.products
    }
    plots = quicklook_plots(built.written)
    extra = {
        r.product_key: {
            "spice": dg.MetadataValue.json(spice),
            "needs_reprocessing": r.needs_reprocessing,
            "idb_versions": dg.MetadataValue.json(idb.get(r.product_key, [])),
            **plots.get(r.product_key, {}),
        }
        for r in built.written
    }
    return level_results(
        "l1", built.written, issues=built.issues, extra=extra, config_version=ctx.config_version
    )


# -- L2 / CAL ------------------------------------------------------------------------------------
def _l2_spec(product: ProductSpec) -> dg.AssetSpec:
    return dg.AssetSpec(
        level_asset_key("l2", product.key),
        group_name="level_2",
        description=(
            f"CAL ({product.name}): energy calibration per calibration spectrum (line fit per "
            "pixel: gain, offset, actual channel edges)"
        ),
        kinds={"fits"},
        owners=["team:stix"],
        tags={"level": "CAL", "product_type": product.type},
        code_version=level_code_version("l2", CAL_PROCESSING_VERSION),
        deps=[level_asset_key("l1", product.key), dg.AssetDep(CONF_TABLES_KEY)],
        skippable=True,
        automation_condition=follows_upstream_days().ignore(
            dg.AssetSelection.assets(CONF_TABLES_KEY)
        ),
    )


def l2_specs() -> list[dg.AssetSpec]:
    """One spec per product with an L2-stage product (CAL energy)."""
    return [_l2_spec(product_by_key(key)) for key in products_at("CAL")]


@dg.multi_asset(
    specs=l2_specs(),
    partitions_def=utc_days,
    can_subset=True,
    name="level_2",
    backfill_policy=LEVEL_BACKFILL_POLICY,
)
def level_2(context: dg.AssetExecutionContext, stix: StixSettings):
    """CAL files of the calibration spectra of one UTC day, fitted from that day's L1 file."""
    ctx = stix.level_context(context.run.run_id)
    wanted = [product_key_of(k) for k in context.selected_asset_keys]
    per_day = []
    with loaded_kernels(stix.kernel_store()) as kernels:  # once per batch of days
        for utc_day in partition_days(context):
            built = build_level_day("CAL", utc_day, ctx, products=wanted, kernels=kernels)
            context.log.info(
                "cal written utc_day=%s files=%d issues=%d",
                built.day, len(built.written), len(built.issues),
            )  # fmt: skip
            results = level_results(
                "l2", built.written, issues=built.issues,
                versions={key: CAL_PROCESSING_VERSION for key in wanted},
                config_version=ctx.config_version,
                extra={r.product_key: {"spice_mk": kernels.spice_mk} for r in built.written},
            )  # fmt: skip
            per_day.append((scet_day_key(utc_day), results))
    yield from batch_results(context, per_day)


ROUTE_ASSETS = [
    idb_versions,
    conf_energy_tables,
    spice_kernels,
    tm_raw,
    level_binary,
    level_0,
    level_1,
    level_2,
]
"""Everything a TM file passes on its way to CAL, with the sources it depends on: what the code
location serves and what ``process --dagster`` / ``reprocess`` materialize."""


def quicklook_plots(written: Sequence) -> dict[str, dict[str, object]]:
    """PNG plots next to the L1 files that have a plot kind, thumbnails for the metadata."""
    out: dict[str, dict[str, object]] = {}
    for r in written:
        made = plot_product(r.path, r.product_key)
        if made is None or r.product_key in out:  # one thumbnail per product and day
            continue
        path, thumbnail = made
        out[r.product_key] = {
            "plot": dg.MetadataValue.md(markdown_image(thumbnail, alt=path.name)),
            "plot_path": dg.MetadataValue.path(str(path)),
        }
    return out
