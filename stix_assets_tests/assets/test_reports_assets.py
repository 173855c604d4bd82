import dagster as dg
import pytest

from stix_assets.assets.reports import COMPLETENESS_KEY, reports_completeness
from stix_assets.core.idb import IdbStore
from stix_assets.core.process import process_tm_files
from stix_assets.resources import StixSettings
from stix_assets_tests.core.levels.test_order_invariance import CREATED

pytestmark = pytest.mark.realdata


def test_completeness_report_renders_the_month_with_a_small_thumbnail(tmp_path, testdata):
    archive = tmp_path / "archive"
    inputs = sorted((testdata / "reference" / "stixcore" / "input").glob("*.xml"))
    process_tm_files(
        inputs, archive, IdbStore(testdata / "idb"), end_level="L0", created=CREATED,
        software_version="test", conf_dir=testdata / "conf",
    )  # fmt: skip
    stix = StixSettings(
        data_root=str(tmp_path), archive_dir=str(archive), idb_dir=str(testdata / "idb")
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [reports_completeness], instance=instance, partition_key="2020-12-01",
            resources={"stix": stix},
        )  # fmt: skip
        assert result.success
        event = result.asset_materializations_for_node(reports_completeness.op.name)[0]
    assert event.asset_key == COMPLETENESS_KEY
    png = archive / "reports" / "completeness_2020-11-01_2020-12-01.png"
    html = png.with_suffix(".html")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "STIX completeness 2020-11-01 .. 2020-12-01" in html.read_text()
    assert len(event.metadata["heat_map"].value) < 8 * 1024  # lean events (thumbnail)
    totals = event.metadata["totals"].value
    # the hexpackets input holds 2018 ground-test packets (quarantined by the mission window),
    # so its days show quarantine; L1 was not made, so it is missing
    assert totals.get("quarantine", 0) > 0
    assert totals.get("missing", 0) > 0
