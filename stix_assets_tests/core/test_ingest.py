"""Indexing TM files: real inputs, and bad inputs cut from them.

Every bad file is built in ``tmp_path`` from the kit's real ``PktTmRaw.xml`` (12 packets: 9 HK
maxi, 2 BSD fragments 21/6/21 and 21/6/22, one QL light-curve packet); each case checks that the
problem names the file and the packet, and that the other packets are still indexed.
"""

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.errors import TMFileError
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file, kind_label
from stix_assets.core.tmtc import decode_hex_file

pytestmark = pytest.mark.realdata

PREFIX_HEX = 152  # 76-byte SOC prefix in front of each packet, as hex characters
_ELEMENT = re.compile(r'<PktRawResponseElement packetID="(\d+)">\s*<Packet>([0-9A-Fa-f]+)</Packet>')


@pytest.fixture(scope="module")
def store(idb_root: Path) -> IdbStore:
    return IdbStore(idb_root)


@pytest.fixture(scope="module")
def tm_xml(testdata: Path) -> str:
    return (testdata / "tm" / "PktTmRaw.xml").read_text()


def soc_xml(packets: list[str], *, ids: list[int] | None = None, prefix: str = "0" * 152) -> str:
    """A SOC TM response holding the given packet hex strings."""
    ids = ids or list(range(1, len(packets) + 1))
    body = "".join(
        f'<PktRawResponseElement packetID="{i}">\n    <Packet>{prefix}{p}</Packet>\n'
        "</PktRawResponseElement>\n"
        for i, p in zip(ids, packets, strict=True)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<ns2:ResponsePart xmlns:ns2="http://edds.egos.esa/model">\n<Response>\n<PktRawResponse>\n'
        f"{body}</PktRawResponse>\n</Response>\n</ns2:ResponsePart>\n"
    )


def packets_of(xml: str) -> list[str]:
    """Packet hex strings (without the SOC prefix) of a SOC XML text."""
    return [m.group(2)[PREFIX_HEX:] for m in _ELEMENT.finditer(xml)]


def set_byte(packet_hex: str, offset: int, value: int) -> str:
    return packet_hex[: 2 * offset] + f"{value:02x}" + packet_hex[2 * offset + 2 :]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_index_real_file(testdata: Path, store: IdbStore) -> None:
    index = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    assert len(index) == 12
    assert index.complete
    assert index.tm.kind == "TM"
    assert index.packets_by_kind == {"3_25_2": 9, "21_6_21": 1, "21_6_22": 1, "21_6_30": 1}
    assert index.days_by_product["hk_maxi"] == [date(2020, 12, 1)]
    assert index.days_by_product["ql_lightcurve"] == [date(2020, 11, 22)]
    assert index.idb_versions == ["2.26.34"]
    assert index.scet_span == (642154618, 660112072)
    bsd = index.request_id[:, 0] >= 0
    assert sorted(map(tuple, index.request_id[bsd].tolist())) == [
        (50884, 87031810),
        (51759, 1267045904),
    ]
    assert (index.request_id[~bsd] == -1).all()
    assert index.known_type.all()
    # 2.26.32 is named by the history for these times but not installed: recorded fallback
    assert any("not installed" in w for w in index.report.warnings)


def test_request_id_of_21_6_24(testdata: Path, store: IdbStore, tmp_path: Path) -> None:
    """Domain doc 1.8: the first packet of 21_6_24.hex has request id (51667, 1266516544)."""
    batch, _ = decode_hex_file(testdata / "tm" / "hex" / "21_6_24.hex")
    path = _write(tmp_path, "PktTmRaw.bsd.xml", soc_xml([batch.hex(0)]))
    index = index_tm_file(path, store)
    assert index.packets_by_kind == {"21_6_24": 1}
    assert index.request_id.tolist() == [[51667, 1266516544]]


def test_tc_report_gives_empty_index(testdata: Path, store: IdbStore) -> None:
    index = index_tm_file(testdata / "tm" / "PktTcReport.xml", store)
    assert index.tm.kind == "TC"
    assert len(index) == 0
    assert index.packets_by_kind == {}
    assert index.days_by_product == {}
    assert index.scet_span is None
    assert index.request_id.shape == (0, 2)


