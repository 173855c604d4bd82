import datetime as dt
from pathlib import Path

import pytest

from stix_assets.core.catalog import Catalog, ProductFileRecord
from stix_assets.core.errors import PacketDecodeError, StixError, TMFileError
from stix_assets.core.idb import IdbStore
from stix_assets.core.process import clean_archive, collect_inputs, process_tm_files
from stix_assets.core.products import lb

CREATED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def corrupt_copy(src: Path, dst: Path) -> Path:
    """Copy a SOC XML file and break the hex of its second packet (-> quarantined)."""
    text = src.read_text()
    first = text.index("<Packet>")
    second = text.index("<Packet>", first + 1) + len("<Packet>")
    dst.write_text(text[:second] + "ZZ" + text[second:])
    return dst


# --- input selection (no kit needed) ---


def test_collect_inputs_scans_tm_and_tc_sorted_by_name(tmp_path):
    b = _touch(tmp_path / "b.PktTmRaw.xml")
    a = _touch(tmp_path / "a.PktTmRaw.xml")
    tc = _touch(tmp_path / "c.PktTcReport.xml")
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / "other.xml")
    assert collect_inputs(tm_dir=tmp_path) == [a, b, tc]


def test_collect_inputs_filter_restricts(tmp_path):
    _touch(tmp_path / "TM.2021.016.PktTmRaw.xml")
    keep = _touch(tmp_path / "TM.2021.017.PktTmRaw.xml")
    assert collect_inputs(tm_dir=tmp_path, name_filter="*2021.017*") == [keep]


def test_collect_inputs_list_resolves_relative_names_and_drops_duplicates(tmp_path):
    tm_dir = tmp_path / "tm"
    a = _touch(tm_dir / "a.PktTmRaw.xml")
    b = _touch(tmp_path / "elsewhere" / "b.PktTmRaw.xml")
    listing = _touch(tmp_path / "list.txt", f"a.PktTmRaw.xml\n# a comment\n\n{b}\na.PktTmRaw.xml\n")
    assert collect_inputs(tm_dir=tm_dir, input_list=listing) == [a, b]
    # without --tm-dir, relative names are relative to the list file
    assert collect_inputs(input_list=listing) == [tmp_path / "a.PktTmRaw.xml", b]


def test_collect_inputs_explicit_files_keep_order(tmp_path):
    a = _touch(tmp_path / "z.PktTmRaw.xml")
    b = _touch(tmp_path / "a.PktTmRaw.xml")
    assert collect_inputs(tm_files=[a, b]) == [a, b]


# --- clean ---


def test_clean_archive_removes_only_level_folders(tmp_path):
    lb_file = _touch(tmp_path / "LB" / "21" / "6" / "30" / "x.fits")
    _touch(tmp_path / "L1" / "2021" / "y.fits")
    catalog = Catalog(tmp_path / "stix_catalog.duckdb")
    catalog.record_products(
        [
            ProductFileRecord(
                path=lb_file, level="LB", product="ql_lightcurve", partition_day=None,
                version=2, sha256="0" * 64, written_at=CREATED,
            )
        ]
    )  # fmt: skip
    foreign = _touch(tmp_path / "mine" / "keep.txt")
    removed = clean_archive(tmp_path)
    assert sorted(p.name for p in removed) == ["L1", "LB"]
    assert not (tmp_path / "LB").exists()
    assert catalog.path.exists()  # the catalog (and its publish history) stays ...
    assert catalog.product_file(lb_file) is None  # ... but forgets the files removed
    assert foreign.exists()


def test_clean_archive_refuses_symlinked_level_folder(tmp_path):
    target = tmp_path / "real"
    data = _touch(target / "x.fits")
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "LB").symlink_to(target)
    with pytest.raises(StixError, match="not a plain directory"):
        clean_archive(archive)
    assert data.exists()


def test_unknown_end_level_raises(tmp_path):
    with pytest.raises(ValueError, match="not implemented"):
        process_tm_files(
            [], tmp_path, store=None, end_level="L3", created=CREATED, software_version="test"
        )


# --- real data ---


@pytest.fixture
def store(idb_root) -> IdbStore:
    return IdbStore(idb_root)


@pytest.fixture
def inputs(reference_root) -> list[Path]:
    return sorted((reference_root / "input").glob("*.xml"))


