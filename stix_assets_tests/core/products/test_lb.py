"""LB writing: merge across TM files, filters, determinism, atomicity and the length check."""

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.core import fits as stix_fits
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products.lb import write_lb
from stix_assets_tests.core.test_ingest import packets_of, set_byte, soc_xml

pytestmark = pytest.mark.realdata

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
HK_FILE = Path("LB/3/25/2/solo_LB_stix-3-25-2_0660096000_V02.fits")


@pytest.fixture(scope="module")
def store(idb_root: Path) -> IdbStore:
    return IdbStore(idb_root)


def _control(path: Path) -> fits.FITS_rec:
    with fits.open(path, checksum=True) as hdul:
        return hdul["CONTROL"].data.copy(), hdul["DATA"].data.copy(), hdul[0].header.copy()


def _keys(control: fits.FITS_rec) -> list[tuple[int, int, int]]:
    return list(
        zip(
            control["scet_coarse"].tolist(),
            control["scet_fine"].tolist(),
            control["sequence_count"].tolist(),
            strict=True,
        )
    )


def test_merge_second_tm_file_without_duplicates(
    testdata: Path, store: IdbStore, tmp_path: Path
) -> None:
    """``PktTmRaw.hk-20201201.xml`` repeats the 9 HK packets of ``PktTmRaw.xml`` and adds one."""
    first = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    second = index_tm_file(testdata / "tm" / "PktTmRaw.hk-20201201.xml", store)
    write_lb(first, tmp_path, created=CREATED, software_version="t")
    results = write_lb(second, tmp_path, created=CREATED, software_version="t")
    (hk,) = results
    assert hk.path == tmp_path / HK_FILE
    assert hk.n_packets == 10
    assert hk.n_new == 1
    assert hk.raw_files == ("PktTmRaw.hk-20201201.xml", "PktTmRaw.xml")
    control, data, header = _control(hk.path)
    keys = _keys(control)
    assert len(set(keys)) == len(keys) == 10
    assert keys == sorted(keys)
    assert control["index"].tolist() == data["control_index"].tolist() == list(range(10))
    assert header["RAW_FILE"] == "PktTmRaw.hk-20201201.xml;PktTmRaw.xml"
    # the new file wins for the 9 overlapping packets
    assert set(control["raw_file"].tolist()) == {"PktTmRaw.hk-20201201.xml"}


def test_writing_both_files_at_once_equals_one_after_the_other(
    testdata: Path, store: IdbStore, tmp_path: Path
) -> None:
    first = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    second = index_tm_file(testdata / "tm" / "PktTmRaw.hk-20201201.xml", store)
    write_lb(first, tmp_path / "a", created=CREATED, software_version="t")
    write_lb(second, tmp_path / "a", created=CREATED, software_version="t")
    write_lb([first, second], tmp_path / "b", created=CREATED, software_version="t")
    assert (tmp_path / "a" / HK_FILE).read_bytes() == (tmp_path / "b" / HK_FILE).read_bytes()


def test_new_packet_wins(testdata: Path, store: IdbStore, tmp_path: Path) -> None:
    xml = (testdata / "tm" / "PktTmRaw.xml").read_text()
    packets = packets_of(xml)
    hk = next(i for i, p in enumerate(packets) if p[14:16] == "03")
    changed = set_byte(packets[hk], 40, int(packets[hk][80:82], 16) ^ 0xFF)
    (tmp_path / "PktTmRaw.new.xml").write_text(soc_xml([changed], ids=[777]))
    write_lb(
        index_tm_file(testdata / "tm" / "PktTmRaw.xml", store),
        tmp_path,
        created=CREATED,
        software_version="t",
    )
    (res,) = write_lb(
        index_tm_file(tmp_path / "PktTmRaw.new.xml", store),
        tmp_path,
        created=CREATED,
        software_version="t",
    )
    assert res.n_packets == 9
    assert res.n_new == 0
    control, data, _ = _control(res.path)
    row = control["packet"].tolist().index(777)
    assert data["data"][row] == changed.lower()
    assert control["raw_file"][row] == "PktTmRaw.new.xml"