def test_same_file_twice_is_idempotent(testdata: Path, store: IdbStore) -> None:
    a = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    b = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    assert a.tm == b.tm
    assert a.as_metadata() == b.as_metadata()
    np.testing.assert_array_equal(a.batch.headers, b.batch.headers)
    np.testing.assert_array_equal(a.batch.pi1, b.batch.pi1)
    np.testing.assert_array_equal(a.request_id, b.request_id)


def test_empty_file_raises(store: IdbStore, tmp_path: Path) -> None:
    path = _write(tmp_path, "PktTmRaw.empty.xml", "")
    with pytest.raises(TMFileError, match=r"empty file \(file=PktTmRaw.empty.xml\)"):
        index_tm_file(path, store)


def test_file_still_being_written(tm_xml: str, store: IdbStore, tmp_path: Path) -> None:
    """XML cut inside the 6th element: the 5 packets before are kept, the file is incomplete."""
    starts = [m.start() for m in _ELEMENT.finditer(tm_xml)]
    path = _write(tmp_path, "PktTmRaw.partial.xml", tm_xml[: starts[5] + 200])
    index = index_tm_file(path, store)
    assert len(index) == 5
    assert not index.complete
    (problem,) = index.report.quarantined
    assert problem.file == "PktTmRaw.partial.xml"
    assert problem.packet_index == 5
    assert problem.reason.startswith("malformed XML")


def test_malformed_xml_keeps_packets_before(tm_xml: str, store: IdbStore, tmp_path: Path) -> None:
    starts = [m.start() for m in _ELEMENT.finditer(tm_xml)]
    broken = tm_xml[: starts[3]] + "<PktRawResponseElement <<garbage>>" + tm_xml[starts[3] :]
    index = index_tm_file(_write(tmp_path, "PktTmRaw.broken.xml", broken), store)
    assert len(index) == 3
    assert not index.complete
    assert index.report.counts_by_reason() == {"malformed XML": 1}


def test_truncated_and_bad_length_packets(tm_xml: str, store: IdbStore, tmp_path: Path) -> None:
    packets = packets_of(tm_xml)
    packets[1] = packets[1][:20]  # 10 bytes: not even a header
    packets[2] = packets[2][:-8]  # 4 bytes short of what its length field says
    packets[3] = set_byte(packets[3], 5, int(packets[3][10:12], 16) + 1)  # length field + 1
    index = index_tm_file(_write(tmp_path, "PktTmRaw.cut.xml", soc_xml(packets)), store)
    assert len(index) == 9
    problems = {q.packet_index: q for q in index.report.quarantined}
    assert sorted(problems) == [1, 2, 3]
    assert problems[1].reason.startswith("truncated packet")
    assert problems[2].reason.startswith("length mismatch")
    assert problems[3].reason.startswith("length mismatch")
    assert all(q.file == "PktTmRaw.cut.xml" for q in problems.values())
    assert index.complete  # the XML itself is fine


def test_unknown_ssid_is_kept_and_reported(tm_xml: str, store: IdbStore, tmp_path: Path) -> None:
    packets = packets_of(tm_xml)
    ql = next(i for i, p in enumerate(packets) if p[14:18] == "1506" and p[32:34] == "1e")
    packets[ql] = set_byte(packets[ql], 16, 99)  # SSID 30 -> 99 (no such packet)
    index = index_tm_file(_write(tmp_path, "PktTmRaw.ssid.xml", soc_xml(packets)), store)
    assert len(index) == 12
    assert index.packets_by_kind["21_6_99"] == 1
    assert "other" in index.days_by_product
    assert not index.report.quarantined  # kept at LB: reported, not quarantined
    (problem,) = index.report.kept
    assert problem.reason.startswith("unknown packet type: 21_6_99 not in IDB 2.26.34")
    assert problem.file == "PktTmRaw.ssid.xml"
    assert problem.packet_id == ql + 1
    assert problem.packet_index == ql  # the position in the TM file
    assert index.known_type.sum() == 11
    assert not index.known_type[problem.packet_index]


def test_scet_outside_every_idb_period(idb_root: Path, testdata: Path, tmp_path: Path) -> None:
    """A history that does not cover the packets: the fallback version is used and recorded."""
    root = tmp_path / "idb"
    (root / "2.26.34").mkdir(parents=True)
    (root / "2.26.34" / "idb.sqlite").symlink_to(idb_root / "2.26.34" / "idb.sqlite")
    period = {"coarse": 0, "fine": 0}, {"coarse": 600000000, "fine": 0}
    history = [
        {
            "version": "2.26.34",
            "validityPeriodOBT": list(period),
            "validityPeriodUTC": [
                ["2000-01-01T00:00:00.000+00:00", "2019-01-05T00:00:00.000+00:00"]
            ],
        }
    ]
    (root / "idbVersionHistory.json").write_text(json.dumps(history))
    index = index_tm_file(testdata / "tm" / "PktTmRaw.xml", IdbStore(root))
    assert len(index) == 12
    assert index.idb_versions == ["2.26.34"]
    assert any("outside history" in w for w in index.report.warnings)
    assert index.packets_by_kind["3_25_2"] == 9  # PI1 still read with the fallback IDB


