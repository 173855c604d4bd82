import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.errors import IDBVersionError
from stix_assets.core.idb import Idb, IdbStore, PacketType, VersionResolution
from stix_assets_tests.core.idb.builders import pcf, write_idb

PID = [
    (3, 25, 1, 54101, "HK SID 1", -1),
    (3, 25, 2, 54102, "HK SID 2", -1),
    (21, 6, 30, 54118, "QL LC", 54118),
    (1, 1, 0, 54001, "TC ACC SUCCESS", -1),
]


def _history(root: Path, entries: list[tuple[str, int, int]]) -> None:
    data = [
        {
            "version": v,
            "aswVersion": 1,
            "validityPeriodUTC": [],
            "validityPeriodOBT": [{"coarse": a, "fine": 0}, {"coarse": b, "fine": 0}],
        }
        for v, a, b in entries
    ]
    (root / "idbVersionHistory.json").write_text(json.dumps(data))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for v in ("2.26.33", "2.26.34"):
        write_idb(tmp_path / v / "idb.sqlite", version=v, pid=PID)
    write_idb(tmp_path / "2.26.35_alpha" / "idb.sqlite", version="2.26.35", pid=PID)
    write_idb(tmp_path / "2.26.99" / "idb.sqlite", version="2.26.98", pid=PID)
    # non-monotonic, like STIXCore HEAD: 2.26.32 appears twice around 2.26.31
    _history(
        tmp_path,
        [
            ("2.26.32", 0, 100),
            ("2.26.31", 100, 200),
            ("2.26.32", 200, 300),
            ("2.26.33", 300, 400),
            ("2.26.34", 400, 500),
        ],
    )
    return tmp_path


def test_available_versions(root):
    store = IdbStore(root)
    assert store.available_versions() == ["2.26.33", "2.26.34", "2.26.35_alpha", "2.26.99"]


@pytest.mark.parametrize(
    ("coarse", "fine", "expected"),
    [
        (0, 0, "2.26.32"),
        (99, 65534, "2.26.32"),
        (100, 0, "2.26.31"),  # half open: the boundary belongs to the next interval
        (250, 7, "2.26.32"),  # second 2.26.32 interval
        (399, 65535, "2.26.34"),  # fine 65535 == next second in STIXCore's fine/65535 convention
        (499, 100, "2.26.34"),
        (500, 0, None),
    ],
)
def test_history_lookup_half_open(root, coarse, fine, expected):
    assert IdbStore(root).history_version_for(coarse, fine) == expected


def test_versions_for_fallback_rules(root):
    store = IdbStore(root, fallback_version="2.26.34")
    coarse = np.array([50, 150, 350, 450, 600], dtype=np.uint32)
    fine = np.zeros(5, dtype=np.uint16)
    used = store.versions_for(coarse, fine)
    assert used.tolist() == ["2.26.34", "2.26.34", "2.26.33", "2.26.34", "2.26.34"]
    res = store.resolutions_for(coarse, fine)
    assert VersionResolution("2.26.31", "2.26.34", "not installed") in res
    assert VersionResolution("2.26.32", "2.26.34", "not installed") in res
    assert VersionResolution("2.26.33", "2.26.33", "history") in res
    assert VersionResolution(None, "2.26.34", "outside history") in res


def test_force_label_wins_everywhere(root):
    store = IdbStore(root, force_version="2.26.33")
    used = store.versions_for(np.array([50, 450, 10_000]), np.zeros(3, np.int64))
    assert set(used.tolist()) == {"2.26.33"}
    assert store.get("2.26.34").version == "2.26.33"
    assert {r.reason for r in store.resolutions_for(np.array([50]), np.array([0]))} == {"forced"}


def test_force_path(root, tmp_path_factory):
    other = write_idb(tmp_path_factory.mktemp("x") / "idb.sqlite", version="2.26.35", pid=PID)
    store = IdbStore(root, force_version=other)
    assert store.forced_version == "2.26.35"
    idb = store.get("anything")
    assert idb.path == other
    assert idb.version == "2.26.35"


@pytest.mark.parametrize("bad", ["2.26.77", Path("/nonexistent/idb.sqlite")])
def test_invalid_force_raises(root, bad):
    with pytest.raises(IDBVersionError, match="forced IDB version"):
        IdbStore(root, force_version=bad)


def test_missing_fallback_raises(root):
    with pytest.raises(IDBVersionError, match=r"fallback IDB version 2\.26\.36 not installed"):
        IdbStore(root, fallback_version="2.26.36")


