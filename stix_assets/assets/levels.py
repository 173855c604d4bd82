"""The level_binary group: one ``lb/<product>`` asset per registry product, one SCET day each.

All LB products are one `multi_asset`: a run reads the TM files that touched the day once and
writes every selected product. Specs are ``skippable``: a product with no packets that day has no
LB file, so it yields nothing instead of an empty "materialized" partition (the UI then shows
exactly the days that have a file; see docs/decisions.md).
"""

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from stix_assets.assets._results import (
    CATALOG_POOL,
    LB_CODE_VERSION,
    LB_GROUP,
    SOFTWARE_VERSION,
    TM_RAW_KEY,
    lb_asset_key,
    lb_results,
    product_key_of,
)
from stix_assets.core.catalog import Catalog
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products.lb import LbFileResult, lb_product_records, write_lb
from stix_assets.core.products.registry import PRODUCTS, ProductSpec
from stix_assets.partitions import scet_day_from_key, scet_days
from stix_assets.resources import StixSettings

__all__ = ["lb_specs", "level_binary"]


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


def lb_specs() -> list[dg.AssetSpec]:
    """One spec per registry product, in registry order."""
    return [_lb_spec(p) for p in PRODUCTS]


def _record(
    catalog: Catalog, results: Sequence[LbFileResult], *, written_at: dt.datetime, run_id: str
) -> None:
    catalog.record_lb_results(
        lb_product_records(results, written_at=written_at, run_id=run_id),
        {r.path: r.raw_files for r in results},
    )


@dg.multi_asset(
    specs=lb_specs(),
    partitions_def=scet_days,
    can_subset=True,
    name="level_binary",
    pool=CATALOG_POOL,
)
def level_binary(context: dg.AssetExecutionContext, stix: StixSettings):
    """LB files of one SCET day, merged from every TM file the catalog lists for that day."""
    scet_day = scet_day_from_key(context.partition_key)
    wanted = sorted(product_key_of(k) for k in context.selected_asset_keys)
    catalog = stix.catalog()
    catalog.flush_spool()  # catalog writes spooled under lock contention become visible
    tm_inputs = catalog.tm_paths_for_day(scet_day, wanted)
    store = stix.idb_store()
    indexes = [index_tm_file(path or stix.tm_path(name), store) for name, path in tm_inputs]
    created = dt.datetime.now(dt.UTC)
    results = write_lb(
        indexes,
        stix.archive_root(),
        scet_days={scet_day},
        products=wanted,
        software_version=SOFTWARE_VERSION,
        created=created,
    )
    _record(catalog, results, written_at=created, run_id=context.run.run_id)
    context.log.info(
        "lb written scet_day=%s tm_files=%d files=%d", scet_day, len(indexes), len(results)
    )
    yield from lb_results(results, indexes)
