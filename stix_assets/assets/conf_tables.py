"""``conf/energy_tables``: the STIX-CONF tables each UTC day uses, as an observable source.

Its data version per day (`stix_assets.core.conf_days.day_table_versions`) names the science
energy-channel and ELUT tables valid that day, with their sha256. L1 and CAL depend on it day by
day, so a new STIX-CONF tag that changes the tables of some days marks exactly those days stale;
``stix-assets conf add TAG`` records the observations of the changed days.
"""

import datetime as dt
from collections.abc import Mapping

import dagster as dg

from stix_assets.assets._results import day_version_observations
from stix_assets.core.conf_days import day_table_versions
from stix_assets.partitions import scet_day_key, scet_day_range, utc_days
from stix_assets.resources import StixSettings

__all__ = ["CONF_TABLES_KEY", "conf_energy_tables", "conf_table_observations"]

CONF_TABLES_KEY = dg.AssetKey(["conf", "energy_tables"])


@dg.observable_source_asset(
    key=CONF_TABLES_KEY,
    group_name="external",
    partitions_def=utc_days,
    description=(
        "STIX-CONF energy-channel and ELUT tables valid on each UTC day (data version: table "
        "files and sha256); a new tag makes only the days whose tables changed stale."
    ),
)
def conf_energy_tables(stix: StixSettings) -> dg.DataVersionsByPartition:
    """Observe the STIX-CONF table version of every existing UTC day."""
    first, last = scet_day_range(dt.datetime.now(dt.UTC))
    versions = day_table_versions(stix.settings().stix_conf_dir, first, last)
    return dg.DataVersionsByPartition({scet_day_key(d): v for d, v in versions.items()})


def conf_table_observations(versions: Mapping[dt.date, str]) -> list[dg.AssetObservation]:
    """Runless observations of ``conf/energy_tables`` for the given days (``conf add``)."""
    return day_version_observations(CONF_TABLES_KEY, versions, label="tables")
