"""``idb/versions`` per SCET day: a new observation makes only the affected days' downstream stale."""

import dagster as dg
from dagster._core.definitions.data_version import StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver

from stix_assets.assets.ingest import IDB_VERSIONS_KEY, idb_version_observations, idb_versions
from stix_assets.partitions import scet_day_from_key, scet_days

DAYS = ["2025-01-01", "2025-01-02", "2025-01-03"]


@dg.asset(
    partitions_def=scet_days,
    deps=[dg.AssetDep(IDB_VERSIONS_KEY, partition_mapping=dg.IdentityPartitionMapping())],
)
def decoded() -> None:
    """Stands in for an L0 asset: same partitions, same dependency on the IDB of its day."""


def test_new_idb_observation_makes_only_its_days_stale():
    with dg.instance_for_test() as instance:
        for event in idb_version_observations({scet_day_from_key(d): "2.26.38@aa" for d in DAYS}):
            instance.report_runless_asset_event(event)
        for day in DAYS:
            result = dg.materialize([decoded], partition_key=day, instance=instance)
            assert result.success
        resolver = get_stale_status_resolver(instance, [idb_versions, decoded])
        assert {resolver.get_status(decoded.key, d) for d in DAYS} == {StaleStatus.FRESH}

        # "idb add" from 2025-01-02: the last two days get the new version
        for event in idb_version_observations(
            {scet_day_from_key(d): "2.26.39@bb" for d in DAYS[1:]}
        ):
            instance.report_runless_asset_event(event)
        resolver = get_stale_status_resolver(instance, [idb_versions, decoded])
        status = {d: resolver.get_status(decoded.key, d) for d in DAYS}
        assert status == {
            "2025-01-01": StaleStatus.FRESH,
            "2025-01-02": StaleStatus.STALE,
            "2025-01-03": StaleStatus.STALE,
        }
        causes = resolver.get_stale_causes(decoded.key, "2025-01-02")
        assert any(c.dependency and c.dependency.asset_key == IDB_VERSIONS_KEY for c in causes)
