"""SOAR publishing rules (domain reference 10) on small products built in tmp_path."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from astropy.io import fits

from stix_assets.core.catalog import Catalog, read_publish_history
from stix_assets.core.errors import PublishError
from stix_assets.core.publish import (
    LocalTarget,
    PublishConfig,
    PublishFilters,
    PublishHistory,
    import_published_sqlite,
    parse_name,
    parse_period,
    parse_versions,
    publish_archive,
    select_candidates,
)
from stix_assets_tests.core.test_publish_support import (
    BSD_NAME,
    make_product,
    reference_bsd_files,
    set_age,
)

NOW = datetime.now(UTC)


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    out = {k: tmp_path / k for k in ("archive", "esa", "conflicts")}
    for p in out.values():
        p.mkdir()
    out["catalog"] = tmp_path / "catalog.duckdb"
    out["report"] = tmp_path / "supplement_report.tsv"
    return out


def _config(dirs: dict[str, Path], **kw) -> PublishConfig:
    kw.setdefault("filters", PublishFilters(sort_files=True))
    return PublishConfig(
        fits_dir=dirs["archive"],
        target=LocalTarget(dirs["esa"]),
        same_esa_name_dir=dirs["conflicts"],
        supplement_report=dirs["report"],
        **kw,
    )


def _publish(dirs, **kw):
    return publish_archive(_config(dirs, **kw), Catalog(dirs["catalog"]), now=NOW)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_names_parse_status_and_esaname():
    n = parse_name("solo_L1_stix-ql-lightcurve_20210117_V02U.fits")
    assert (n.version, n.status, n.is_incomplete) == (2, "U", True)
    assert n.complete().name == "solo_L1_stix-ql-lightcurve_20210117_V02.fits"
    assert n.with_version(3).complete().name == "solo_L1_stix-ql-lightcurve_20210117_V03.fits"
    b = parse_name(BSD_NAME.format(rid=123))
    assert b.request_id == 123
    assert b.product_type == "sci"
    assert b.esaname == "solo_L1_stix-sci-xray-spec_20200505T000000-20200505T001000_V02"
    assert b.supplement(1).descriptor == "stix-sci-xray-spec-sup1"
    assert (
        parse_name("solo_L0_stix-ql-lightcurve_0664070400_V02U.fits").product_day().isoformat()
        == "2021-01-16"
    )
    assert (
        parse_name(
            "solo_LB_stix-21-6-21_0000000000-9999999999_V02_2312148821-53879.fits"
        ).product_day()
        is None
    )
    assert parse_versions("V02,3") == {2, 3}
    assert parse_versions("*") is None
    assert parse_period("14d") == 14 * 86400
    assert parse_period("1min") == 60
    with pytest.raises(ValueError, match="bad period"):
        parse_period("14 fortnights")


def test_reference_scenario(dirs):
    """STIXCore test_publish: 1 PUBLISHED, 2 IGNORED, 2 MODIFIED, 2 ERROR, 1 BLACKLISTED."""
    files = reference_bsd_files(dirs["archive"])
    report = _publish(dirs, blacklist=frozenset({files[130].name}))
    assert report.counts() == {
        "PUBLISHED": 1, "IGNORED": 2, "MODIFIED": 2, "ERROR": 2, "BLACKLISTED": 1,
    }  # fmt: skip
    assert report.stixcore_summary() == "E2 I3 S2 P1"
    assert report.totals() == {"delivered": 3, "refused": 0, "errors": 2, "skipped": 3}
    assert report.skipped_by_reason() == {"blacklisted": 1, "re-requested data": 2}
    by_rid = {parse_name(o.source).request_id: o for o in report.outcomes}
    assert [by_rid[r].report for r in range(123, 131)] == [
        "PUBLISHED", "IGNORED", "MODIFIED", "IGNORED", "MODIFIED", "ERROR", "ERROR", "BLACKLISTED",
    ]  # fmt: skip
    sup1 = (
        "solo_L1_stix-sci-xray-spec-sup1_20200505T000000-20200505T001000_V02_0000000125-00001.fits"
    )
    sup2 = (
        "solo_L1_stix-sci-xray-spec-sup2_20200505T000000-20200505T001000_V02_0000000127-00001.fits"
    )
    assert _names(dirs["esa"]) == sorted([files[123].name, sup1, sup2])
    assert _names(dirs["conflicts"]) == sorted([files[128].name, files[129].name])
    head = fits.getheader(dirs["esa"] / sup1)
    assert head["FILENAME"] == sup1
    comments = [str(c) for c in head["COMMENT"]]
    assert "BSD request id: '125' reason: ''" in comments
    assert f"supplement data product combine with: {files[123].name}." in "".join(comments)
    assert any("published to ESA SOAR as" in str(h) for h in head["HISTORY"])
    # the archive files are untouched
    assert fits.getheader(files[125])["FILENAME"] == files[125].name
    rows = read_publish_history(Catalog(dirs["catalog"]))
    assert sorted(r["result"] for r in rows) == [10, 11, 11, 11, 11, 12, 12, 13]
    mods = {r["modified_esaname"] for r in rows if r["result"] == 12}
    assert mods == {
        "_".join(sup1.split("_")[:5]) + ".fits",
        "_".join(sup2.split("_")[:5]) + ".fits",
    }
    assert {r["state"] for r in rows} == {"done"}
    assert all(r["data_version"] for r in rows)
    lines = dirs["report"].read_text().splitlines()
    assert lines[0] == "filename\tbasefile\tcomment"
    assert len(lines) == 3
    assert lines[1].split("\t")[:2] == [sup1, files[123].name]
    # nothing new on the next run
    again = _publish(dirs, blacklist=frozenset({files[130].name}))
    assert again.outcomes == ()
    assert again.selection.skipped == {"already decided": 8}
    assert (
        again.summary()
        == "delivered 0, refused 0, errors 0, skipped 8 (already decided 8) | E0 I0 S0 P0"
    )


def test_incomplete_l0_published_once_with_filename_fixed(dirs):
    """Quirk 19 fixed: the U leaves the name and FILENAME of L0 files too."""
    src = make_product(dirs["archive"], "solo_L0_stix-ql-lightcurve_0641865600_V02U.fits",
                       date_beg="0641865600:00000")  # fmt: skip
    report = _publish(dirs)
    (out,) = report.outcomes
    assert out.report == "PUBLISHED"
    assert out.delivered_name == "solo_L0_stix-ql-lightcurve_0641865600_V02.fits"
    assert fits.getheader(dirs["esa"] / out.delivered_name)["FILENAME"] == out.delivered_name
    assert src.exists()  # the archive keeps its file
    assert _publish(dirs).outcomes == ()


def test_future_data_is_ignored(dirs):
    make_product(dirs["archive"], "solo_L0_stix-sci-xray-spec_1999999999-2000000000_V02_0000000001-00001.fits",
                 date_beg="1999999999:00000")  # fmt: skip
    (out,) = _publish(dirs).outcomes
    assert (out.report, out.reason) == ("IGNORED", "data start more than 7 days in the future")
    assert _names(dirs["esa"]) == []


def test_waiting_period_uses_mtime(dirs):
    fresh = make_product(dirs["archive"], "solo_L0_stix-hk-maxi_0641865600_V02U.fits", age_s=3600)
    sel = select_candidates(dirs["archive"], PublishFilters(), now=time.time())
    assert sel.candidates == ()
    assert sel.waiting == (fresh.name,)
    # a metadata change (ctime now) does not restart the clock: only the mtime counts
    set_age(fresh, 15 * 86400)
    os.chmod(fresh, 0o644)
    sel = select_candidates(dirs["archive"], PublishFilters(), now=time.time())
    assert [c.path for c in sel.candidates] == [fresh]


def test_filters(dirs):
    make_product(dirs["archive"], "solo_L0_stix-hk-maxi_0641865600_V02U.fits")
    make_product(dirs["archive"], "solo_L0_stix-hk-mini_0641865600_V03U.fits")
    make_product(dirs["archive"], "solo_L1_stix-ql-lightcurve_20200505_V02.fits")
    make_product(dirs["archive"], "solo_L0_stix-events-1-33_0641865600_V02.fits")
    make_product(dirs["archive"], "solo_LB_stix-3-25-2_0641865600_V02.fits")

    def names(**kw) -> list[str]:
        sel = select_candidates(
            dirs["archive"], PublishFilters(sort_files=True, **kw), now=time.time()
        )
        return [c.name.name for c in sel.candidates]

    assert names() == [
        "solo_L0_stix-hk-maxi_0641865600_V02U.fits",
        "solo_L0_stix-hk-mini_0641865600_V03U.fits",
        "solo_L1_stix-ql-lightcurve_20200505_V02.fits",
    ]  # events: product "events" not included; LB: level not included
    assert names(include_versions=frozenset({3})) == ["solo_L0_stix-hk-mini_0641865600_V03U.fits"]
    assert names(include_levels=frozenset({"l1"})) == [
        "solo_L1_stix-ql-lightcurve_20200505_V02.fits"
    ]
    assert names(include_products=frozenset({"hk"}), batch_size=1) == [
        "solo_L0_stix-hk-maxi_0641865600_V02U.fits"
    ]
    assert len(names(include_levels=None, include_products=None)) == 5


def test_changed_product_is_delivered_with_higher_version(dirs):
    name = "solo_L0_stix-ql-lightcurve_0641865600_V02U.fits"
    src = make_product(dirs["archive"], name, values=[1, 2])
    first = _publish(dirs).outcomes[0]
    assert first.delivered_name == "solo_L0_stix-ql-lightcurve_0641865600_V02.fits"
    # touched but same data: decided again, nothing delivered
    set_age(src, 20 * 86400)
    (same,) = _publish(dirs).outcomes
    assert same.report == "IGNORED"
    assert same.reason.startswith("same data already delivered")
    # the pipeline rewrote the file with more data
    src.unlink()
    make_product(dirs["archive"], name, values=[1, 2, 3])
    (bumped,) = _publish(dirs).outcomes
    assert bumped.report == "PUBLISHED"
    assert bumped.delivered_name == "solo_L0_stix-ql-lightcurve_0641865600_V03.fits"
    assert bumped.supersedes == first.delivered_name
    head = fits.getheader(dirs["esa"] / bumped.delivered_name)
    assert (head["VERSION"], head["FILENAME"]) == ("03", bumped.delivered_name)
    # the V02 delivery is untouched
    assert fits.getdata(dirs["esa"] / first.delivered_name, "DATA")["counts"].tolist() == [1, 2]
    rows = read_publish_history(Catalog(dirs["catalog"]))
    assert sorted(r["version"] for r in rows if r["result"] == 10) == [2, 3]


def test_read_only_target_fails_and_changes_nothing(dirs):
    reference_bsd_files(dirs["archive"])
    dirs["esa"].chmod(0o555)
    try:
        with pytest.raises(PublishError, match="not writable"):
            _publish(dirs)
    finally:
        dirs["esa"].chmod(0o755)
    assert _names(dirs["esa"]) == []
    assert _names(dirs["conflicts"]) == []
    assert read_publish_history(Catalog(dirs["catalog"])) == []


def test_locked_history_fails_and_delivers_nothing(dirs):
    reference_bsd_files(dirs["archive"])
    Catalog(dirs["catalog"]).stats()  # create the file
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)",
         str(dirs["catalog"])],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        catalog = Catalog(dirs["catalog"], lock_timeout_s=0.3, read_timeout_s=0.3)
        with pytest.raises(PublishError, match="publish history locked by another process"):
            publish_archive(_config(dirs), catalog, now=NOW)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert _names(dirs["esa"]) == []
    assert read_publish_history(Catalog(dirs["catalog"])) == []


def test_unreadable_file_is_an_error_row(dirs):
    bad = dirs["archive"] / "solo_L1_stix-ql-lightcurve_20200505_V02.fits"
    bad.write_bytes(b"not a fits file" * 100)
    set_age(bad, 30 * 86400)
    (out,) = _publish(dirs).outcomes
    assert out.report == "ERROR"
    assert "cannot read FITS" in out.reason
    assert [r["result"] for r in read_publish_history(Catalog(dirs["catalog"]))] == [14]


def test_dry_run_writes_nothing(dirs):
    reference_bsd_files(dirs["archive"])
    report = _publish(dirs, dry_run=True)
    assert report.stixcore_summary() == "E3 I2 S2 P1"  # no blacklist: rid 130 is one more ERROR
    assert _names(dirs["esa"]) == []
    assert _names(dirs["conflicts"]) == []
    assert read_publish_history(Catalog(dirs["catalog"])) == []
    assert not dirs["report"].exists()


def test_import_published_sqlite_blocks_old_names(dirs, tmp_path):
    import sqlite3

    f = make_product(dirs["archive"], "solo_L0_stix-hk-maxi_0641865600_V02U.fits")
    db = tmp_path / "published.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE published (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,"
            " path TEXT NOT NULL, version INTEGER NOT NULL, p_date FLOAT NOT NULL, m_date FLOAT NOT NULL,"
            " esaname TEXT NOT NULL, modified_esaname TEXT, result INTEGER)"
        )
        conn.execute(
            "INSERT INTO published (name, path, version, p_date, m_date, esaname, result)"
            " VALUES (?, ?, 2, 1.0, 1.0, ?, 10)",
            [
                "solo_L0_stix-hk-maxi_0641865600_V02.fits",
                str(f.parent),
                "solo_L0_stix-hk-maxi_0641865600_V02",
            ],
        )
    history = PublishHistory(Catalog(dirs["catalog"]))
    for row in import_published_sqlite(db):
        history.upsert(row)
    report = _publish(dirs)
    assert report.outcomes == ()
    assert report.selection.skipped == {"already decided": 1}
