"""Validating, installing and registering a new IDB (`stix_assets.core.idb.register`), on the kit."""

import json
import shutil
import sqlite3
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.time import Time

from stix_assets.core.errors import IDBVersionError
from stix_assets.core.idb.days import changed_days, day_data_versions
from stix_assets.core.idb.register import add_idb, check_idb, file_sha256
from stix_assets.core.idb.store import HISTORY_FILE, IdbStore
from stix_assets.core.spice import KernelStore, LoadedKernels, loaded_kernels
from stix_assets.core.time import scet_day, utc_to_scet

VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def kernels(testdata: Path) -> LoadedKernels:
    with loaded_kernels(KernelStore(testdata / "spice" / "kernels")) as loaded:
        yield loaded


@pytest.fixture
def idb_dir(idb_root: Path, tmp_path: Path) -> Path:
    """A writable copy of the kit's IDB folder without 2.26.35 (to be added again)."""
    root = tmp_path / "idb"
    shutil.copytree(idb_root, root)
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(root / "2.26.35")
    return root


def _edited_copy(idb_root: Path, tmp_path: Path, *sql: str) -> Path:
    path = tmp_path / "edited" / "idb.sqlite"
    path.parent.mkdir()
    shutil.copyfile(idb_root / "2.26.34" / "idb.sqlite", path)
    path.chmod(0o644)
    con = sqlite3.connect(path)
    for statement in sql:
        con.execute(statement)
    con.commit()
    con.close()
    return path


def test_kit_idb_passes(idb_root):
    check = check_idb(idb_root / "2.26.34" / "idb.sqlite")
    assert check.version == "2.26.34"
    assert check.packets_per_apid[1468] == 10
    assert check.sha256 == file_sha256(idb_root / "2.26.34" / "idb.sqlite")


def test_suffixed_label_fits_the_table_and_other_labels_do_not(idb_root):
    path = idb_root / "2.26.35_alpha" / "idb.sqlite"
    assert check_idb(path, version="2.26.35_alpha").version == "2.26.35_alpha"
    with pytest.raises(IDBVersionError, match=r"holds version 2\.26\.35, not 2\.26\.36"):
        check_idb(path, version="2.26.36")


def test_old_idb_without_version_table_needs_a_label(idb_root):
    path = idb_root / "2.26.30" / "idb.sqlite"
    assert check_idb(path).version == "2.26.30"
    path = idb_root / "2.26.28" / "idb.sqlite"
    with pytest.raises(IDBVersionError, match=f"{path}.*no IDB version table"):
        check_idb(path)
    assert check_idb(path, version="2.26.28").version == "2.26.28"


def test_non_sqlite_file_is_refused(testdata):
    path = testdata / "README.md"
    with pytest.raises(IDBVersionError, match=f"{path} is not an SQLite database"):
        check_idb(path, version="9.9.9")


def test_missing_table_is_refused(idb_root, tmp_path):
    path = _edited_copy(idb_root, tmp_path, "drop table PCF")
    with pytest.raises(IDBVersionError, match="table PCF missing"):
        check_idb(path)


def test_idb_without_packets_of_an_apid_is_refused(idb_root, tmp_path):
    path = _edited_copy(idb_root, tmp_path, "delete from PID where PID_APID = 1500")
    with pytest.raises(IDBVersionError, match=f"{path} defines no packets for STIX APID.* 1500"):
        check_idb(path)


def test_idb_without_packet_layouts_is_refused(idb_root, tmp_path):
    path = _edited_copy(idb_root, tmp_path, "delete from PLF", "delete from VPD")
    with pytest.raises(IDBVersionError, match="no PLF/VPD packet definitions"):
        check_idb(path)