def test_label_mismatch_raises(root):
    store = IdbStore(root)
    with pytest.raises(IDBVersionError, match=r"holds version 2\.26\.98, not 2\.26\.99"):
        store.get("2.26.99")


def test_variant_label_accepted_and_cached(root):
    store = IdbStore(root)
    idb = store.get("2.26.35_alpha")
    assert idb.version == "2.26.35_alpha"
    assert store.get("2.26.35_alpha") is idb


def test_not_installed_raises(root):
    with pytest.raises(IDBVersionError, match=r"2\.26\.31 not installed"):
        IdbStore(root).get("2.26.31")


def test_opened_read_only(root):
    # a read-only file opens (uri mode=ro) and nothing is written next to it
    target = root / "2.26.34" / "idb.sqlite"
    target.chmod(0o444)
    target.parent.chmod(0o555)
    try:
        idb = IdbStore(root).get("2.26.34")
        assert isinstance(idb, Idb)
        assert sorted(p.name for p in target.parent.iterdir()) == ["idb.sqlite"]
    finally:
        target.parent.chmod(0o755)
        target.chmod(0o644)


def test_pic_and_packet_type(root):
    idb = IdbStore(root).get("2.26.34")
    assert idb.pic() == {(3, 25): (16, 8), (21, 6): (16, 8)}  # offset -1 rows omitted
    assert idb.packet_type(3, 25, 2) == PacketType(54102, "HK SID 2", -1)
    assert idb.packet_type(21, 6, 30).is_variable
    assert idb.packet_type(1, 1, None) == PacketType(54001, "TC ACC SUCCESS", -1)
    assert idb.packet_type(3, 25, 9) is None
    assert idb.packet_type(99, 1, None) is None


def test_null_text_is_null(tmp_path):
    # STIXCore's 2.26.34 build stores SQL NULL as the text 'NULL'
    path = write_idb(
        tmp_path / "idb.sqlite",
        version="2.26.34",
        pid=[(3, 25, 2, 54102, "HK", -1)],
        pcf_rows=[("NIX00020", "SID", 8, 3, 4, "N", "NULL", "NULL")],
        plf=[("NIX00020", 54102, 16, 0)],
    )
    idb = Idb.open(path, version="2.26.34")
    p = idb.parameter("NIX00020")
    assert p.curtx is None
    assert p.unit is None
    assert p.s2k_type == "U"


def test_missing_required_table(tmp_path):
    path = tmp_path / "idb.sqlite"
    con = sqlite3.connect(path)
    con.execute("create table PID (x int)")
    con.close()
    with pytest.raises(IDBVersionError, match="has no table PIC"):
        Idb.open(path, version="x")


def test_leading_fields_fixed_and_vpd(tmp_path):
    path = write_idb(
        tmp_path / "idb.sqlite",
        version="t",
        pid=[(3, 25, 2, 54102, "HK", -1), (21, 6, 30, 54118, "LC", 54118)],
        pcf_rows=[
            pcf("A", 8),
            pcf("G", 16),
            pcf("D", 12),
            pcf("N", 8),
            pcf("C", 8),
            pcf("X", 8),
        ],
        plf=[("A", 54102, 16, 0), ("G", 54102, 17, 0), ("D", 54102, 17, 4)],
        vpd=[
            (54118, 1, "A", 0, 0),
            (54118, 2, "G", 0, 0),
            (54118, 3, "D", 0, -12),
            (54118, 4, "N", 1, 0),
            (54118, 5, "C", 0, 0),
            (54118, 6, "X", 0, 0),
        ],
    )
    idb = Idb.open(path, version="t")
    assert idb.leading_fields(54102) == {"A": (128, 8), "G": (136, 16), "D": (140, 12)}
    # the counter N is at a fixed place; its group (C) and everything after are not
    assert idb.leading_fields(54118) == {
        "A": (128, 8),
        "G": (136, 16),
        "D": (140, 12),
        "N": (152, 8),
    }


@pytest.mark.realdata
def test_kit_history_and_store(idb_root):
    store = IdbStore(idb_root)
    assert "2.26.34" in store.available_versions()
    assert store.history_version_for(640198039, 0) == "2.26.31"
    assert store.versions_for(np.array([640198039]), np.array([0])).tolist() == ["2.26.34"]
    assert store.history_version_for(643123725, 0) == "2.26.34"
