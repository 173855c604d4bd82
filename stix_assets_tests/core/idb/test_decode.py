import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stix_assets.core.errors import PacketDecodeError
from stix_assets.core.idb import Idb, IdbStore
from stix_assets.core.idb.bits import extract_bits, pack_bits
from stix_assets.core.idb.decode import decode_batch, decode_parameters
from stix_assets.core.idb.layout import compile_layout
from stix_assets.core.tmtc import assign_pi1
from stix_assets_tests.core.idb.builders import batch_of, packet, pcf, write_idb

HK, LC = 54102, 54118

PCF = [
    pcf("SID", 8),
    pcf("HG", 24),
    pcf("HD1", 12),
    pcf("HD2", 12),
    pcf("HS", 16, signed=True),
    pcf("HW", 96, ptc=7),
    pcf("H64", 64),
    pcf("SSID", 8),
    pcf("G", 16),
    pcf("D", 12),
    pcf("NE", 8),
    pcf("ELO", 8),
    pcf("NS", 8),
    pcf("CNT", 8),
    pcf("EHI", 4, signed=True),
    pcf("NT", 8),
    pcf("TR", 16),
    pcf("TAIL", 8),
    pcf("REAL", 32, ptc=5, pfc=1),
]
PLF = [
    ("SID", HK, 16, 0),
    ("HG", HK, 17, 0),
    ("HD1", HK, 17, 0),
    ("HD2", HK, 18, 4),
    ("HS", HK, 20, 0),
    ("HW", HK, 22, 0),
    ("H64", HK, 34, 0),
]
# energies (NE) hold ELO, a sample counter NS with its counts, and EHI; then triggers; then TAIL
VPD = [
    (LC, 1, "SSID", 0, 0),
    (LC, 2, "G", 0, 0),
    (LC, 3, "D", 0, -12),
    (LC, 4, "NE", 4, 0),
    (LC, 5, "ELO", 0, 0),
    (LC, 6, "NS", 1, 0),
    (LC, 7, "CNT", 0, 0),
    (LC, 8, "EHI", 0, 0),
    (LC, 9, "NT", 1, 0),
    (LC, 10, "TR", 0, 0),
    (LC, 11, "TAIL", 0, 0),
    (54199, 1, "SSID", 0, 0),
    (54199, 2, "REAL", 0, 0),
]
PID = [
    (3, 25, 2, HK, "HK SID 2", -1),
    (21, 6, 30, LC, "QL LC", LC),
    (21, 6, 99, 54199, "real valued", 54199),
]


@pytest.fixture(scope="module")
def idb(tmp_path_factory) -> Idb:
    path = write_idb(
        tmp_path_factory.mktemp("idb") / "t" / "idb.sqlite",
        version="t",
        pid=PID,
        pcf_rows=PCF,
        plf=PLF,
        vpd=VPD,
    )
    return Idb.open(path, version="t")


@pytest.fixture(scope="module")
def store(idb: Idb) -> IdbStore:
    return IdbStore(idb.path.parent.parent, fallback_version="t")


def hk_packet(hg: int, hs: int, hw: int, h64: int) -> bytes:
    payload = pack_bits([(2, 8), (hg, 24), (hs, 16), (hw, 96), (h64, 64)])
    return packet(3, 25, payload)


def lc_packet(
    g: int, energies: list[tuple[int, list[int], int]], triggers: list[int], tail: int
) -> bytes:
    fields = [(30, 8), (g, 16), (len(energies), 8)]
    for lo, counts, hi in energies:
        fields += [(lo, 8), (len(counts), 8), *[(c, 8) for c in counts], (hi, 4)]
    fields += [(len(triggers), 8), *[(t, 16) for t in triggers], (tail, 8)]
    nbits = sum(w for _, w in fields)
    return packet(21, 6, pack_bits(fields)), nbits + 128


def lc_expected(g, energies, triggers, tail) -> dict[str, list[int]]:
    def signed4(v: int) -> int:
        return v - 16 if v >= 8 else v

    return {
        "SSID": [30],
        "G": [g],
        "D": [g & 0xFFF],
        "NE": [len(energies)],
        "ELO": [e[0] for e in energies],
        "NS": [len(e[1]) for e in energies],
        "CNT": [c for e in energies for c in e[1]],
        "EHI": [signed4(e[2]) for e in energies],
        "NT": [len(triggers)],
        "TR": list(triggers),
        "TAIL": [tail],
    }


def test_fixed_layout(idb):
    b = batch_of([hk_packet(0xABC123, -2, 2**95 + 5, 2**64 - 1), hk_packet(0x000FFF, 300, 7, 1)])
    t = decode_parameters(b, idb, HK)
    assert len(t) == 2
    assert t.values["SID"].tolist() == [2, 2]
    assert t.values["HG"].tolist() == [0xABC123, 0x000FFF]
    assert t.values["HD1"].tolist() == [0xABC, 0x000]  # overlapping sub-fields of the global word
    assert t.values["HD2"].tolist() == [0x123, 0xFFF]
    assert t.values["HS"].tolist() == [-2, 300]
    assert t.values["HW"].tolist() == [2**95 + 5, 7]  # wider than 64 bits: exact Python ints
    assert t.values["H64"].tolist() == [2**64 - 1, 1]
    assert t.values["H64"].dtype == np.uint64
    assert t.end_bits.tolist() == t.length_bits.tolist() == [42 * 8, 42 * 8]


