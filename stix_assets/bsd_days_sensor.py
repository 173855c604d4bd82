"""``bsd_l1_days_sensor``: carry BSD requests to the L1 day of their data, not of their TM.

A BSD (per-request) L0 file belongs to the SCET day its TM arrived, but its L1 file belongs to the
UTC day its data starts, which can lie weeks earlier (requests are often executed long after
the observation). The L1 partition mapping (L0 days -1..+1) cannot express that, so the
automation sensor alone would never build those L1 days. This sensor reads the ``data_days`` of
new BSD L0 materializations and requests the L1 days (`stix_assets.core.levels.affected_days`)
that lie outside the window the automation already covers.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from stix_assets.assets._results import data_days_from_metadata, level_asset_key
from stix_assets.core.levels import affected_days, products_at
from stix_assets.core.products.registry import product_by_key
from stix_assets.partitions import scet_day_from_key, scet_day_key, scet_day_range
from stix_assets.sensors import SENSOR_INTERVAL_S

__all__ = ["BsdRecord", "bsd_l1_days_sensor", "plan_bsd_l1_days"]

RECORDS_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class BsdRecord:
    """One BSD L0 materialization: its storage id, partition, product and data days."""

    storage_id: int
    partition_day: dt.date
    product: str
    data_days: tuple[dt.date, ...]


def plan_bsd_l1_days(
    records: Sequence[BsdRecord], *, first_day: dt.date, last_day: dt.date
) -> dict[dt.date, set[str]]:
    """L1 days (and products) the records' data days need, beyond what the automation requests.

    The automation requests the L1 days whose window holds the L0 partition day; a day it already
    requests for a record is left out here, and so is a day outside the partition range.
    """
    out: dict[dt.date, set[str]] = {}
    for r in records:
        covered = set(affected_days("L1", {r.partition_day: {r.product}}))
        for day, products in affected_days("L1", {d: {r.product} for d in r.data_days}).items():
            if day not in covered and first_day <= day <= last_day:
                out.setdefault(day, set()).update(products)
    return out


def _bsd_products() -> list[str]:
    return [p for p in products_at("L1") if product_by_key(p).per_request]


@dg.sensor(
    target=dg.AssetSelection.groups("level_1"),
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def bsd_l1_days_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Request the L1 days where new BSD requests' data start (beyond the automation's window)."""
    cursor = int(context.cursor) if context.cursor else None
    records: list[BsdRecord] = []
    last = cursor
    for product in _bsd_products():
        found = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=level_asset_key("l0", product), after_storage_id=cursor
            ),
            limit=RECORDS_LIMIT,
            ascending=True,
        )
        for rec in found.records:
            event = rec.asset_materialization
            last = rec.storage_id if last is None else max(last, rec.storage_id)
            if event.partition:
                records.append(
                    BsdRecord(
                        rec.storage_id, scet_day_from_key(event.partition), product,
                        tuple(data_days_from_metadata(event.metadata)),
                    )
                )  # fmt: skip
    first_day, last_day = scet_day_range(dt.datetime.now(dt.UTC))
    plan = plan_bsd_l1_days(records, first_day=first_day, last_day=last_day)
    new_cursor = str(last) if last is not None else None
    if not plan:
        return dg.SensorResult(skip_reason="no BSD data beyond the automation", cursor=new_cursor)
    return dg.SensorResult(
        run_requests=[_request(day, products, last) for day, products in sorted(plan.items())],
        cursor=new_cursor,
    )


def _request(day: dt.date, products: set[str], storage_id: int | None) -> dg.RunRequest:
    return dg.RunRequest(
        partition_key=scet_day_key(day),
        asset_selection=[level_asset_key("l1", p) for p in sorted(products)],
        run_key=f"bsd-l1-{day.isoformat()}-{storage_id}",
        tags={"stix/trigger": "bsd"},
    )
