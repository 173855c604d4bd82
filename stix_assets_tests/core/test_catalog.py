"""Tests of the DuckDB catalog, including real multi-process concurrency on one catalog file."""

import hashlib
import json
import multiprocessing as mp
import traceback
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from stix_assets.core.catalog import Catalog, CatalogBusyError, ProductFileRecord
from stix_assets.core.tmtc import QuarantinedPacket, TMFile, decode_tm_file

_SPAWN = mp.get_context(
    "spawn"
)  # a fresh interpreter per worker, as Dagster's multiprocess executor


def _tm(name: str, content: bytes, path: Path = Path("/inbox")) -> TMFile:
    return TMFile(path / name, name, len(content), hashlib.sha256(content).hexdigest(), "TM")


def _product(path: str, written_at: datetime, *, sha: str = "0" * 64, **kw) -> ProductFileRecord:
    return ProductFileRecord(
        Path(path), "LB", "ql_lightcurve", date(2024, 5, 1), 1, sha, written_at, **kw
    )


@pytest.fixture
def cat(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path / "catalog.duckdb")


@pytest.fixture(params=["duckdb", "postgres"])
def any_cat(request, tmp_path: Path) -> Catalog:
    """The catalog on each backend: the DuckDB file, and a PostgreSQL database (same methods)."""
    if request.param == "duckdb":
        return Catalog(tmp_path / "catalog.duckdb")
    return Catalog(request.getfixturevalue("pg_url"), archive_root=tmp_path)


# ---------------------------------------------------------------------------- single process