def test_same_inputs_give_identical_bytes(testdata: Path, store: IdbStore, tmp_path: Path) -> None:
    index = index_tm_file(
        testdata / "reference" / "stixcore" / "input" / "solo_hexpackets_PktTmRaw.xml", store
    )
    a = write_lb(index, tmp_path / "a", created=CREATED, software_version="t")
    b = write_lb(index, tmp_path / "b", created=CREATED, software_version="t")
    assert [r.sha256 for r in a] == [r.sha256 for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert ra.path.read_bytes() == rb.path.read_bytes()


def test_filters_by_product_and_scet_day(testdata: Path, store: IdbStore, tmp_path: Path) -> None:
    index = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    only_hk = write_lb(
        index, tmp_path / "a", created=CREATED, software_version="t", products={"hk_maxi"}
    )
    assert [r.product_key for r in only_hk] == ["hk_maxi"]
    by_day = write_lb(
        index, tmp_path / "b", created=CREATED, software_version="t", scet_days={date(2020, 11, 22)}
    )
    assert [(r.product_key, r.scet_day) for r in by_day] == [("ql_lightcurve", date(2020, 11, 22))]
    bsd = write_lb(
        index, tmp_path / "c", created=CREATED, software_version="t", products={"xray_cpd"}
    )
    assert [(r.request_id, r.scet_day) for r in bsd] == [((51759, 1267045904), None)]


def test_time_not_synchronised_packets(testdata: Path, store: IdbStore, tmp_path: Path) -> None:
    """Masked coarse time in the name and in scet_coarse; the raw hex keeps the bit."""
    index = index_tm_file(
        testdata / "reference" / "stixcore" / "input" / "solo_hexpackets_PktTmRaw.xml", store
    )
    results = write_lb(
        index,
        tmp_path,
        created=CREATED,
        software_version="t",
        products={"events"},
        scet_days={date(2018, 11, 25)},
    )
    (res,) = results
    assert res.path.name == "solo_LB_stix-5-4-54304_0596419200_V02.fits"
    control, data, header = _control(res.path)
    assert not control["time_sync"][0]
    assert control["scet_coarse"][0] == 2743926182 - (1 << 31)
    assert int(data["data"][0][20:28], 16) == 2743926182  # bytes 10..13: the raw coarse time
    assert header["OBT_BEG"] == f"{2743926182 - (1 << 31):010d}:41484"


def test_existing_file_with_bad_length_raises(
    testdata: Path, store: IdbStore, tmp_path: Path
) -> None:
    index = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    write_lb(index, tmp_path, created=CREATED, software_version="t", products={"hk_maxi"})
    path = tmp_path / HK_FILE
    with fits.open(path, mode="update") as hdul:
        hdul["CONTROL"].data["data_length"][3] += 1
    before = path.read_bytes()
    with pytest.raises(ProductBuildError, match="packet 3 has 109 bytes but data_length"):
        write_lb(index, tmp_path, created=CREATED, software_version="t", products={"hk_maxi"})
    assert path.read_bytes() == before


def test_crash_mid_write_keeps_old_file(
    testdata: Path, store: IdbStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    write_lb(first, tmp_path, created=CREATED, software_version="t")
    before = (tmp_path / HK_FILE).read_bytes()

    def crash(raw: bytearray) -> None:
        raise OSError("killed (simulated)")

    monkeypatch.setattr(stix_fits, "_fill_checksums", crash)
    second = index_tm_file(testdata / "tm" / "PktTmRaw.hk-20201201.xml", store)
    with pytest.raises(OSError, match="simulated"):
        write_lb(second, tmp_path, created=CREATED, software_version="t")
    assert (tmp_path / HK_FILE).read_bytes() == before
    assert sorted(p.name for p in (tmp_path / HK_FILE).parent.iterdir()) == [HK_FILE.name]


def test_naive_creation_time_is_refused(testdata: Path, store: IdbStore, tmp_path: Path) -> None:
    index = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    with pytest.raises(ValueError, match="timezone-aware"):
        write_lb(index, tmp_path, created=datetime(2025, 1, 1), software_version="t")  # noqa: DTZ001


def test_unknown_kind_goes_to_other(testdata: Path, store: IdbStore, tmp_path: Path) -> None:
    packets = packets_of((testdata / "tm" / "PktTmRaw.xml").read_text())
    ql = next(i for i, p in enumerate(packets) if p[14:18] == "1506" and p[32:34] == "1e")
    (tmp_path / "PktTmRaw.x.xml").write_text(soc_xml([set_byte(packets[ql], 16, 99)]))
    (res,) = write_lb(
        index_tm_file(tmp_path / "PktTmRaw.x.xml", store),
        tmp_path / "out",
        created=CREATED,
        software_version="t",
    )
    assert res.product_key == "other"
    assert res.path.relative_to(tmp_path / "out").parts[:4] == ("LB", "21", "6", "99")
    assert np.asarray(_control(res.path)[0]["ssid"]).tolist() == [99]
