"""Completeness of a day range on a small real archive, and ``status --days``."""

import argparse
import datetime as dt
import json
from pathlib import Path

import pytest

from stix_assets.commands.status import parse_days
from stix_assets.commands.status import run as status_run
from stix_assets.core.completeness import completeness, completeness_table, day_coverage
from stix_assets.core.manifest import read_manifest
from stix_assets.core.time import scet_day_start
from stix_assets_tests.kit_archive import build_kit_archive

MOC_DAY = dt.date(
    2019, 11, 27
)  # the 2019 ground test: QL and calibration, L1 without flown kernels


@pytest.fixture(scope="module")
def archive(testdata: Path, tmp_path_factory: pytest.TempPathFactory):
    return build_kit_archive(testdata, tmp_path_factory.mktemp("completeness"))


def test_day_coverage_merges_and_clips():
    d = dt.date(2021, 1, 16)
    s = scet_day_start(d)
    cov = day_coverage(
        d,
        {"a": (s - 100, s + 99), "b": (s + 50, s + 1000), "c": (s + 1200, s + 1299)},
        gap_threshold_s=200,
    )
    assert cov.ranges == ((0, 1001), (1200, 1300))
    assert cov.gaps == ((1300, 86400),)  # the 199 s between b and c is under the threshold
    short = day_coverage(d, {"b": (s + 50, s + 1000)}, gap_threshold_s=10)
    assert short.gaps == ((0, 50), (1001, 86400))
    assert cov.covered_s == 1101
    assert day_coverage(d, {}).gaps == ((0, 86400),)


@pytest.mark.realdata
def test_completeness_of_the_ground_test_day(archive):
    cells, coverage = completeness(
        archive,
        MOC_DAY,
        MOC_DAY + dt.timedelta(days=1),
        manifest=read_manifest(archive.archive_root),
    )
    by = {(c.level, c.product): c for c in cells}
    lc = by[("LB", "ql_lightcurve")]
    assert (lc.expected, lc.n_files, lc.state) == (True, 1, "complete")
    assert by[("L0", "ql_lightcurve")].state == "unverified"  # _V02U: the day is still open
    # L1 of 2019 is made with kernels that do not cover it (needs_reprocessing)
    assert by[("L1", "ql_lightcurve")].state == "kernels"
    assert {c.day for c in cells} == {MOC_DAY}
    moc, empty = coverage
    assert moc.tm_files == ("PktTmRaw.moc_test-20191127.xml",)
    assert moc.ranges == ((15 * 3600 + 35 * 60 + 20, 17 * 3600 + 13 * 60 + 16),)
    assert empty.tm_files == ()
    assert empty.gaps == ((0, 86400),)


@pytest.mark.realdata
def test_quarantine_and_missing_files_show(archive, tmp_path):
    from stix_assets.core.tmtc import QuarantinedPacket

    archive.record_quarantine(
        [QuarantinedPacket(file="PktTmRaw.moc_test-20191127.xml", packet_index=3, reason="test")]
    )
    table = completeness_table(archive, MOC_DAY, MOC_DAY)
    states = {(c["level"], c["product"]): c["state"] for c in table["cells"]}
    assert set(states.values()) == {"quarantine"}
    assert table["totals"] == {"quarantine": len(states)}


def _args(**kw):
    base = {"config": None, "json": False, "failed_hours": 24.0, "archive": None,
            "gap_threshold": 600, "days": None}  # fmt: skip
    return argparse.Namespace(**(base | kw))


@pytest.mark.realdata
def test_status_days_cli(archive, capsys):
    root = archive.archive_root
    assert status_run(_args(days="2020-12-01..2020-12-01", archive=root)) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("completeness 2020-12-01..2020-12-01 (C=complete")
    assert lines[1].split() == ["product", "LB", "L0", "L1"]
    assert lines[2].startswith("2020-12-01  TM 2 files, covered")
    # the hexpackets file that touched this day also holds 2018 ground-test packets, which the
    # mission-window gate quarantines: every day that file touched shows Q
    assert ["events", "Q", "Q", "Q", "s0", "p0"] in [line.split() for line in lines]
    # BSD: only LB is expected on the TM day (its L0/L1 go to the data start day)
    assert ["xray_cpd", "Q", ".", ".", "s0", "p0"] in [line.split() for line in lines]
    assert lines[-1].startswith("total: ")
    assert status_run(_args(days="2020-12-01", archive=root, json=True)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["start"] == data["end"] == "2020-12-01"
    assert {c["level"] for c in data["cells"]} == {"LB", "L0", "L1"}
    assert status_run(_args(days="2020-12-02..2020-12-01", archive=root)) == 2


def test_parse_days():
    assert parse_days("2024-05-01..2024-05-31") == (dt.date(2024, 5, 1), dt.date(2024, 5, 31))
    assert parse_days("2024-05-01") == (dt.date(2024, 5, 1), dt.date(2024, 5, 1))
    with pytest.raises(ValueError, match="ends before"):
        parse_days("2024-05-02..2024-05-01")
