"""The ``reports`` group: ``reports/completeness``, the month's holes at a glance.

One partition per UTC day renders the completeness table of the 31 days ending that day as a
heat map (`stix_assets.core.completeness_report`); the PNG and HTML stay under
``<archive>/reports/``, the UI gets a thumbnail of a few KB.
"""

import datetime as dt

import dagster as dg

from stix_assets.assets._lean import lean_metadata
from stix_assets.core.completeness import completeness_table
from stix_assets.core.completeness_report import write_completeness
from stix_assets.core.manifest import write_manifest
from stix_assets.core.plots import markdown_image
from stix_assets.partitions import scet_day_from_key, utc_days
from stix_assets.resources import StixSettings

__all__ = [
    "COMPLETENESS_KEY",
    "REPORT_DAYS",
    "completeness_report_job",
    "completeness_report_schedule",
    "reports_completeness",
]

COMPLETENESS_KEY = dg.AssetKey(["reports", "completeness"])
REPORT_DAYS = 31


@dg.asset(
    key=COMPLETENESS_KEY,
    partitions_def=utc_days,
    group_name="reports",
    kinds={"png", "html"},
    owners=["team:stix"],
)
def reports_completeness(context: dg.AssetExecutionContext, stix: StixSettings):
    """Completeness heat map of the 31 days ending on this day (day x level/product states)."""
    last = scet_day_from_key(context.partition_key)
    catalog = stix.catalog()
    write_manifest(catalog)  # the daily refresh of <archive>/manifest/ for sensor-driven runs
    table = completeness_table(catalog, last - dt.timedelta(days=REPORT_DAYS - 1), last)
    report = write_completeness(table, stix.archive_root() / "reports")
    return dg.MaterializeResult(
        metadata=lean_metadata(
            {
                "heat_map": dg.MetadataValue.md(
                    markdown_image(report.thumbnail, alt="completeness")
                ),
                "png": dg.MetadataValue.path(str(report.png)),
                "html": dg.MetadataValue.path(str(report.html)),
                "totals": dg.MetadataValue.json(dict(report.totals)),
            }
        )
    )


completeness_report_job = dg.define_asset_job(
    "completeness_report_job", selection=[COMPLETENESS_KEY]
)
completeness_report_schedule = dg.build_schedule_from_partitioned_job(
    completeness_report_job, hour_of_day=9, minute_of_hour=30
)
