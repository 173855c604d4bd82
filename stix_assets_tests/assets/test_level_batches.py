"""Backfill batches: a range run of the level assets writes what per-day runs write.

The kit's moc_test TM file fills SCET day 2019-11-27; its window neighbours 2019-11-26 and
2019-11-28 get L0 and L1 files as well, so three days make a range with real work at every level.
"""

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import dagster as dg
import pytest

from stix_assets.assets._batches import RANGE_END_TAG, RANGE_START_TAG
from stix_assets.assets.levels import ROUTE_ASSETS
from stix_assets.dagster_runner import materialize_tm_files, reprocess_days
from stix_assets.resources import StixSettings

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

TM_NAME = "PktTmRaw.moc_test-20191127.xml"
DAYS = ["2019-11-26", "2019-11-27", "2019-11-28"]
LEVEL_GROUPS = ("level_binary", "level_0", "level_1")


def _settings(root: Path, testdata: Path) -> StixSettings:
    incoming = root / "incoming"
    incoming.mkdir(parents=True)
    shutil.copy(testdata / "reference" / "stixcore" / "input" / TM_NAME, incoming / TM_NAME)
    return StixSettings(
        data_root=str(root),
        idb_dir=str(testdata / "idb"),
        stix_conf_dir=str(testdata / "conf"),
        kernel_dir=str(testdata / "spice" / "kernels"),
    )


def _digests(archive: Path) -> dict[str, str]:
    return {
        p.relative_to(archive).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for level in ("LB", "L0", "L1")
        for p in sorted((archive / level).rglob("*.fits"))
    }


def _per_day(stix: StixSettings, instance: dg.DagsterInstance) -> None:
    """Level by level, one run per day: what the sensors and the automation do."""
    for group in LEVEL_GROUPS:
        for day in DAYS:
            result = dg.materialize(
                ROUTE_ASSETS, instance=instance, partition_key=day,
                selection=dg.AssetSelection.groups(group), resources={"stix": stix},
            )  # fmt: skip
            assert result.success


def test_a_range_run_writes_the_files_of_per_day_runs(tmp_path, testdata, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764676800")  # pinned DATE: comparable bytes
    daily = _settings(tmp_path / "daily", testdata)
    ranged = _settings(tmp_path / "ranged", testdata)
    with dg.instance_for_test() as instance:
        tm = daily.incoming_path() / TM_NAME
        assert materialize_tm_files([tm], daily, instance, end_level="TM").success
        _per_day(daily, instance)
    with dg.instance_for_test() as instance:
        tm = ranged.incoming_path() / TM_NAME
        assert materialize_tm_files([tm], ranged, instance, end_level="TM").success
        defs = dg.Definitions(assets=ROUTE_ASSETS, resources={"stix": ranged})
        stock = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        first, last = dt.date.fromisoformat(DAYS[0]), dt.date.fromisoformat(DAYS[-1])
        summary = reprocess_days(first, last, ranged, instance, levels=["LB", "L0", "L1"])
        assert summary.success
        # one run per level for the three days, as a backfill batch
        runs = [*summary.lb_runs, *summary.l0_runs, *summary.l1_runs]
        assert [r.partition_key for r in runs] == [f"{DAYS[0]}...{DAYS[-1]}"] * 3
        tags = instance.get_run_by_id(runs[1].run_id).tags
        assert (tags[RANGE_START_TAG], tags[RANGE_END_TAG]) == (DAYS[0], DAYS[-1])
        events = instance.get_records_for_run(
            runs[1].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        # the reprocessing ran every level itself: the automation has nothing to add
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=stock.cursor)
        assert after.total_requested == 0
    expected = _digests(daily.archive_root())
    assert {rel.split("/")[0] for rel in expected} == {"LB", "L0", "L1"}
    assert _digests(ranged.archive_root()) == expected
    l0 = {}
    for record in events:
        m = record.asset_materialization
        l0.setdefault(m.asset_key.to_user_string(), {})[m.partition] = m.metadata
    ql = l0["l0/ql_lightcurve"]
    assert sorted(ql) == DAYS  # every day of the batch, each with its own metadata
    assert ql["2019-11-27"]["n_files"].value == 1
    assert ql["2019-11-27"]["data_days"].value == ["2019-11-27"]
    assert {meta["batch"].value for meta in ql.values()} == {f"{DAYS[0]}...{DAYS[-1]}"}
    assert {meta["batch_days"].value for meta in ql.values()} == {3}
