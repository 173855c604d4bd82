from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.errors import TMFileError
from stix_assets.core.tmtc import decode_hex_file, decode_tm_file, encode_header, is_tm_file_name
from stix_assets.core.tmtc.soc import SOC_PREFIX_BYTES


def _packet(seq: int, payload: bytes = b"\x1e" + b"\x00" * 9) -> bytes:
    head = encode_header(
        apid=1500,
        sequence_flag=3,
        sequence_count=seq,
        data_length=len(payload) + 16 - 7,
        service_type=21,
        service_subtype=6,
        scet_coarse=660000000 + seq,
        scet_fine=0,
    )
    return head + payload


def _xml(elements: list[str]) -> str:
    body = "\n".join(
        f'<PktRawResponseElement packetID="{i + 1}"><Packet>{h}</Packet></PktRawResponseElement>'
        for i, h in enumerate(elements)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<ns2:ResponsePart xmlns:ns2="http://edds.egos.esa/model"><Response><PktRawResponse>\n'
        f"{body}\n</PktRawResponse></Response></ns2:ResponsePart>\n"
    )


def _hex(packet: bytes) -> str:
    return (b"\x00" * SOC_PREFIX_BYTES + packet).hex()


def test_tm_name_pattern():
    assert is_tm_file_name("TM_BatchRequest.PktTmRaw.SOL.0.2023.305.15.33.13.852.bBWz@x.xml")
    assert not is_tm_file_name("PktTcReport.xml")
    assert not is_tm_file_name(".PktTmRaw.xml.A1b2C3")  # rsync temporary name


def test_good_packets_survive_bad_neighbours(tmp_path: Path):
    good = [_hex(_packet(i)) for i in range(3)]
    long_header = bytearray(_packet(7))
    long_header[5] += 1  # length field says one byte more than the packet has
    elements = [good[0], "zz-not-hex", _hex(_packet(5)[:10]), _hex(bytes(long_header)), *good[1:]]
    path = tmp_path / "bad.PktTmRaw.xml"
    path.write_text(_xml(elements))
    tm, batch, report = decode_tm_file(path)
    assert tm.kind == "TM"
    assert list(batch.headers["sequence_count"]) == [0, 1, 2]
    reasons = report.counts_by_reason()
    assert reasons == {"invalid hex": 1, "truncated packet": 1, "length mismatch": 1}
    assert {q.packet_index for q in report.quarantined} == {1, 2, 3}
    assert all(q.file == "bad.PktTmRaw.xml" for q in report.quarantined)


def test_malformed_xml_keeps_packets_before_the_break(tmp_path: Path):
    text = _xml([_hex(_packet(i)) for i in range(4)])
    cut = text.index('<PktRawResponseElement packetID="3"') + 40  # as if still being written
    path = tmp_path / "cut.PktTmRaw.xml"
    path.write_text(text[:cut])
    _, batch, report = decode_tm_file(path)
    assert len(batch) == 2
    assert report.counts_by_reason() == {"malformed XML": 1}


def test_element_without_prefix_is_taken_whole(tmp_path: Path):
    path = tmp_path / "noprefix.PktTmRaw.xml"
    path.write_text(_xml([_packet(1).hex(), _hex(_packet(2))]))
    _, batch, report = decode_tm_file(path)
    assert list(batch.headers["sequence_count"]) == [1, 2]
    assert not report.quarantined
    assert len(report.warnings) == 1


@pytest.mark.parametrize(
    ("content", "match"),
    [("", "empty file"), ("<html>nope</html>", "not a SOC/EDDS response")],
)
def test_unusable_files_raise(tmp_path: Path, content: str, match: str):
    path = tmp_path / "x.PktTmRaw.xml"
    path.write_text(content)
    with pytest.raises(TMFileError, match=match):
        decode_tm_file(path)


@pytest.mark.realdata
def test_kit_xml_files(testdata: Path):
    counts = {}
    for path in sorted((testdata / "tm").glob("*.xml")):
        tm, batch, report = decode_tm_file(path)
        assert not report.quarantined, path.name
        counts[path.name] = (tm.kind, len(batch))
    assert counts == {
        "PktTcReport.xml": ("TC", 0),
        "PktTmRaw.hk-20201201.xml": ("TM", 10),
        "PktTmRaw.moc_test-20191127.xml": ("TM", 16),
        "PktTmRaw.xml": ("TM", 12),
    }


@pytest.mark.realdata
def test_kit_hex_packets(testdata: Path):
    unsynchronised = []
    for path in sorted((testdata / "tm" / "hex").glob("*.hex")):
        batch, report = decode_hex_file(path)
        assert len(batch) == 1, path.name  # the 0x-prefixed files included
        assert not report.quarantined
        if not batch.headers["time_sync"][0]:
            unsynchronised.append(path.stem)
    # kit README: five ground-test packets carry the time-not-synchronised bit
    assert sorted(unsynchronised) == ["1_2_48000", "236_19", "239_14", "5_4_54304", "6_6_53250"]


def test_truncated_packet_says_what_it_had_and_needed(tmp_path: Path):
    elements = [_hex(_packet(1)), _hex(_packet(2)[:10]), _hex(b"\x0d\xdc\x00")]
    path = tmp_path / "short.PktTmRaw.xml"
    path.write_text(_xml(elements))
    _, batch, report = decode_tm_file(path)
    assert len(batch) == 1
    assert list(batch.position) == [0]
    reasons = {q.packet_index: q.reason for q in report.quarantined}
    # 10 bytes: the length field is readable, so the full size is known
    assert reasons[1] == (
        "truncated packet: 10 bytes, needs 26 (CCSDS length field; at least 16 for the headers)"
    )
    assert reasons[2] == "truncated packet: 3 bytes, needs at least 16 for the headers"


def test_positions_are_kept_past_quarantined_packets(tmp_path: Path):
    path = tmp_path / "pos.PktTmRaw.xml"
    path.write_text(_xml([_hex(_packet(0)), "zz", _hex(_packet(2))]))
    _, batch, _ = decode_tm_file(path)
    assert list(batch.position) == [0, 2]  # the element index in the file, not the batch row
    assert list(batch.packet_id) == [1, 3]
    assert batch.take(np.array([1])).position_of(0) == 2


def test_valid_response_without_packets_warns(tmp_path: Path):
    path = tmp_path / "none.PktTmRaw.xml"
    path.write_text(_xml([]))
    tm, batch, report = decode_tm_file(path)
    assert tm.kind == "TM"
    assert len(batch) == 0
    assert not report.quarantined
    assert report.warnings == ["no packets: a valid TM response without any packet element"]


def test_packet_positions_by_packet_id(tmp_path: Path):
    from stix_assets.core.tmtc.soc import packet_positions

    body = "\n".join(
        f'<PktRawResponseElement packetID="{pid}"><Packet>{_hex(_packet(i))}</Packet>'
        "</PktRawResponseElement>"
        for i, pid in enumerate([11, 12, 1])
    )
    path = tmp_path / "ids.PktTmRaw.xml"
    path.write_text(_xml([]).replace("\n\n</PktRawResponse>", f"\n{body}\n</PktRawResponse>"))
    assert packet_positions(path) == {11: 0, 12: 1, 1: 2}
