import datetime as dt

import dagster as dg

from stix_assets.assets._results import level_asset_key
from stix_assets.bsd_days_sensor import BsdRecord, bsd_l1_days_sensor, plan_bsd_l1_days

TM_DAY = dt.date(2021, 1, 16)
DATA_DAY = dt.date(2020, 5, 2)
RANGE = {"first_day": dt.date(2020, 1, 1), "last_day": dt.date(2026, 12, 31)}


def test_plan_requests_the_data_days_beyond_the_automation_window():
    plan = plan_bsd_l1_days([BsdRecord(7, TM_DAY, "xray_spec", (DATA_DAY,))], **RANGE)
    assert plan == {DATA_DAY + dt.timedelta(days=off): {"xray_spec"} for off in (-1, 0, 1)}


def test_plan_leaves_data_inside_the_automation_window_to_it():
    near = TM_DAY - dt.timedelta(days=1)
    plan = plan_bsd_l1_days([BsdRecord(7, TM_DAY, "xray_spec", (near,))], **RANGE)
    # TM day -2 is the only day the automation (L0 day -1..+1 around TM_DAY) does not request
    assert plan == {TM_DAY - dt.timedelta(days=2): {"xray_spec"}}


def test_plan_drops_days_outside_the_partition_range():
    old = dt.date(2019, 1, 1)
    assert plan_bsd_l1_days([BsdRecord(7, TM_DAY, "xray_spec", (old,))], **RANGE) == {}


def _report(instance: dg.DagsterInstance, product: str, data_days: list[str]) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=level_asset_key("l0", product),
            partition=TM_DAY.isoformat(),
            metadata={"data_days": dg.MetadataValue.json(data_days)},
        )
    )


def test_sensor_first_tick_nothing_new_then_new_bsd_data():
    with dg.instance_for_test() as instance:
        empty = bsd_l1_days_sensor(dg.build_sensor_context(instance=instance))
        assert empty.run_requests == []
        assert empty.skip_reason
        _report(instance, "ql_lightcurve", ["2021-01-16"])  # daily products are not its business
        _report(instance, "xray_spec", [DATA_DAY.isoformat()])
        result = bsd_l1_days_sensor(dg.build_sensor_context(instance=instance))
        assert sorted(r.partition_key for r in result.run_requests) == [
            "2020-05-01",
            "2020-05-02",
            "2020-05-03",
        ]
        assert all(
            r.asset_selection == [level_asset_key("l1", "xray_spec")] for r in result.run_requests
        )
        again = bsd_l1_days_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
        assert again.run_requests == []
