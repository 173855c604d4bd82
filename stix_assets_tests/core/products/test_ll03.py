"""LL03 plots of the demo's L1 light curves: names (quirk 18: STIXCore's code branch), formats."""

from datetime import UTC, date, datetime, timedelta
from xml.etree import ElementTree

import pytest

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.products.ll03 import (
    FULL_DAY_ROWS,
    is_complete_day,
    ll03_file_stem,
    write_ll03,
)
from stix_assets_tests.core.test_flarelist import FLARE_DAY

NOW = datetime(2024, 5, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(demo_l1):
    return demo_l1.root  # read only: the plots go to tmp_path


def test_name_is_stixcore_code_branch():
    assert (
        ll03_file_stem(date(2021, 1, 17))
        == "solo_LL03_stix-ql-lightcurve_20210117T000000-20210117T235959_V02C"
    )


def test_complete_day_rule():
    end = datetime(2024, 5, 15, 23, 59, tzinfo=UTC)
    assert is_complete_day(FULL_DAY_ROWS, end, NOW)
    assert not is_complete_day(FULL_DAY_ROWS - 1, end, NOW)
    assert is_complete_day(10, end, end + timedelta(days=31))


def test_plot_files_of_the_flare_day(demo, tmp_path):
    l1 = next((demo.archive / "L1/2024/05/15/QL").glob("solo_L1_stix-ql-lightcurve_*.fits"))
    result = write_ll03(l1, tmp_path, now=NOW)
    stem = "solo_LL03_stix-ql-lightcurve_20240515T000000-20240515T235959_V02C"
    assert result.svg == tmp_path / "LL03/2024/05/15/QL" / f"{stem}.svg"
    assert result.png == result.svg.with_suffix(".png")
    assert result.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.thumbnail[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(result.thumbnail) <= 3000  # a few KB in the event metadata, not the full plot
    root = ElementTree.parse(result.svg).getroot()
    assert root.tag.endswith("svg")
    assert result.utc_day == FLARE_DAY
    assert result.n_rows == 21600
    assert result.complete
    first = (result.svg.read_bytes(), result.png.read_bytes())
    again = write_ll03(l1, tmp_path, now=NOW)
    assert (again.svg.read_bytes(), again.png.read_bytes()) == first  # deterministic


def test_not_a_daily_file(tmp_path):
    with pytest.raises(ProductBuildError, match="not a daily L1"):
        write_ll03(tmp_path / "solo_L1_stix-ql-lightcurve.fits", tmp_path, now=NOW)