def test_variable_layout_nested_and_empty_groups(idb):
    specs = [
        (0xF123, [(1, [10, 11, 12], 7), (2, [], 9), (3, [13], 15)], [500, 501], 99),
        (0x0001, [], [], 1),  # counter 0: group skipped
        (0xFFFF, [(4, [1, 2], 0)], [65535], 255),
    ]
    pk = [lc_packet(*s) for s in specs]
    t = decode_parameters(batch_of([p for p, _ in pk]), idb, LC)
    assert len(t) == 3
    for i, s in enumerate(specs):
        for name, values in lc_expected(*s).items():
            assert t.packet_values(name, i).tolist() == values, (i, name)
    assert t.end_bits.tolist() == [n for _, n in pk]
    assert t.counts["CNT"].tolist() == [4, 0, 2]
    assert [a.tolist() for a in t.split("TR")] == [[500, 501], [], [65535]]
    assert t.values["D"].tolist() == [0x123, 0x001, 0xFFF]  # negative offset re-reads G


def test_packet_beyond_length_is_rejected_others_decode(idb):
    good, _ = lc_packet(1, [(1, [1, 2], 0)], [3], 4)
    bad = packet(21, 6, pack_bits([(30, 8), (0, 16), (1, 8), (1, 8), (200, 8), (5, 8)]))
    t = decode_parameters(batch_of([good, bad, good], name="f.xml"), idb, LC)
    assert t.rows.tolist() == [0, 2]
    assert len(t.rejected) == 1
    q = t.rejected[0]
    assert (q.file, q.packet_index, q.spid, q.packet_id) == ("f.xml", 1, LC, 2)
    assert "layout beyond packet length" in q.reason
    assert t.counts["CNT"].tolist() == [2, 2]


def test_fixed_packet_too_short_is_rejected(idb):
    short = hk_packet(1, 2, 3, 4)[:-3]
    t = decode_parameters(batch_of([hk_packet(1, 2, 3, 4), short]), idb, HK)
    assert t.rows.tolist() == [0]
    assert t.rejected[0].packet_index == 1
    assert "needs 336 bits" in t.rejected[0].reason


def test_unsupported_type_raises(idb):
    with pytest.raises(PacketDecodeError, match="S2K type 'R'"):
        compile_layout(idb, 54199)


def test_unknown_spid_raises(idb):
    with pytest.raises(PacketDecodeError, match="SPID 12345 not in PID"):
        decode_parameters(batch_of([hk_packet(1, 2, 3, 4)]), idb, 12345)


def test_decode_batch_groups_and_reports(store):
    lc, _ = lc_packet(5, [(1, [2], 3)], [], 0)
    real = packet(21, 6, pack_bits([(99, 8), (0, 32)]))
    unknown = packet(21, 6, pack_bits([(77, 8), (0, 32)]))
    b = batch_of([hk_packet(1, 2, 3, 4), lc, real, unknown, lc], name="mix.xml")
    tables, report = decode_batch(b, store)
    assert set(tables) == {("t", HK), ("t", LC)}
    assert tables[("t", LC)].rows.tolist() == [1, 4]
    assert tables[("t", HK)].rows.tolist() == [0]
    reasons = {q.packet_index: q.reason for q in report.quarantined}
    assert reasons[2].startswith("layout error: parameter REAL has S2K type 'R'")
    assert reasons[3] == "unknown packet type: 21/6/77 idb t"
    assert report.warnings == ["idb outside history: history=None used=t"]
    assert assign_pi1(b, store.get("t").pic()).pi1.tolist() == [2, 30, 99, 77, 30]


# -- property tests ---------------------------------------------------------------------------

fields_st = st.lists(
    st.integers(1, 64).flatmap(lambda w: st.tuples(st.integers(0, 2**w - 1), st.just(w))),
    min_size=1,
    max_size=20,
)


@given(fields_st, st.integers(0, 7))
@example([(1, 1)], 0)  # single bit at the very end of the buffer
@example([(2**64 - 1, 64)], 7)  # widest two-part read with maximal shift
def test_extract_inverts_pack(fields, lead):
    data = pack_bits([(0, lead), *fields])
    buf = np.frombuffer(data, dtype=np.uint8)
    widths = np.array([w for _, w in fields])
    pos = lead + np.concatenate([[0], np.cumsum(widths)[:-1]])
    got = extract_bits(buf, pos, widths)
    assert [int(v) for v in got] == [v for v, _ in fields]
    for (v, w), p in zip(fields, pos, strict=True):
        assert int(extract_bits(buf, np.array([p]), w)[0]) == v


@given(
    st.integers(2, 57).flatmap(
        lambda w: st.tuples(st.just(w), st.integers(-(2 ** (w - 1)), 2 ** (w - 1) - 1))
    )
)
def test_signed_round_trip(wv):
    w, v = wv
    buf = np.frombuffer(pack_bits([(v, w)]), dtype=np.uint8)
    assert int(extract_bits(buf, np.array([0]), w, signed=True)[0]) == v


energy_st = st.tuples(
    st.integers(0, 255), st.lists(st.integers(0, 255), max_size=4), st.integers(0, 15)
)
lc_st = st.tuples(
    st.integers(0, 0xFFFF),
    st.lists(energy_st, max_size=3),
    st.lists(st.integers(0, 0xFFFF), max_size=3),
    st.integers(0, 255),
)


@given(st.lists(lc_st, min_size=1, max_size=6))
@example([(0, [], [], 0)])  # every group empty
@example([(1, [(0, [], 0)], [], 0), (2, [(1, [1, 2, 3, 4], 1)] * 3, [1], 5)])  # differing nesting
def test_variable_layout_round_trip(idb, specs):
    pk = [lc_packet(*s) for s in specs]
    t = decode_parameters(batch_of([p for p, _ in pk]), idb, LC)
    assert t.rejected == ()
    assert t.end_bits.tolist() == [n for _, n in pk]
    for i, s in enumerate(specs):
        for name, values in lc_expected(*s).items():
            assert t.packet_values(name, i).tolist() == values