@pytest.mark.realdata
def test_record_real_tm_file(any_cat: Catalog, testdata: Path):
    # moc_test file: real TM with several packet kinds
    tm, batch, report = decode_tm_file(testdata / "tm" / "PktTmRaw.moc_test-20191127.xml")
    h = batch.headers
    kinds = Counter(
        f"{s}_{t}" for s, t in zip(h["service_type"], h["service_subtype"], strict=True)
    )
    span = (int(h["scet_coarse"].min()), int(h["scet_coarse"].max()))
    days = sorted({date(2000, 1, 1) + timedelta(days=int(c) // 86400) for c in h["scet_coarse"]})
    out = any_cat.record_tm_file(
        tm,
        status="indexed",
        packets_by_kind=kinds,
        scet_span=span,
        n_packets=len(batch),
        quarantined=report.quarantined,
        days_by_product={"hk_maxi": days},
    )
    assert not out.spooled
    row = any_cat.tm_file(tm.name)
    assert row["sha256"] == tm.sha256
    assert row["size"] == tm.path.stat().st_size
    assert row["n_packets"] == len(batch) == sum(row["packets_by_kind"].values())
    assert row["packets_by_kind"] == dict(kinds)
    assert (row["scet_coarse_min"], row["scet_coarse_max"]) == span
    assert row["status"] == "indexed"
    assert row["content_version"] == 1
    assert any_cat.is_known_tm(tm.name, tm.sha256)
    assert any_cat.tm_files_for_day(days[0]) == [tm.name]
    assert any_cat.tm_paths_for_day(days[0], ["hk_maxi"]) == [(tm.name, tm.path)]
    assert len(any_cat.quarantined(tm.name)) == len(report.quarantined)
    if not isinstance(any_cat, Catalog):
        return
    # plain duckdb sees plain tables
    with duckdb.connect(str(any_cat.path), read_only=True) as conn:
        got = conn.execute("SELECT name, n_packets FROM tm_files").fetchall()
        assert got == [(tm.name, len(batch))]
        hk = conn.execute("SELECT packets_by_kind->>'$.3_25' FROM tm_files").fetchone()[0]
        assert hk == (str(kinds["3_25"]) if "3_25" in kinds else None)


def test_same_content_is_known_new_content_is_a_new_version(any_cat: Catalog):
    first, second = _tm("PktTmRaw.a.xml", b"one"), _tm("PktTmRaw.a.xml", b"two")
    assert not any_cat.is_known_tm(first.name, first.sha256)
    any_cat.record_tm_file(first, status="indexed", packets_by_kind={"3_25_2": 4}, n_packets=4)
    assert any_cat.is_known_tm(first.name, first.sha256)
    assert not any_cat.is_known_tm(second.name, second.sha256)

    # the same delivery again: only last_seen moves, the indexed record is kept
    any_cat.record_tm_file(first, status="duplicate")
    row = any_cat.tm_file(first.name)
    assert (row["status"], row["n_packets"], row["n_versions"]) == ("indexed", 4, 1)
    assert row["last_seen"] > row["last_indexed"]

    any_cat.record_tm_file(second, status="incomplete", n_packets=2, error="open sequence")
    row = any_cat.tm_file(first.name)
    assert (row["sha256"], row["content_version"], row["n_versions"]) == (second.sha256, 2, 2)
    assert (row["status"], row["error"]) == ("incomplete", "open sequence")
    history = any_cat.tm_file_versions(first.name)
    assert [v["sha256"] for v in history] == [first.sha256, second.sha256]
    assert history[0]["status"] == "indexed"
    assert row["first_seen"] == history[0]["first_seen"]
    assert any_cat.stats()["tm_file_versions"] == 2


def test_failed_file_is_not_known(any_cat: Catalog):
    tm = _tm("PktTmRaw.bad.xml", b"broken")
    any_cat.record_tm_file(tm, status="failed", error="TMFileError: not a SOC response")
    assert not any_cat.is_known_tm(tm.name, tm.sha256)
    assert any_cat.tm_file(tm.name)["error"].startswith("TMFileError")
    with pytest.raises(ValueError, match="status must be one of"):
        any_cat.record_tm_file(tm, status="done")


def test_tm_days_union_and_product_filter(any_cat: Catalog):
    d1, d2 = date(2024, 5, 1), date(2024, 5, 2)
    any_cat.record_tm_days("PktTmRaw.a.xml", {"ql_lightcurve": [d1, d2], "hk_maxi": [d1]})
    any_cat.record_tm_days("PktTmRaw.b.xml", {"hk_maxi": [d2]})
    any_cat.record_tm_days("PktTmRaw.a.xml", {"ql_lightcurve": [d1]})  # repeat: nothing added
    assert any_cat.tm_files_for_day(d1) == ["PktTmRaw.a.xml"]
    assert any_cat.tm_files_for_day(d2) == ["PktTmRaw.a.xml", "PktTmRaw.b.xml"]
    assert any_cat.tm_files_for_day(d2, products=["hk_maxi"]) == ["PktTmRaw.b.xml"]
    assert any_cat.tm_files_for_day(d2, products=[]) == []
    assert any_cat.tm_files_for_day(date(2024, 5, 3)) == []
    # not recorded as a TM file yet: the name is returned without a path
    assert any_cat.tm_paths_for_day(d1) == [("PktTmRaw.a.xml", None)]
    assert any_cat.stats()["tm_file_days"] == 4


def test_products_newest_write_wins(any_cat: Catalog):
    t0 = datetime(2024, 5, 2, 12, tzinfo=UTC)
    any_cat.record_products([_product("/a/lb.fits", t0, sha="1" * 64, inputs=("x.xml",))])
    any_cat.record_products(
        [_product("/a/lb.fits", t0 + timedelta(hours=1), sha="2" * 64, run_id="r2")]
    )
    any_cat.record_products(
        [_product("/a/lb.fits", t0 - timedelta(hours=1), sha="3" * 64)]
    )  # late replay
    row = any_cat.product_file("/a/lb.fits")
    assert (row["sha256"], row["run_id"], row["data_version"]) == ("2" * 64, "r2", "2" * 64)
    assert row["written_at"] == datetime(2024, 5, 2, 13, tzinfo=UTC).replace(
        tzinfo=None
    )  # naive UTC
    assert row["partition_day"] == date(2024, 5, 1)
    # several records of one path in one call: the newest is kept
    any_cat.record_products(
        [
            _product("/a/l0.fits", t0 + timedelta(minutes=2), sha="5" * 64, inputs=("a", "b")),
            _product("/a/l0.fits", t0 + timedelta(minutes=1), sha="4" * 64),
        ]
    )
    assert any_cat.product_file("/a/l0.fits")["inputs"] == ["a", "b"]
    assert any_cat.stats()["product_files_by_level"] == {"LB": 2}


def test_lb_inputs_and_quarantine_deduplicated(any_cat: Catalog):
    any_cat.record_lb_inputs("/a/lb.fits", ["t2.xml", "t1.xml", "t1.xml"])
    any_cat.record_lb_inputs(Path("/a/lb.fits"), ["t3.xml", "t2.xml"])
    assert any_cat.lb_tm_inputs("/a/lb.fits") == ["t1.xml", "t2.xml", "t3.xml"]

    items = [
        QuarantinedPacket("t1.xml", 5, "invalid hex", packet_id=17),
        QuarantinedPacket("t1.xml", 5, "invalid hex", packet_id=17),
        QuarantinedPacket("t1.xml", 5, "unknown spid", spid=54102),
        QuarantinedPacket("t1.xml", None, "truncated file"),
    ]
    any_cat.record_quarantine(items)
    any_cat.record_quarantine(items[:1])
    rows = any_cat.quarantined("t1.xml")
    assert [(r["packet_index"], r["reason"]) for r in rows] == [
        (None, "truncated file"),
        (5, "invalid hex"),
        (5, "unknown spid"),
    ]
    assert rows[2]["spid"] == 54102
    assert any_cat.quarantined("other.xml") == []
    assert len(any_cat.quarantined()) == 3


def test_many_quarantined_packets_in_one_write(any_cat: Catalog):
    items = [QuarantinedPacket("big.xml", i, "invalid hex") for i in range(2345)]
    any_cat.record_tm_file(_tm("big.xml", b"x"), status="indexed", quarantined=items)
    assert any_cat.stats()["quarantine"] == 2345
    assert any_cat.tm_file("big.xml")["n_quarantined"] == 2345


def test_reading_a_new_catalog_creates_it(tmp_path: Path):
    cat = Catalog(tmp_path / "sub" / "new.duckdb")
    assert cat.tm_file("x") is None
    assert cat.stats()["tm_files"] == 0
    assert cat.path.is_file()


# ---------------------------------------------------------------------------- spool


def test_write_spools_while_this_process_reads(cat: Catalog):
    # an open read-only connection in this process conflicts with a read-write open, like a lock
    cat.record_tm_days("t0.xml", {"hk_maxi": [date(2024, 1, 1)]})
    quick = Catalog(cat.path, lock_timeout_s=0.05)
    with quick.connect_readonly() as conn:
        out = quick.record_lb_inputs("/a/lb.fits", ["t1.xml"])
        assert out.spooled
        assert out.manifest in quick.pending_manifests()
        assert conn.execute("SELECT count(*) FROM lb_inputs").fetchone()[0] == 0
    out = cat.record_lb_inputs("/a/lb.fits", ["t2.xml"])
    assert (out.spooled, out.ingested) == (False, 1)
    assert cat.lb_tm_inputs("/a/lb.fits") == ["t1.xml", "t2.xml"]
    assert cat.pending_manifests() == []


def test_a_read_ingests_the_spool_first(cat: Catalog):
    """A write spooled while the file was busy is seen by the next read, with no write between."""
    cat.record_tm_days("t0.xml", {"hk_maxi": [date(2024, 1, 1)]})
    quick = Catalog(cat.path, lock_timeout_s=0.05)
    with quick.connect_readonly():
        assert quick.record_lb_inputs("/a/lb.fits", ["t1.xml"]).spooled
    assert cat.lb_tm_inputs("/a/lb.fits") == ["t1.xml"]
    assert cat.pending_manifests() == []


def test_late_manifest_does_not_overwrite_newer_data(cat: Catalog, tmp_path: Path):
    tm = _tm("PktTmRaw.c.xml", b"c")
    quick = Catalog(cat.path, lock_timeout_s=0.0)
    with quick.connect_readonly():
        old = quick.record_tm_file(tm, status="failed", error="first try")
    assert old.spooled
    parked = tmp_path / "parked.json"
    old.manifest.rename(parked)  # the spooled write is delayed past a newer direct one
    cat.record_tm_file(tm, status="indexed", n_packets=9)
    parked.rename(old.manifest)
    assert cat.flush_spool() == 1
    row = cat.tm_file(tm.name)
    assert (row["status"], row["n_packets"], row["error"]) == ("indexed", 9, None)
    # first_seen still comes from the older (spooled) record
    assert row["first_seen"] < row["last_indexed"]
    assert cat.flush_spool() == 0


def test_replayed_manifest_is_harmless(cat: Catalog):
    quick = Catalog(cat.path, lock_timeout_s=0.0)
    items = [QuarantinedPacket("q.xml", i, "invalid hex") for i in range(3)]
    with quick.connect_readonly():
        out = quick.record_tm_file(_tm("q.xml", b"q"), status="indexed", quarantined=items)
    text = out.manifest.read_text()
    assert cat.flush_spool() == 1
    out.manifest.write_text(text)  # as if a writer died between commit and delete
    assert cat.flush_spool() == 1
    assert (cat.stats()["tm_file_versions"], cat.stats()["quarantine"]) == (1, 3)


def test_broken_manifest_is_set_aside(cat: Catalog):
    cat.spool_dir.mkdir()
    (cat.spool_dir / "00000000000000000001-1-bad.json").write_text("{not json")
    (cat.spool_dir / "00000000000000000002-1-bad.json").write_text(json.dumps({"format": 99}))
    (cat.spool_dir / "00000000000000000003-1-bad.json").write_text(
        json.dumps({"format": 1, "ops": [{"op": "no_such_op", "at": "2024-01-01T00:00:00"}]})
    )
    out = cat.record_lb_inputs("/a/lb.fits", ["t.xml"])
    assert (out.spooled, out.ingested) == (False, 0)
    assert cat.pending_manifests() == []
    assert len(list((cat.spool_dir / "rejected").glob("*.json"))) == 3
    assert cat.lb_tm_inputs("/a/lb.fits") == ["t.xml"]


# ---------------------------------------------------------------------------- processes


def _hold(path: str, read_only: bool, ready, release) -> None:
    conn = duckdb.connect(path, read_only=read_only)
    ready.set()
    release.wait(60)
    conn.close()


@pytest.mark.parametrize("holder_read_only", [False, True])
def test_writer_spools_while_another_process_holds_the_file(cat: Catalog, holder_read_only):
    cat.record_tm_days("t0.xml", {"hk_maxi": [date(2024, 1, 1)]})  # create the file
    ready, release = _SPAWN.Event(), _SPAWN.Event()
    holder = _SPAWN.Process(target=_hold, args=(str(cat.path), holder_read_only, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        busy = Catalog(cat.path, lock_timeout_s=0.2, read_timeout_s=0.2)
        out = busy.record_tm_file(_tm("held.xml", b"h"), status="indexed", n_packets=3)
        assert out.spooled
        assert out.waited_s > 0
        if not holder_read_only:  # read-only holders share the file with readers
            with pytest.raises(CatalogBusyError, match="locked by another process"):
                busy.tm_file("held.xml")
            with pytest.raises(CatalogBusyError, match="spool not flushed"):
                busy.flush_spool()
    finally:
        release.set()
        holder.join(60)
    assert holder.exitcode == 0
    assert cat.flush_spool() == 1
    assert cat.tm_file("held.xml")["n_packets"] == 3


def _worker(path: str, worker: int, n: int, lock_timeout_s: float, start, results) -> None:
    try:
        cat = Catalog(path, lock_timeout_s=lock_timeout_s, read_timeout_s=60)
        spooled = ingested = 0
        shared = []
        for i in range(n):
            name = f"PktTmRaw.w{worker}-{i}.xml"
            tm = _tm(name, name.encode())
            if i == 0:
                start.wait(60)
            if cat.is_known_tm(name, tm.sha256):  # a reader under contention: never seen yet
                raise AssertionError(f"{name} known before it was recorded")
            out = cat.record_tm_file(
                tm,
                status="indexed",
                packets_by_kind={"21_6_30": i},
                n_packets=i,
                quarantined=[QuarantinedPacket(name, k, "invalid hex") for k in range(3)],
                days_by_product={"ql_lightcurve": [date(2024, 1, 1 + i % 28)]},
            )
            now = datetime.now(UTC)
            shared.append(now.replace(tzinfo=None).isoformat())
            out2 = cat.record_products(
                [
                    _product(f"/lb/w{worker}-{i}.fits", now, inputs=(name,)),
                    _product("/lb/shared.fits", now, sha=f"{worker:032d}{i:032d}"),
                ]
            )
            out3 = cat.record_lb_inputs(f"/lb/w{worker}-{i}.fits", [name, "common.xml"])
            spooled += sum(o.spooled for o in (out, out2, out3))
            ingested += sum(o.ingested for o in (out, out2, out3))
        results.put((worker, "ok", spooled, ingested, shared))
    except Exception:
        results.put((worker, "error", traceback.format_exc(), 0, []))


def test_concurrent_processes_lose_nothing(tmp_path: Path):
    n_workers, n = 6, 8  # 144 writes and 48 reads; a short lock timeout makes many of them spool
    path = tmp_path / "catalog.duckdb"
    start, results = _SPAWN.Event(), _SPAWN.Queue()
    procs = [
        _SPAWN.Process(target=_worker, args=(str(path), w, n, 0.3, start, results))
        for w in range(n_workers)
    ]
    for p in procs:
        p.start()
    start.set()
    got = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    errors = [g for g in got if g[1] != "ok"]
    assert not errors, errors[0][2]
    spooled = sum(g[2] for g in got)
    cat = Catalog(path)
    cat.flush_spool()
    stats = cat.stats()
    assert stats["spool_pending"] == 0
    assert not (cat.spool_dir / "rejected").exists()
    total = n_workers * n
    assert stats["tm_files"] == stats["tm_file_versions"] == total
    assert stats["tm_files_by_status"] == {"indexed": total}
    assert stats["quarantine"] == 3 * total
    assert stats["product_files"] == total + 1
    assert stats["lb_inputs"] == 2 * total
    assert stats["tm_file_days"] == total
    with cat.connect_readonly() as conn:
        n_packets = conn.execute("SELECT sum(n_packets) FROM tm_files").fetchone()[0]
        assert n_packets == n_workers * sum(range(n))
        per_day = dict(
            conn.execute("SELECT scet_day, count(*) FROM tm_file_days GROUP BY ALL").fetchall()
        )
        assert sum(per_day.values()) == total
    # the product every worker wrote holds the newest write, wherever it was spooled
    newest = max(t for g in got for t in g[4])
    assert cat.product_file("/lb/shared.fits")["written_at"] == datetime.fromisoformat(newest)
    print(
        f"concurrent catalog: writes={3 * total} spooled={spooled} ingested={sum(g[3] for g in got)}"
    )
    assert all(p.exitcode == 0 for p in procs)
