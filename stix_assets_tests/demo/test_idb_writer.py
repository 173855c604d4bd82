import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.idb import IdbStore
from stix_assets.core.idb.layout import compile_layout
from stix_assets.demo import DEMO_IDB_VERSION, write_demo_idb
from stix_assets.demo.idb_subset import SCHEMA

DEMO_SPIDS = (54101, 54102, 54115, 54118, 54119, 54120, 54121, 54122, 54143)


def test_store_reads_demo_idb(demo_idb: Path) -> None:
    store = IdbStore(demo_idb)
    assert store.available_versions() == [DEMO_IDB_VERSION]
    idb = store.get(DEMO_IDB_VERSION)
    assert idb.pic()[(21, 6)] == (16, 8)
    assert idb.pic()[(3, 25)] == (16, 8)
    assert idb.packet_type(21, 6, 30).spid == 54118
    assert idb.packet_type(3, 25, 2).spid == 54102
    for spid in DEMO_SPIDS:
        assert compile_layout(idb, spid).names()
    # the demo history maps all on-board time to the demo version
    used = store.versions_for(np.array([0, 769000000, 2**31 - 1]), np.zeros(3, np.int64))
    assert set(used.tolist()) == {DEMO_IDB_VERSION}
    assert store.resolutions_for(np.array([769000000]), np.array([0]))[0].reason == "history"


def test_demo_idb_is_deterministic(tmp_path: Path) -> None:
    a = write_demo_idb(tmp_path / "a" / "idb.sqlite")
    b = write_demo_idb(tmp_path / "b" / "idb.sqlite")
    write_demo_idb(a)  # overwrite in place
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]
    assert digest[0] == digest[1]


def _rows(con: sqlite3.Connection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=repr)


@pytest.mark.realdata
def test_subset_matches_kit_idb(demo_idb: Path, idb_root: Path) -> None:
    """The literal subset is exactly the 2.26.34 rows of the demo packet kinds (no drift)."""
    kit = sqlite3.connect(idb_root / "2.26.34" / "idb.sqlite")
    demo = sqlite3.connect(demo_idb / DEMO_IDB_VERSION / "idb.sqlite")
    spids = ",".join(map(str, DEMO_SPIDS))
    names = (
        "(select PLF_NAME from PLF where PLF_SPID in (54101, 54102) union "
        f"select VPD_NAME from VPD where VPD_TPSD in ({spids}))"
    )
    queries = [
        f"select * from PID where PID_SPID in ({spids})",
        "select * from PLF where PLF_SPID in (54101, 54102)",
        f"select * from VPD where VPD_TPSD in ({spids})",
        f"select * from PCF where PCF_NAME in {names}",
        "select * from PIC",
        "select * from MCF",
        "select * from tblConfigS2KParameterTypes",
        "select version from IDB",
    ]
    for sql in queries:
        assert _rows(demo, sql) == _rows(kit, sql), sql
    for table, columns in SCHEMA.items():
        kit_cols = [r[1] for r in kit.execute(f"pragma table_info(`{table}`)")]
        assert kit_cols == [c for c, _ in columns], table
