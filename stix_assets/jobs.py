"""Jobs for manual and sensor-driven work on the ingest path."""

import dagster as dg

from stix_assets.assets._results import LB_GROUP, TM_RAW_KEY

__all__ = ["ingest_job", "lb_job"]

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
