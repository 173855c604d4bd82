"""Which CAL file for time T: same ELUT, closest in time (STIX's rule)."""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.commands.manifest import run as manifest_run
from stix_assets.core.catalog import Catalog, ProductFileRecord
from stix_assets.core.manifest import (
    CalEntry,
    cal_file_for,
    elut_in_force,
    read_cal_index,
    write_manifest,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


A = CalEntry("a.fits", "elut_1", utc(2021, 1, 1, 10), utc(2021, 1, 1, 11))
B = CalEntry("b.fits", "elut_2", utc(2021, 1, 16, 10), utc(2021, 1, 16, 11))
C = CalEntry("c.fits", "elut_2", utc(2021, 1, 20, 10), utc(2021, 1, 20, 11))
D = CalEntry("d.fits", "elut_1", utc(2021, 1, 25, 10), utc(2021, 1, 25, 11))
INDEX = [A, B, C, D]


@pytest.mark.parametrize(
    ("when", "elut", "expected"),
    [
        (utc(2021, 1, 16, 12), "elut_2", "b.fits"),  # one hour after B
        (utc(2021, 1, 16, 10, 30), "elut_2", "b.fits"),  # inside B
        (utc(2021, 1, 19, 12), "elut_2", "c.fits"),  # nearer to C than to B
        (utc(2021, 1, 16, 12), "elut_1", "d.fits"),  # same ELUT wins over B inside the day
        (utc(2021, 1, 12), "elut_1", "a.fits"),  # 10.5 days after A, 13.4 before D
        (utc(2021, 2, 1), "elut_1", "d.fits"),  # after every file: the last
        (utc(2020, 1, 1), "elut_2", "b.fits"),  # before every file: the first
    ],
)
def test_cal_file_for(when, elut, expected):
    assert cal_file_for(when, elut, INDEX).path == expected


def test_unknown_elut_finds_nothing():
    assert cal_file_for(utc(2021, 1, 16), "elut_9", INDEX) is None
    assert cal_file_for(utc(2021, 1, 16), "elut_1", []) is None


def test_without_elut_the_last_calibration_before_says():
    assert elut_in_force(utc(2021, 1, 17), INDEX) == "elut_2"
    assert cal_file_for(utc(2021, 1, 17), None, INDEX).path == "b.fits"
    assert elut_in_force(utc(2020, 1, 1), INDEX) == "elut_1"  # before all: the first


def test_tie_goes_to_the_nearer_centre_then_the_later_file():
    long = CalEntry("long.fits", "e", utc(2021, 1, 1), utc(2021, 1, 3))
    short = CalEntry("short.fits", "e", utc(2021, 1, 2), utc(2021, 1, 2, 1))
    assert cal_file_for(utc(2021, 1, 2, 0, 30), "e", [long, short]).path == "short.fits"
    x = CalEntry("x.fits", "e", utc(2021, 1, 1), utc(2021, 1, 1, 1))
    y = CalEntry("y.fits", "e", utc(2021, 1, 1, 3), utc(2021, 1, 1, 4))
    assert cal_file_for(utc(2021, 1, 1, 2), "e", [x, y]).path == "y.fits"


def test_naive_and_aware_times_agree():
    from datetime import timedelta, timezone

    aware = datetime(2021, 1, 19, 14, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2021, 1, 19, 12)  # noqa: DTZ001 (naive is UTC)
    assert cal_file_for(aware, "elut_2", INDEX).path == "c.fits"
    assert cal_file_for(naive, "elut_2", INDEX).path == "c.fits"
    assert cal_file_for(naive, "elut_2", INDEX) == cal_file_for(aware, "elut_2", INDEX)


def _fake_cal(root: Path, beg: str, end: str, elut: str, version: int = 2) -> Path:
    """A CAL-like file: primary header with the time range, CONTROL with ob_elut_name."""
    day = beg[:10].replace("-", "/")
    stamp = beg.replace("-", "").replace(":", "")[:15]
    path = root / "CAL" / day / "CAL" / f"solo_CAL_stix-cal-energy_{stamp}-x_V{version:02d}.fits"
    path.parent.mkdir(parents=True, exist_ok=True)
    primary = fits.PrimaryHDU()
    primary.header["DATE-BEG"] = beg
    primary.header["DATE-END"] = end
    control = fits.BinTableHDU.from_columns(
        [fits.Column(name="ob_elut_name", format="40A", array=np.array([elut]))], name="CONTROL"
    )
    fits.HDUList([primary, control]).writeto(path)
    return path


@pytest.fixture
def cal_archive(tmp_path: Path) -> Catalog:
    catalog = Catalog(tmp_path / "stix_catalog.duckdb")
    files = [
        _fake_cal(tmp_path, "2021-01-01T10:00:00.000", "2021-01-01T11:00:00.000", "elut_a"),
        _fake_cal(tmp_path, "2021-01-16T10:00:00.000", "2021-01-16T11:00:00.000", "elut_b"),
        _fake_cal(tmp_path, "2021-01-20T10:00:00.000", "2021-01-20T11:00:00.000", "elut_b"),
        # V01 of the 2021-01-20 file: superseded, never chosen
        _fake_cal(tmp_path, "2021-01-20T10:00:00.000", "2021-01-20T11:00:00.000", "elut_b", 1),
    ]
    catalog.record_products(
        [
            ProductFileRecord(
                path=p, level="CAL", product="cal_energy",
                partition_day=None,
                version=int(p.stem[-2:]), sha256=hashlib.sha256(p.read_bytes()).hexdigest(),
                written_at=utc(2024, 1, 1),
            )
            for p in files
        ]
    )  # fmt: skip
    return catalog


def test_cal_index_from_the_archive(cal_archive: Catalog):
    result = write_manifest(cal_archive)
    assert result.n_cal == 3  # the superseded V01 is left out
    index = read_cal_index(cal_archive.archive_root)
    assert [(r["elut"], r["version"]) for r in index] == [
        ("elut_a", 2),
        ("elut_b", 2),
        ("elut_b", 2),
    ]
    assert isinstance(index[0]["date_beg"], datetime)
    chosen = cal_file_for(utc(2021, 1, 16, 12), "elut_b", index)
    assert chosen.path.endswith("20210116T100000-x_V02.fits")
    chosen = cal_file_for(utc(2021, 1, 19), "elut_b", index)
    assert chosen.path.endswith("20210120T100000-x_V02.fits")
    data = json.loads((cal_archive.archive_root / "manifest" / "cal_index.json").read_text())
    assert [r["path"] for r in data] == [r["path"] for r in index]


def _args(**kw):
    import argparse

    base = {"config": None, "archive": None, "catalog": None, "cal_for": None, "elut": None,
            "conf_dir": None, "json": False}  # fmt: skip
    return argparse.Namespace(**(base | kw))


def test_cli_rebuilds_and_answers(cal_archive: Catalog, capsys):
    root = cal_archive.archive_root
    assert manifest_run(_args(archive=root)) == 0
    assert "3 CAL files" in capsys.readouterr().out
    assert manifest_run(_args(archive=root, cal_for="2021-01-16T12:00:00", elut="elut_b")) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("solo_CAL_stix-cal-energy_20210116T100000-x_V02.fits")
    )
    # no ELUT given, no STIX-CONF: the ELUT of the last calibration before
    assert manifest_run(_args(archive=root, cal_for="2021-01-02T00:00:00", conf_dir=root)) == 0
    assert "20210101T100000" in capsys.readouterr().out
    assert manifest_run(_args(archive=root, cal_for="2021-01-16T12:00:00", elut="nope")) == 1
    assert "no CAL file" in capsys.readouterr().err
    assert manifest_run(_args(archive=root, cal_for="yesterday", elut="x")) == 2
    assert manifest_run(_args(archive=root, cal_for="2021-01-16T12:00:00Z", elut="elut_b",
                              json=True)) == 0  # fmt: skip
    answer = json.loads(capsys.readouterr().out)
    assert answer["cal_file"]["elut"] == "elut_b"
    assert answer["time"] == "2021-01-16T12:00:00"