@pytest.mark.realdata
def test_process_reference_inputs_writes_each_lb_day_once(tmp_path, store, inputs, monkeypatch):
    calls = []
    real_write_lb = lb.write_lb

    def spy(indexes, archive, **kwargs):
        calls.append((sorted(kwargs["scet_days"]), sorted(ix.tm.name for ix in indexes)))
        return real_write_lb(indexes, archive, **kwargs)

    monkeypatch.setattr(lb, "write_lb", spy)
    seen = []
    summary = process_tm_files(
        inputs,
        tmp_path,
        store,
        end_level="LB",
        created=CREATED,
        software_version="test",
        on_file=lambda i, n, outcome: seen.append((i, n, outcome.name)),
    )
    # one write_lb call per SCET day, with every TM file that touched that day
    days = sorted(d for ds, _ in calls for d in ds)
    assert len(days) == len(set(days)) == len(calls)
    catalog = Catalog(tmp_path / "stix_catalog.duckdb")
    for (day,), names in calls:
        assert names == catalog.tm_files_for_day(day)
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)]
    data = summary.as_dict()
    assert data["files_in"] == {"total": 3, "tm": 3, "tc": 0, "failed": 0}
    # 12 (PktTmRaw.xml) + 45 (hexpackets) + 16 (moc_test) packets, none quarantined
    assert data["packets"] == 73
    assert data["packets_by_kind"]["3_25_2"] == 10
    assert data["quarantined"] == 0
    assert summary.lb_files
    for name in summary.lb_files:
        path = Path(name)
        assert path.is_file()
        assert path.relative_to(tmp_path).parts[0] == "LB"
    assert len(set(summary.lb_files)) == len(summary.lb_files)


@pytest.mark.realdata
def test_end_level_tm_indexes_without_writing(tmp_path, store, inputs):
    summary = process_tm_files(
        inputs, tmp_path, store, end_level="TM", created=CREATED, software_version="test"
    )
    assert summary.n_packets == 73
    assert summary.lb_files == ()
    assert not (tmp_path / "LB").exists()


@pytest.mark.realdata
def test_tc_report_is_recorded_and_skipped(tmp_path, store, testdata):
    summary = process_tm_files(
        [testdata / "tm" / "PktTcReport.xml"],
        tmp_path,
        store,
        created=CREATED,
        software_version="test",
    )
    assert summary.as_dict()["files_in"] == {"total": 1, "tm": 0, "tc": 1, "failed": 0}
    assert summary.lb_files == ()


@pytest.mark.realdata
def test_continue_on_error_quarantines_and_reports_unreadable_files(tmp_path, store, inputs):
    bad = corrupt_copy(inputs[1], tmp_path / "corrupt.PktTmRaw.xml")
    empty = _touch(tmp_path / "empty.PktTmRaw.xml", "")
    summary = process_tm_files(
        [bad, empty],
        tmp_path / "archive",
        store,
        stop_on_error=False,
        created=CREATED,
        software_version="test",
    )
    data = summary.as_dict()
    assert data["files_in"]["failed"] == 1
    assert data["quarantined"] == 1
    assert data["quarantined_by_reason"] == {"invalid hex": 1}
    assert data["quarantine_examples"][0]["file"] == "corrupt.PktTmRaw.xml"
    assert len(data["errors"]) == 1
    assert "empty.PktTmRaw.xml" in data["errors"][0]
    assert data["lb_files_written"] > 0


@pytest.mark.realdata
def test_stop_on_error_raises_before_writing(tmp_path, store, inputs):
    bad = corrupt_copy(inputs[1], tmp_path / "corrupt.PktTmRaw.xml")
    archive = tmp_path / "archive"
    with pytest.raises(PacketDecodeError, match="invalid hex"):
        process_tm_files(
            [inputs[0], bad],
            archive,
            store,
            stop_on_error=True,
            created=CREATED,
            software_version="test",
        )
    assert not (archive / "LB").exists()
    empty = _touch(tmp_path / "empty.PktTmRaw.xml", "")
    with pytest.raises(TMFileError, match="empty file"):
        process_tm_files(
            [empty], archive, store, stop_on_error=True, created=CREATED, software_version="test"
        )
    missing = tmp_path / "missing.PktTmRaw.xml"
    with pytest.raises(TMFileError, match="cannot read"):
        process_tm_files(
            [missing], archive, store, stop_on_error=True, created=CREATED, software_version="test"
        )


def test_levels_need_their_reference_data(tmp_path):
    with pytest.raises(ValueError, match="STIX-CONF"):
        process_tm_files(
            [], tmp_path, store=None, end_level="L0", created=CREATED, software_version="test"
        )
    with pytest.raises(ValueError, match="SPICE kernel folder"):
        process_tm_files(
            [], tmp_path, store=None, end_level="L1", created=CREATED, software_version="test",
            conf_dir=tmp_path,
        )  # fmt: skip
