"""The catalog on a real PostgreSQL server: same tables, archive binding, concurrent writers."""

import hashlib
import multiprocessing as mp
import traceback
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from stix_assets.core.catalog import (
    Catalog,
    PostgresCatalog,
    ProductFileRecord,
    is_server_url,
    redact_url,
)
from stix_assets.core.catalog.location import ARCHIVE_ID_FILE, archive_identity
from stix_assets.core.catalog.pg import numbered_parameters
from stix_assets.core.errors import CatalogArchiveMismatchError, CatalogUnavailableError
from stix_assets.core.tmtc import QuarantinedPacket, TMFile

_SPAWN = mp.get_context("spawn")  # fresh interpreters, as Dagster's multiprocess executor


def _tm(name: str, content: bytes) -> TMFile:
    return TMFile(
        Path("/inbox") / name, name, len(content), hashlib.sha256(content).hexdigest(), "TM"
    )


def test_urls_are_told_from_paths_and_passwords_hidden():
    assert is_server_url("postgresql://u:p@h/db")
    assert is_server_url("postgres://h/db")
    assert not is_server_url("/a/stix_catalog.duckdb")
    assert not is_server_url(Path("/a"))
    assert redact_url("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact_url("postgresql://h/db") == "postgresql://h/db"


def test_question_marks_become_numbered_outside_quotes():
    sql = "SELECT '?' AS q, \"a?\" FROM t WHERE x = ? AND y = ANY(?::VARCHAR[]) -- ?\nAND z = ?"
    assert numbered_parameters(sql) == (
        "SELECT '?' AS q, \"a?\" FROM t WHERE x = $1 AND y = ANY($2::VARCHAR[]) -- ?\nAND z = $3"
    )


def test_archive_identity_is_made_once(tmp_path: Path):
    first = archive_identity(tmp_path / "a")
    assert (
        first
        == archive_identity(tmp_path / "a")
        == (tmp_path / "a" / ARCHIVE_ID_FILE).read_text().strip()
    )
    assert archive_identity(tmp_path / "b") != first


def test_url_opens_a_postgres_catalog(pg_url: str, tmp_path: Path):
    cat = Catalog(pg_url, archive_root=tmp_path)
    assert isinstance(cat, PostgresCatalog)
    assert cat.archive_root == tmp_path
    with pytest.raises(ValueError, match="needs archive_root"):
        Catalog(pg_url)


def test_tables_and_columns_match_duckdb(pg_url: str, tmp_path: Path):
    duck = Catalog(tmp_path / "stix_catalog.duckdb")
    pg = Catalog(pg_url, archive_root=tmp_path)
    sql = (
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    # the first-use tables exist in DuckDB after their first use
    from stix_assets.core.catalog import record_kernel_zip, write_publish_history

    for cat in (duck, pg):
        write_publish_history(cat, [])
        record_kernel_zip(cat, name="z.zip", size=1, mtime_ns=2, sha256="s", files=["a"])
    with duck.connect_readonly() as conn:
        expected = conn.execute(sql).fetchall()
    with pg.connect_readonly() as conn:
        got = conn.execute(sql).fetchall()
    assert {t for t, _ in expected} >= {
        "tm_files",
        "product_files",
        "publish_history",
        "kernel_zips",
    }
    assert got == expected


def test_second_archive_is_refused(pg_url: str, tmp_path: Path):
    Catalog(pg_url, archive_root=tmp_path / "one").record_tm_days(
        "t.xml", {"hk": [date(2024, 1, 1)]}
    )
    # the same archive mounted elsewhere (same identity file) is the same archive
    (tmp_path / "mount").mkdir()
    (tmp_path / "mount" / ARCHIVE_ID_FILE).write_text(
        (tmp_path / "one" / ARCHIVE_ID_FILE).read_text()
    )
    assert Catalog(pg_url, archive_root=tmp_path / "mount").tm_files_for_day(date(2024, 1, 1)) == [
        "t.xml"
    ]
    other = Catalog(pg_url, archive_root=tmp_path / "two")
    with pytest.raises(CatalogArchiveMismatchError, match="give this archive its own database"):
        other.check()
    with pytest.raises(CatalogArchiveMismatchError):
        other.record_tm_days("u.xml", {"hk": [date(2024, 1, 1)]})


def test_unreachable_server_is_named_without_password(pg_server, tmp_path: Path):
    url = f"postgresql://stix:secret@127.0.0.1:{pg_server.port}/no_such_db"
    with pytest.raises(CatalogUnavailableError, match="no_such_db") as info:
        Catalog(url, archive_root=tmp_path).check()
    assert "secret" not in str(info.value)
    assert "***" in info.value.path


# ---------------------------------------------------------------------------- processes


def _pg_worker(url: str, archive: str, worker: int, n: int, start, results) -> None:
    try:
        cat = Catalog(url, archive_root=archive)
        shared = []
        for i in range(n):
            name = f"PktTmRaw.w{worker}-{i}.xml"
            tm = _tm(name, name.encode())
            if i == 0:
                start.wait(60)
            if cat.is_known_tm(name, tm.sha256):
                raise AssertionError(f"{name} known before it was recorded")
            out = cat.record_tm_file(
                tm,
                status="indexed",
                packets_by_kind={"21_6_30": i},
                n_packets=i,
                quarantined=[QuarantinedPacket(name, k, "invalid hex") for k in range(3)],
                days_by_product={"ql_lightcurve": [date(2024, 1, 1 + i % 28)]},
            )
            assert not out.spooled
            # one TM name every worker delivers with its own content: content versions pile up
            common = _tm("PktTmRaw.common.xml", f"{worker}-{i}".encode())
            cat.record_tm_file(common, status="indexed", n_packets=1)
            now = datetime.now(UTC)
            shared.append(now.replace(tzinfo=None).isoformat())
            day = date(2024, 5, 1)
            cat.record_products(
                [
                    ProductFileRecord(Path(archive) / f"LB/w{worker}-{i}.fits", "LB", "ql", day, 1,
                                      "0" * 64, now, inputs=(name,)),
                    ProductFileRecord(Path(archive) / "LB/shared.fits", "LB", "ql", day, 1,
                                      f"{worker:032d}{i:032d}", now),
                ]
            )  # fmt: skip
            cat.record_lb_inputs(Path(archive) / f"LB/w{worker}-{i}.fits", [name, "common.xml"])
        results.put((worker, "ok", shared))
    except Exception:
        results.put((worker, "error", traceback.format_exc()))


def test_concurrent_processes_lose_nothing_on_postgres(pg_url: str, tmp_path: Path):
    n_workers, n = 6, 8  # 192 serializable writes at once, nothing spooled, nothing lost
    archive = tmp_path / "archive"
    Catalog(pg_url, archive_root=archive).check()  # tables made once, before the race
    start, results = _SPAWN.Event(), _SPAWN.Queue()
    procs = [
        _SPAWN.Process(target=_pg_worker, args=(pg_url, str(archive), w, n, start, results))
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
    cat = Catalog(pg_url, archive_root=archive)
    stats = cat.stats()
    total = n_workers * n
    assert stats["tm_files"] == total + 1
    assert stats["tm_file_versions"] == 2 * total
    assert stats["quarantine"] == 3 * total
    assert stats["product_files"] == total + 1
    assert stats["lb_inputs"] == 2 * total
    assert stats["tm_file_days"] == total
    assert stats["spool_pending"] == 0
    common = cat.tm_file("PktTmRaw.common.xml")
    # the derived row counts every content version, whichever writer refreshed it last
    assert (common["n_versions"], common["content_version"]) == (total, total)
    newest = max(t for g in got for t in g[2])
    assert cat.product_file(archive / "LB/shared.fits")["written_at"] == datetime.fromisoformat(
        newest
    )
    assert cat.product_file(archive / "LB/w0-0.fits")["path"] == archive / "LB/w0-0.fits"
    with cat.connect_readonly() as conn:
        stored = conn.execute("SELECT min(path) FROM product_files").fetchone()[0]
    assert stored == "LB/shared.fits"  # relative to the archive root
    assert all(p.exitcode == 0 for p in procs)


# ---------------------------------------------------------------------------- same answers


def _fill(cat: Catalog, archive: Path) -> None:
    """The same writes on either backend: daily and BSD files, TM days, a kernel zip."""
    t0 = datetime(2024, 5, 2, 12, tzinfo=UTC)
    d1, d2 = date(2024, 5, 1), date(2024, 5, 2)
    cat.record_tm_file(_tm("PktTmRaw.a.xml", b"a"), status="indexed", n_packets=5,
                       packets_by_kind={"21_6_24": 5}, scet_span=(10, 20),
                       days_by_product={"xray_spec": [d1], "ql_lightcurve": [d1, d2]})  # fmt: skip
    cat.record_tm_file(_tm("PktTmRaw.b.xml", b"b"), status="failed", error="bad")
    lb_bsd = archive / "LB/21/6/24/solo_LB_stix-21-6-24_0000000123.fits"
    cat.record_lb_results(
        [
            ProductFileRecord(lb_bsd, "LB", "xray_spec", None, 1, "1" * 64, t0, request_id=123,
                              inputs=("PktTmRaw.a.xml",)),
            ProductFileRecord(archive / "LB/ql/d1.fits", "LB", "ql_lightcurve", d1, 1, "2" * 64,
                              t0, inputs=("PktTmRaw.a.xml",)),
        ],
        {lb_bsd: ["PktTmRaw.a.xml"]},
    )  # fmt: skip
    cat.record_products(
        [
            ProductFileRecord(archive / "L0/bsd.fits", "L0", "xray_spec", None, 2, "3" * 64, t0,
                              inputs=(lb_bsd.name,), request_id=123),
            ProductFileRecord(archive / "L1/d1.fits", "L1", "ql_lightcurve", d1, 2, "4" * 64, t0,
                              needs_reprocessing=True),
            ProductFileRecord(archive / "L1/d2.fits", "L1", "hk_maxi", d2, 2, "5" * 64, t0,
                              needs_reprocessing=True),
        ]
    )  # fmt: skip
    cat.record_quarantine([QuarantinedPacket("PktTmRaw.a.xml", 3, "unknown APID: 7", spid=1)])


def _answers(cat: Catalog, archive: Path) -> dict:
    d1 = date(2024, 5, 1)
    with cat.connect_readonly() as conn:
        rows = conn.execute(
            "SELECT path, level, partition_day, inputs, written_at, needs_reprocessing"
            " FROM product_files ORDER BY path"
        ).fetchall()
        tm = conn.execute("SELECT * FROM tm_files ORDER BY name").fetchall()
    tm = [tuple(v for v in r if not isinstance(v, datetime)) for r in tm]  # times differ
    return {
        "rows": [(*tuple(r[:4]), r[5]) for r in rows],
        "tm": tm,
        "lb_day": cat.partition_files("LB", d1),
        "l0_day": cat.partition_files("L0", d1, ["xray_spec"]),
        "l0_none": cat.partition_files("L0", d1, []),
        "by_day": cat.partition_files_by_day("L1", [d1, date(2024, 5, 2)]),
        "requests": cat.request_files("L0", ["xray_spec"]),
        "reprocess": cat.days_needing_reprocessing("L1"),
        "touched": cat.touched_products(d1),
        "tm_paths": cat.tm_paths_for_day(d1, ["xray_spec"]),
        "lb_inputs": cat.lb_tm_inputs(archive / "LB/21/6/24/solo_LB_stix-21-6-24_0000000123.fits"),
        "quarantine": [{k: v for k, v in r.items() if k != "recorded_at"} for r in cat.quarantined()],
        "stats": cat.stats(),
        "tm_row": {k: v for k, v in (cat.tm_file("PktTmRaw.a.xml") or {}).items() if "seen" not in k
                   and k != "last_indexed"},
    }  # fmt: skip


def test_both_backends_answer_the_same(pg_url: str, tmp_path: Path):
    archive = tmp_path / "archive"
    duck = Catalog(archive / "stix_catalog.duckdb")
    pg = Catalog(pg_url, archive_root=archive)
    for cat in (duck, pg):
        _fill(cat, archive)
    expected, got = _answers(duck, archive), _answers(pg, archive)
    assert expected["l0_day"] == {"xray_spec": [archive / "L0/bsd.fits"]}  # BSD via its LB input
    assert expected["reprocess"] == {
        date(2024, 5, 1): ["ql_lightcurve"],
        date(2024, 5, 2): ["hk_maxi"],
    }
    assert expected["rows"][0][0] == "L0/bsd.fits"  # relative to the archive root
    assert got == expected
    for cat in (duck, pg):  # --clean forgets the levels and the TM files on both
        cat.forget_archive(["LB", "L0"])
    assert _answers(pg, archive) == _answers(duck, archive)
    assert pg.stats()["product_files_by_level"] == {"L1": 2}


def test_kernel_zips_and_publish_history_on_postgres(pg_url: str, tmp_path: Path):
    from stix_assets.core.catalog import (
        extracted_kernel_zips,
        read_publish_history,
        record_kernel_zip,
        write_publish_history,
    )

    cat = Catalog(pg_url, archive_root=tmp_path)
    assert extracted_kernel_zips(cat) == {}
    assert read_publish_history(cat) == []
    record_kernel_zip(cat, name="k.zip", size=1, mtime_ns=2, sha256="s", files=["a", "b"])
    record_kernel_zip(cat, name="k.zip", size=3, mtime_ns=4, sha256="t", files=["c"])
    assert extracted_kernel_zips(cat) == {"k.zip": (3, 4)}
    row = {
        "id": "u1", "name": "solo_L1_x_V02.fits", "path": "/a", "version": 2, "p_date": 1.5,
        "m_date": 0.25, "esaname": "solo_L1_x", "modified_esaname": None, "result": 10,
        "state": "pending", "reason": None, "source_name": "solo_L1_x_V02.fits", "source_size": 9,
        "identity": "x", "delivered_name": None, "target": "h:/t", "data_version": "d",
        "file_sha256": None, "supersedes": None, "inputs": ["a.fits"], "product_day": "2024-05-01",
        "run_id": None,
    }  # fmt: skip
    write_publish_history(cat, [{"op": "publish_upsert", "rows": [row]}])
    write_publish_history(cat, [{"op": "publish_upsert", "rows": [{**row, "state": "done"}]}])
    (got,) = read_publish_history(cat)
    assert (got["state"], got["p_date"], got["inputs"], got["product_day"]) == (
        "done",
        1.5,
        ["a.fits"],
        date(2024, 5, 1),
    )
    write_publish_history(cat, [{"op": "publish_delete", "ids": ["u1"]}])
    assert read_publish_history(cat) == []


# ---------------------------------------------------------------------------- choosing the catalog


def test_catalog_url_precedence_cli_env_toml(tmp_path: Path, monkeypatch):
    from stix_assets.cli import _catalog_location, build_parser

    toml = tmp_path / "stix.toml"
    toml.write_text('[catalog]\nurl = "postgresql://toml@h/db"\n')
    base = ["process", "--tm", "x.xml", "--archive", str(tmp_path / "a"), "--idb-dir", "i"]
    parse = build_parser(process_only=True).parse_args
    monkeypatch.delenv("STIX_CATALOG_URL", raising=False)
    monkeypatch.delenv("STIX_CONFIG", raising=False)
    assert _catalog_location(parse(base)) == tmp_path / "a" / "stix_catalog.duckdb"  # as always
    assert _catalog_location(parse([*base, "--config", str(toml)])) == "postgresql://toml@h/db"
    monkeypatch.setenv("STIX_CATALOG_URL", "postgresql://env@h/db")
    assert _catalog_location(parse([*base, "--config", str(toml)])) == "postgresql://env@h/db"
    given = parse([*base, "--config", str(toml), "--catalog", "postgresql://cli@h/db"])
    assert _catalog_location(given) == "postgresql://cli@h/db"
    assert _catalog_location(parse([*base, "--catalog", "c.duckdb"])) == Path("c.duckdb")


def test_unreachable_catalog_ends_process_with_one_line(tmp_path: Path, capsys, monkeypatch):
    from stix_assets.cli import main

    monkeypatch.delenv("STIX_CATALOG_URL", raising=False)
    tm = tmp_path / "PktTmRaw.x.xml"
    tm.write_text("<x/>")
    (tmp_path / "idb").mkdir()
    argv = ["process", "--tm", str(tm), "--archive", str(tmp_path / "a"), "--idb-dir",
            str(tmp_path / "idb"), "--catalog", "postgresql://stix:secret@127.0.0.1:1/db"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("stix-assets: error: CatalogUnavailableError: catalog server unavailable")
    assert "secret" not in err
    assert "postgresql://stix:***@127.0.0.1:1/db" in err
