"""The code location of the scale-out test: the route assets and level jobs, multiprocess executor.

The production location (`stix_assets.definitions`) runs each run's single step in process; a
cluster that spreads steps over processes uses Dagster's multiprocess executor, so the test
serves the same assets and jobs with it (every setting from the ``STIX_*`` environment).
"""

import dagster as dg

from stix_assets.assets.levels import ROUTE_ASSETS
from stix_assets.jobs import ingest_job, l0_job, l1_job, lb_job
from stix_assets.resources import StixSettings

defs = dg.Definitions(
    assets=[*ROUTE_ASSETS],
    jobs=[ingest_job, lb_job, l0_job, l1_job],
    resources={"stix": StixSettings()},
    executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
)