def test_add_installs_and_extends_history(idb_root, idb_dir, kernels):
    source = idb_root / "2.26.35" / "idb.sqlite"
    added = add_idb(source, idb_dir, valid_from=VALID_FROM, kernels=kernels, asw_version=190)
    assert added.copied
    assert added.target == idb_dir / "2.26.35" / "idb.sqlite"
    assert file_sha256(added.target) == file_sha256(source)
    history = json.loads((idb_dir / HISTORY_FILE).read_text())
    assert history == added.history_after
    assert len(history) == len(added.history_before) + 1
    closed, new = history[-2], history[-1]
    coarse, fine = utc_to_scet(Time("2025-01-01T00:00:00", scale="utc"), kernels, warn=False)
    obt = {"coarse": int(coarse), "fine": int(fine)}
    assert closed["version"] == "2.26.38"
    assert closed["validityPeriodOBT"][1] == obt
    assert closed["validityPeriodUTC"][0][1] == "2025-01-01T00:00:00.000+00:00"
    assert new == {
        "version": "2.26.35",
        "aswVersion": 190,
        "validityPeriodUTC": [["2025-01-01T00:00:00.000+00:00", "2136-02-07T08:11:44.778+00:00"]],
        "validityPeriodOBT": [obt, {"coarse": 4294967295, "fine": 0}],
    }
    store = IdbStore(idb_dir)
    assert store.versions_for(np.array([coarse, coarse - 1]), np.array([fine, fine])).tolist() == [
        "2.26.35", "2.26.38" if "2.26.38" in store.available_versions() else "2.26.34"
    ]  # fmt: skip


def test_obt_of_new_entry_is_converted_like_the_existing_entries(idb_dir, kernels):
    # the kit's history pairs UTC and OBT through the flown SCLK kernel: within 2 s up to 2021
    entries = json.loads((idb_dir / HISTORY_FILE).read_text())
    for e in entries[1:6]:
        coarse, _ = utc_to_scet(Time(e["validityPeriodUTC"][0][0][:23]), kernels, warn=False)
        assert abs(int(coarse) - e["validityPeriodOBT"][0]["coarse"]) <= 2, e["version"]


def test_add_keeps_the_same_file_and_refuses_a_different_one(idb_root, idb_dir, kernels):
    same = idb_root / "2.26.34" / "idb.sqlite"
    assert not add_idb(same, idb_dir, valid_from=VALID_FROM, kernels=kernels).copied
    other = idb_root / "2.26.35_alpha" / "idb.sqlite"
    shutil.copytree(idb_root / "2.26.35", idb_dir / "2.26.35")
    before = (idb_dir / HISTORY_FILE).read_text()
    with pytest.raises(IDBVersionError, match=r"already installed .* refusing to overwrite"):
        add_idb(other, idb_dir, valid_from=VALID_FROM, kernels=kernels, version="2.26.35")
    assert (idb_dir / HISTORY_FILE).read_text() == before


def test_valid_from_must_follow_the_last_entry(idb_root, idb_dir, kernels):
    with pytest.raises(IDBVersionError, match=r"does not start after .* 2\.26\.38"):
        add_idb(
            idb_root / "2.26.35" / "idb.sqlite", idb_dir,
            valid_from=datetime(2023, 1, 1, tzinfo=UTC), kernels=kernels,
        )  # fmt: skip


def test_dry_run_writes_nothing(idb_root, idb_dir, kernels):
    before = (idb_dir / HISTORY_FILE).read_text()
    added = add_idb(
        idb_root / "2.26.35" / "idb.sqlite", idb_dir, valid_from=VALID_FROM, kernels=kernels,
        dry_run=True,
    )  # fmt: skip
    assert added.copied
    assert added.new_entry["version"] == "2.26.35"
    assert not added.target.exists()
    assert (idb_dir / HISTORY_FILE).read_text() == before


def test_only_days_whose_idb_changed_change_data_version(idb_root, idb_dir, kernels):
    first, last = date(2020, 1, 1), date(2026, 1, 31)
    before = day_data_versions(IdbStore(idb_dir), first, last)
    assert before[date(2020, 5, 7)].startswith("2.26.33@")  # switch-over day: both versions
    assert "+2.26.34@" in before[date(2020, 5, 7)]
    add_idb(idb_root / "2.26.35" / "idb.sqlite", idb_dir, valid_from=VALID_FROM, kernels=kernels)
    after = day_data_versions(IdbStore(idb_dir), first, last)
    changed = changed_days(before, after)
    start = scet_day(
        int(json.loads((idb_dir / HISTORY_FILE).read_text())[-1]["validityPeriodOBT"][0]["coarse"])
    )
    # the re-installed version's old period (it fell back before) and the new open period
    assert changed == [
        d for d in before
        if date(2021, 6, 23) <= d <= date(2021, 12, 9) or start <= d
    ]  # fmt: skip
    assert after[last].startswith("2.26.35@")
