import datetime as dt
import shutil

import pytest

from stix_assets.core.conf_days import changed_days, day_table_versions

pytestmark = pytest.mark.realdata


def test_days_name_their_tables_and_switch_on_the_kit(testdata):
    # STIX-CONF switches science channel tables on 2023-01-30 00:04:35 and 2023-01-31 00:12
    versions = day_table_versions(testdata / "conf", dt.date(2023, 1, 29), dt.date(2023, 2, 1))
    assert versions[dt.date(2023, 1, 29)].startswith("sci:ScienceEnergyChannels_1000.csv@")
    assert "ScienceEnergyChannels_20221216.csv@" in versions[dt.date(2023, 1, 30)]
    assert "[00:04:35-24:00:00]" in versions[dt.date(2023, 1, 30)]
    assert versions[dt.date(2023, 2, 1)].startswith("sci:ScienceEnergyChannels_20230201.csv@")
    assert len(set(versions.values())) == 4


def test_a_moved_boundary_or_an_edited_table_changes_only_its_days(testdata, tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(testdata / "conf", conf)
    first, last = dt.date(2022, 12, 1), dt.date(2023, 3, 1)
    before = day_table_versions(conf, first, last)
    index = conf / "detector" / "science_echan_index.csv"
    index.write_text(index.read_text().replace("2023-01-31T00:12:00", "2023-01-31T06:00:00"))
    moved = day_table_versions(conf, first, last)
    assert changed_days(before, moved) == [dt.date(2023, 1, 31)]
    table = conf / "detector" / "ScienceEnergyChannels_20230201.csv"
    table.write_text(table.read_text() + "\n")
    edited = day_table_versions(conf, first, last)
    assert changed_days(moved, edited) == [
        dt.date(2023, 1, 31),
        dt.date(2023, 2, 1),
        dt.date(2023, 2, 2),
    ]
