"""The code location: every asset, sensor, job and resource of stix_assets, assembled once.

Runs use the in-process executor: each run is one step (``tm/raw`` of one file, or the LB
multi-asset of one day), so a subprocess per step would only add start-up time.
"""

import dagster as dg

from stix_assets.assets.ingest import idb_versions, tm_raw
from stix_assets.assets.levels import level_binary
from stix_assets.jobs import ingest_job, lb_job
from stix_assets.resources import StixSettings
from stix_assets.sensors import tm_inbox_sensor, tm_to_days_sensor

__all__ = ["defs"]

defs = dg.Definitions(
    assets=[idb_versions, tm_raw, level_binary],
    sensors=[tm_inbox_sensor, tm_to_days_sensor],
    jobs=[ingest_job, lb_job],
    # every folder comes from STIX_* environment variables at launch (see resources.py)
    resources={"stix": StixSettings()},
    executor=dg.in_process_executor,
)
