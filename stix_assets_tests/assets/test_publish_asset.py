"""Asset ``soar/delivery``, its job and the 05:00 schedule."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from stix_assets.assets.publish import (
    PUBLISH_ASSETS,
    PUBLISH_JOBS,
    PUBLISH_SCHEDULES,
    PublishSettings,
    soar_delivery,
    soar_delivery_schedule,
)
from stix_assets.resources import StixSettings
from stix_assets_tests.core.test_publish_support import (
    BSD_NAME,
    flip_data_byte,
    make_product,
    reference_bsd_files,
)


@pytest.fixture
def resources(tmp_path: Path) -> dict[str, object]:
    for sub in ("archive", "esa", "conflicts"):
        (tmp_path / sub).mkdir()
    files = reference_bsd_files(tmp_path / "archive")
    make_product(tmp_path / "archive", "solo_L0_stix-hk-maxi_0642038400_V02U.fits")  # 2020-05-06
    (tmp_path / "black.txt").write_text(files[130].name + "\n")
    return {
        "stix": StixSettings(
            archive_dir=str(tmp_path / "archive"), catalog_path=str(tmp_path / "c.duckdb")
        ),
        "soar": PublishSettings(
            target_dir=str(tmp_path / "esa"),
            same_esa_name_dir=str(tmp_path / "conflicts"),
            blacklist_file=str(tmp_path / "black.txt"),
            supplement_report=str(tmp_path / "s.tsv"),
        ),
    }


def test_definitions_load(resources):
    defs = dg.Definitions(
        assets=PUBLISH_ASSETS, jobs=PUBLISH_JOBS, schedules=PUBLISH_SCHEDULES, resources=resources
    )
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_schedule_def("publish_schedule").cron_schedule == "0 5 * * *"
    assert defs.resolve_job_def("publish_job")


def test_partition_delivers_its_day_with_metadata(resources, tmp_path: Path):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [soar_delivery], instance=instance, partition_key="2020-05-05", resources=resources
        )
        assert result.success
        (mat,) = result.asset_materializations_for_node("soar__delivery")
    meta = mat.metadata
    assert meta["summary"].value == (
        "delivered 3, refused 0, errors 2, skipped 3 (blacklisted 1, "
        "re-requested data 2) | E2 I3 S2 P1"
    )
    delivered = {d["delivered_name"] for d in meta["delivered"].value}
    assert BSD_NAME.format(rid=123) in delivered
    assert len(delivered) == 3
    reasons = {d["reason"] for d in meta["skipped"].value}
    assert "blacklisted" in reasons
    assert {d["report"] for d in meta["conflicted"].value} == {"MODIFIED", "ERROR"}
    # the HK file of 2020-05-06 belongs to another partition
    assert not list((tmp_path / "esa").glob("*hk-maxi*"))


def test_refused_file_is_counted_in_metadata(resources, tmp_path: Path):
    rotten = make_product(tmp_path / "archive", "solo_L1_stix-ql-lightcurve_20200505_V02.fits")
    flip_data_byte(rotten)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [soar_delivery], instance=instance, partition_key="2020-05-05", resources=resources
        )
        assert result.success
        (mat,) = result.asset_materializations_for_node("soar__delivery")
    meta = mat.metadata
    counts = {k: meta[f"n_{k}"].value for k in ("delivered", "refused", "errors", "skipped")}
    assert counts == {"delivered": 3, "refused": 1, "errors": 2, "skipped": 3}
    assert meta["skipped_by_reason"].value == {"blacklisted": 1, "re-requested data": 2}
    (refused,) = meta["refused"].value
    assert refused["source"] == rotten.name
    assert "HDU 2 DATA" in refused["reason"]
    assert not (tmp_path / "esa" / rotten.name).exists()


def test_schedule_requests_days_with_due_files(resources):
    tick = datetime(2030, 1, 2, 5, 0, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, resources=resources
        )
        requests = soar_delivery_schedule(ctx)
        assert sorted(r.partition_key for r in requests) == ["2020-05-05", "2020-05-06"]
        dg.materialize([soar_delivery], instance=instance, partition_key="2020-05-05",
                       resources=resources)  # fmt: skip
        dg.materialize([soar_delivery], instance=instance, partition_key="2020-05-06",
                       resources=resources)  # fmt: skip
        ctx = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, resources=resources
        )
        skip = soar_delivery_schedule(ctx)
        assert isinstance(skip, dg.SkipReason)
        assert "no files due" in skip.skip_message


def test_locked_history_fails_the_run(resources, tmp_path: Path):
    import duckdb

    from stix_assets.core.catalog import Catalog

    Catalog(tmp_path / "c.duckdb").stats()
    soar = PublishSettings(target_dir=str(tmp_path / "esa"), lock_timeout_s=0.2)
    # an open read-write connection in this process holds the file with another configuration
    with (
        duckdb.connect(str(tmp_path / "c.duckdb"), config={"threads": 1}),
        dg.instance_for_test() as instance,
    ):
        result = dg.materialize(
            [soar_delivery], instance=instance, partition_key="2020-05-05",
            resources={**resources, "soar": soar}, raise_on_error=False,
        )  # fmt: skip
    assert not result.success
    assert list((tmp_path / "esa").iterdir()) == []
