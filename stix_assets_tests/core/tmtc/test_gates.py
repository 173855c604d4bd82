"""Plausibility gates on packets (issue 10): hand-made packets, no kit needed."""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest

from stix_assets.core.config import ConfigError, load_settings
from stix_assets.core.tmtc import PacketBatch, decode_headers, encode_header
from stix_assets.core.tmtc.gates import (
    DEFAULT_MAX_PACKET_BYTES,
    PacketGates,
    duplicate_problems,
    gates_from_settings,
    header_problems,
    idb_problems,
    mission_gates,
)

NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
IN_FLIGHT = 660_000_000  # 2020-11-30


def _packet(
    *, apid: int = 1500, service: int = 21, subtype: int = 6, coarse: int = IN_FLIGHT, seq: int = 0
) -> bytes:
    payload = b"\x1e" + bytes(9)
    return (
        encode_header(
            apid=apid,
            sequence_flag=3,
            sequence_count=seq,
            data_length=len(payload) + 16 - 7,
            service_type=service,
            service_subtype=subtype,
            scet_coarse=coarse,
            scet_fine=0,
        )
        + payload
    )


def _batch(packets: list[bytes], *, pi1: int = 30) -> PacketBatch:
    buffer = np.frombuffer(b"".join(packets), dtype=np.uint8).copy()
    length = np.array([len(p) for p in packets], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
    head = buffer[offset[:, None] + np.arange(16)[None, :]]
    n = len(packets)
    return PacketBatch(
        headers=decode_headers(head),
        pi1=np.full(n, pi1, dtype=np.int64),
        offset=offset,
        length=length,
        packet_id=np.arange(1, n + 1, dtype=np.int64),
        file_index=np.zeros(n, dtype=np.int32),
        buffer=buffer,
        files=("gates.PktTmRaw.xml",),
        position=np.arange(10, 10 + n, dtype=np.int64),
    )


@dataclass
class _Pid:
    """A PID table stand-in: 21/6 under APIDs 1468 and 1500, 3/25 under 1444."""

    version: str = "t"
    with_apids: bool = True

    def apids(self):
        return frozenset({1444, 1468, 1500}) if self.with_apids else None

    def apids_for(self, service, subtype):
        if not self.with_apids:
            return None
        return {(21, 6): frozenset({1468, 1500}), (3, 25): frozenset({1444})}.get(
            (service, subtype), frozenset()
        )

    def has_service(self, service, subtype):
        return (service, subtype) in {(21, 6), (3, 25)}


class _Store:
    def __init__(self, pid: _Pid) -> None:
        self.pid = pid

    def get(self, version: str) -> _Pid:
        return self.pid


def test_mission_window_from_launch_to_tomorrow():
    gates = mission_gates(now=NOW)
    start, end = gates.window
    assert start == dt.datetime(2018, 2, 10, tzinfo=dt.UTC)  # launch 2020-02-10 minus 2 years
    assert end == NOW + dt.timedelta(days=1)
    assert gates.max_packet_bytes == DEFAULT_MAX_PACKET_BYTES == 4112
    with pytest.raises(ValueError, match="timezone-aware"):
        mission_gates(now=dt.datetime(2026, 12, 2))  # noqa: DTZ001 (the error under test)
    with pytest.raises(ValueError, match="empty SCET window"):
        mission_gates(now=dt.datetime(2010, 1, 1, tzinfo=dt.UTC))


def test_gates_from_settings_reads_the_ingest_section(tmp_path):
    toml = tmp_path / "stix.toml"
    toml.write_text(
        "[ingest]\nscet_window_start = 2019-01-01\nscet_window_future_s = 0\n"
        "max_packet_bytes = 2000\n"
    )
    gates = gates_from_settings(load_settings(config_file=toml), now=NOW)
    assert gates.window == (dt.datetime(2019, 1, 1, tzinfo=dt.UTC), NOW)
    assert gates.max_packet_bytes == 2000
    env = {"STIX_SCET_WINDOW_START": "2020-02-10", "STIX_MAX_PACKET_BYTES": "100"}
    gates = gates_from_settings(load_settings(env=env), now=NOW)
    assert gates.window[0] == dt.datetime(2020, 2, 10, tzinfo=dt.UTC)
    assert gates.max_packet_bytes == 100
    late = load_settings(env={"STIX_SCET_WINDOW_START": "2030-01-01"})
    with pytest.raises(ConfigError, match="empty SCET window"):
        gates_from_settings(late, now=NOW)
    with pytest.raises(ConfigError, match="scet_window_start"):
        load_settings(env={"STIX_SCET_WINDOW_START": "yesterday"})


def test_header_gates_name_the_first_problem():
    bad_version = bytearray(_packet())
    bad_version[0] |= 0x20  # CCSDS version 1
    no_dfh = bytearray(_packet())
    no_dfh[0] &= 0xF7  # secondary header flag cleared
    pus2 = bytearray(_packet())
    pus2[6] = 0x20  # PUS version 2
    packets = [
        _packet(),
        bytes(bad_version),
        bytes(no_dfh),
        bytes(pus2),
        _packet(coarse=10),  # 2000-01-01
        _packet(
            coarse=int((NOW - dt.datetime(2000, 1, 1, tzinfo=dt.UTC)).total_seconds()) + 2 * 86400
        ),
    ]
    reasons = header_problems(_batch(packets), mission_gates(now=NOW))
    assert reasons[0] is None
    assert reasons[1].startswith("not a PUS TM packet: version 1")
    assert reasons[2].startswith("not a PUS TM packet: version 0, secondary header flag 0")
    assert "PUS version 2" in reasons[3]
    assert reasons[4].startswith("SCET outside mission: coarse 10 (2000-01-01)")
    assert reasons[5].startswith("SCET outside mission")
    assert "2018-02-10..2026-12-03" in reasons[5]
    # no window: only the format gates
    assert header_problems(_batch(packets), PacketGates())[4:] == [None, None]


def test_unsynchronised_time_outside_the_window_says_so():
    packet = encode_header(
        apid=1500, sequence_flag=3, sequence_count=0, data_length=19, service_type=21,
        service_subtype=6, scet_coarse=5000, scet_fine=0, time_sync=False,
    ) + bytes(10)  # fmt: skip
    (reason,) = header_problems(_batch([packet]), mission_gates(now=NOW))
    assert reason.endswith("not in 2018-02-10..2026-12-03")
    assert "time not synchronised" in reason


def test_packet_longer_than_the_limit():
    reasons = header_problems(_batch([_packet()]), PacketGates(max_packet_bytes=20))
    assert reasons == ["packet too long: 26 bytes, more than the largest TM packet (20 bytes)"]


def test_idb_gates_from_the_pid_table():
    packets = [
        _packet(),  # 21/6 on APID 1500: fine
        _packet(apid=1501),  # APID not STIX's
        _packet(service=22, subtype=6),  # service not in the IDB
        _packet(apid=1444),  # a STIX APID, but not one that carries 21/6
        _packet(apid=1468),  # the other 21/6 APID
    ]
    versions = np.full(len(packets), "t", dtype=object)
    reasons = idb_problems(_batch(packets), versions, _Store(_Pid()))
    assert reasons[0] is None
    assert reasons[4] is None
    assert reasons[1] == "unknown APID: 1501 (PID 93, category 13) is not in the PID table of IDB t"
    assert reasons[2] == "unknown service: 22/6 is not in the PID table of IDB t"
    assert reasons[3] == "APID does not match: 21/6 has APID 1444, IDB t lists 1468, 1500"
    # an IDB without PID_APID (hand-made test IDBs) only checks the service
    reasons = idb_problems(_batch(packets), versions, _Store(_Pid(with_apids=False)))
    assert [r is None for r in reasons] == [True, True, False, True, True]


def test_duplicates_keep_the_first_and_name_it():
    packets = [_packet(seq=1), _packet(seq=2), _packet(seq=1), _packet(seq=1, coarse=IN_FLIGHT + 1)]
    batch = _batch(packets)
    rid = np.full((len(packets), 2), -1, dtype=np.int64)
    reasons = duplicate_problems(batch, rid)
    assert reasons[:2] == [None, None]
    assert reasons[3] is None
    assert reasons[2].startswith("duplicate packet: same kind, request, SCET and sequence count")
    assert "as packet 10" in reasons[2]  # the position of the first in its file
    rid[2] = (1, 99)  # another BSD request: its own LB file, not a duplicate
    assert duplicate_problems(batch, rid)[2] is None