def test_kind_label() -> None:
    assert kind_label(21, 6, 30) == "21_6_30"
    assert kind_label(1, 1, -1) == "1_1"


# -- plausibility gates (issue 10) ------------------------------------------------------------
def _gates():
    import datetime as dt

    from stix_assets.core.tmtc.gates import mission_gates

    return mission_gates(now=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))


def test_kit_packets_pass_every_gate(testdata: Path, store: IdbStore) -> None:
    """Every real packet of the kit's TM files is plausible (none quarantined by the gates)."""
    files = [*sorted((testdata / "tm").glob("PktTmRaw*.xml"))]
    files += sorted((testdata / "reference" / "stixcore" / "input").glob("*.xml"))
    for path in files:
        index = index_tm_file(path, store, gates=_gates())
        assert not index.report.quarantined, path.name


def test_gates_quarantine_damaged_headers(tm_xml: str, store: IdbStore, tmp_path: Path) -> None:
    packets = packets_of(tm_xml)
    n = len(packets)
    hk = [i for i, p in enumerate(packets) if p[14:18] == "0319"]  # 3/25 packets
    packets[hk[0]] = set_byte(packets[hk[0]], 1, 0xA5)  # APID 1444 -> 1445: not STIX's
    packets[hk[1]] = set_byte(packets[hk[1]], 7, 0x13)  # service 3 -> 19: unknown
    packets[hk[2]] = set_byte(packets[hk[2]], 10, 0x26)  # SCET coarse - 2^24 s: 2020-05, fine
    packets[hk[3]] = set_byte(packets[hk[3]], 10, 0x67)  # SCET coarse: year 2055
    packets[hk[4]] = set_byte(packets[hk[4]], 6, 0x20)  # PUS version 2
    packets.append(packets[hk[5]])  # the same packet twice
    index = index_tm_file(
        _write(tmp_path, "PktTmRaw.gates.xml", soc_xml(packets)), store, gates=_gates()
    )
    reasons = {q.packet_index: q.reason for q in index.report.quarantined}
    assert sorted(reasons) == [hk[0], hk[1], hk[3], hk[4], n]
    assert reasons[hk[0]].startswith("unknown APID: 1445 (PID 90, category 5)")
    assert reasons[hk[1]].startswith("unknown service: 19/25")
    assert reasons[hk[3]].startswith("SCET outside mission")
    assert reasons[hk[4]].startswith("not a PUS TM packet")
    assert reasons[n] == (
        "duplicate packet: same kind, request, SCET and sequence count as packet "
        f"{hk[5]} (LB keeps the first)"
    )
    assert all(q.file == "PktTmRaw.gates.xml" for q in index.report.quarantined)
    assert {q.packet_id for q in index.report.quarantined} == {
        hk[0] + 1,
        hk[1] + 1,
        hk[3] + 1,
        hk[4] + 1,
        n + 1,
    }
    # every packet is accounted for: indexed or quarantined, never both
    assert len(index.batch) + len(index.report.quarantined) == len(packets)
    assert set(index.batch.position.tolist()).isdisjoint(reasons)
    # without a time window (no "now" given) the 2055 packet passes
    no_window = index_tm_file(_write(tmp_path, "PktTmRaw.nowin.xml", soc_xml(packets)), store)
    assert len(no_window.report.quarantined) == 4


def test_gates_packet_size_limit(tm_xml: str, store: IdbStore, tmp_path: Path) -> None:
    from stix_assets.core.tmtc.gates import PacketGates

    path = _write(tmp_path, "PktTmRaw.size.xml", tm_xml)
    index = index_tm_file(path, store, gates=PacketGates(max_packet_bytes=200))
    big = [q for q in index.report.quarantined if q.reason.startswith("packet too long")]
    assert len(big) == len(index.report.quarantined) == 3  # the two BSD fragments and the QL packet
    assert len(index.batch) == 9
