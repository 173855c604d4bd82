"""The code location: every asset, check, sensor, schedule, job and resource, assembled once.

Runs use the in-process executor: each run is one step (``tm/raw`` of one file, or a level
multi-asset of one day), so a subprocess per step would only add start-up time.
"""

import dagster as dg

from stix_assets.assets.daily import DAILY_ASSETS, DAILY_JOBS
from stix_assets.assets.levels import L0_PRODUCTS, ROUTE_ASSETS
from stix_assets.assets.publish import (
    PUBLISH_ASSETS,
    PUBLISH_JOBS,
    PublishSettings,
)
from stix_assets.assets.reports import (
    completeness_report_job,
    completeness_report_schedule,
    reports_completeness,
)
from stix_assets.assets.sync import SYNC_ASSETS, SYNC_JOBS
from stix_assets.bsd_days_sensor import bsd_l1_days_sensor
from stix_assets.checks import LB_CHECKS, TM_CHECKS, checks_for_level
from stix_assets.jobs import ingest_job, l0_job, l1_job, lb_job, reprocess_job, retention_job
from stix_assets.partitions import scet_days, utc_days
from stix_assets.resources import StixSettings
from stix_assets.schedules import configured_schedules
from stix_assets.sensors import (
    spice_kernel_sensor,
    stix_automation_sensor,
    tm_inbox_sensor,
    tm_to_days_sensor,
)

__all__ = ["defs"]

L0_CHECKS = checks_for_level("l0", [dg.AssetKey(["l0", p.key]) for p in L0_PRODUCTS], scet_days)
L1_CHECKS = checks_for_level("l1", [dg.AssetKey(["l1", p.key]) for p in L0_PRODUCTS], utc_days)

defs = dg.Definitions(
    assets=[
        *ROUTE_ASSETS,
        *DAILY_ASSETS,
        *SYNC_ASSETS,
        *PUBLISH_ASSETS,
        reports_completeness,
    ],
    asset_checks=[*TM_CHECKS, *LB_CHECKS, *L0_CHECKS, *L1_CHECKS],
    sensors=[
        tm_inbox_sensor,
        tm_to_days_sensor,
        spice_kernel_sensor,
        stix_automation_sensor,
        bsd_l1_days_sensor,
    ],
    # cron times of the TOML file / STIX_*_CRON, read when the code location loads
    schedules=[*configured_schedules(), completeness_report_schedule],
    jobs=[
        ingest_job,
        lb_job,
        l0_job,
        l1_job,
        reprocess_job,
        retention_job,
        *DAILY_JOBS,
        *SYNC_JOBS,
        *PUBLISH_JOBS,
        completeness_report_job,
    ],
    # every folder comes from the TOML file / STIX_* environment at launch (see resources.py)
    resources={"stix": StixSettings(), "soar": PublishSettings()},
    executor=dg.in_process_executor,
)
