"""Jobs for manual and sensor-driven work on the ingest path, and the instance retention job."""

import dagster as dg

from stix_assets.assets._results import L0_GROUP, L1_GROUP, LB_GROUP, TM_RAW_KEY
from stix_assets.retention import prune_instance

__all__ = ["ingest_job", "l0_job", "l1_job", "lb_job", "reprocess_job", "retention_job"]

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(TM_RAW_KEY),
    description="Validate and index TM files (one run per tm_files partition).",
)

lb_job = dg.define_asset_job(
    "lb_job",
    selection=dg.AssetSelection.groups(LB_GROUP),
    description="Write the LB files of SCET days (one run per day, every LB product).",
)

l0_job = dg.define_asset_job(
    "l0_job",
    selection=dg.AssetSelection.groups(L0_GROUP),
    description="Rebuild the L0 files of SCET days from their LB files (one run per day).",
)

l1_job = dg.define_asset_job(
    "l1_job",
    selection=dg.AssetSelection.groups(L1_GROUP),
    description="Rebuild the L1 files of UTC days from their L0 files with SPICE (one run per day).",
)

reprocess_job = dg.define_asset_job(
    "reprocess",
    selection=dg.AssetSelection.groups(LB_GROUP, L0_GROUP, L1_GROUP),
    description=(
        "Reprocess a date range through LB -> L0 -> L1 (the replacement of stix-pipeline-cli's "
        "level range): launch a backfill over the days, or narrow the products in the launchpad; "
        "`stix-assets reprocess` does the same from the command line."
    ),
)


@dg.job(
    description=(
        "Prune the Dagster instance by the [retention] settings: ticks older than tick_days, "
        "successful runs older than run_days that hold no latest asset event."
    ),
    tags={"stix/trigger": "retention"},
)
def retention_job():
    """One op: `stix_assets.retention.prune_instance`."""
    prune_instance()
