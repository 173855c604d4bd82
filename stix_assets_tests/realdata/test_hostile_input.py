"""Hostile input (issue 10): no packet can crash a day, and every packet is accounted for.

Two kinds of test on the kit's real packets:

* one reproduction: a single flipped bit in the data part of one quick-look packet (its energy
  count) used to end ``stix-assets process ... --continue-on-error`` with a traceback in the L0
  writer (``could not broadcast input array``); now that packet is left out of L0, named by TM
  file, position and packetID, and every other packet of the day reaches L0 and L1;
* a property test: bit flips (headers intact and damaged), truncations and duplicates of real
  packets of every kind in the kit, processed to L1. Nothing raises, and every packet that went
  in is either in an LB file or quarantined (never both, never neither).
"""

import datetime as dt
import importlib.util
import re
import tempfile
from pathlib import Path

import fitsio
import pytest

from stix_assets.core.catalog import Catalog
from stix_assets.core.idb import IdbStore
from stix_assets.core.process import ProcessSummary, process_tm_files
from stix_assets.core.tmtc import decode_hex_file, decode_tm_file
from stix_assets.core.tmtc.gates import mission_gates

pytestmark = pytest.mark.realdata

NOW = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)  # the gates' "now": fixed, so runs are repeatable
CREATED = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
_GENERATOR = Path(__file__).resolve().parents[2] / "benchmarks" / "generate_tm.py"
_PACKET = re.compile(r"(<Packet>)([0-9A-Fa-f]+)(</Packet>)")
_SOC_PREFIX = bytes(76)


def soc_xml(packets: list[bytes]) -> str:
    """A SOC TM response with the given packets (zero SOC prefix, packetID = position + 1)."""
    body = "".join(
        f'<PktRawResponseElement packetID="{i + 1}">\n'
        f"    <Packet>{(_SOC_PREFIX + p).hex().upper()}</Packet>\n</PktRawResponseElement>\n"
        for i, p in enumerate(packets)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<ns2:ResponsePart xmlns:ns2="http://edds.egos.esa/model">\n<Response>\n<PktRawResponse>\n'
        f"{body}</PktRawResponse>\n</Response>\n</ns2:ResponsePart>\n"
    )


@pytest.fixture(scope="module")
def store(idb_root: Path) -> IdbStore:
    return IdbStore(idb_root)


def _process(
    paths: list[Path], archive: Path, store: IdbStore, testdata: Path, end_level: str = "L1"
) -> ProcessSummary:
    return process_tm_files(
        paths,
        archive,
        store,
        end_level=end_level,
        created=CREATED,
        software_version="test",
        conf_dir=testdata / "conf",
        spice_dir=testdata / "spice" / "kernels",
        gates=mission_gates(now=NOW),
    )


# -- the reproduction ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def six_hours(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 6 h file of a replicated day (2021-01-16): HK, QL cycles, spectrograms."""
    spec = importlib.util.spec_from_file_location("stix_generate_tm", _GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("six_hours")
    return module.generate(testdata, out, days=1, start=dt.date(2021, 1, 16))[0]


def _flip_first_lightcurve(text: str) -> tuple[str, int]:
    """Flip bit 0 of byte 37 (its energy count, 4 -> 5) in the first QL light-curve packet."""
    for position, m in enumerate(_PACKET.finditer(text)):
        raw = bytearray(bytes.fromhex(m.group(2)))
        packet = raw[len(_SOC_PREFIX) :]
        if packet[7] == 21 and packet[8] == 6 and packet[16] == 30:
            packet[37] ^= 1
            raw[len(_SOC_PREFIX) :] = packet
            return text[: m.start(2)] + raw.hex().upper() + text[m.end(2) :], position
    raise AssertionError("no QL light-curve packet")


def _control_packets(archive: Path, level: str) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for path in sorted((archive / level).rglob("*ql-lightcurve*.fits")):
        control = fitsio.read(path, ext="CONTROL")
        out[path.name] = set(control["packet"].astype(int).tolist())
    return out


def test_flipped_energy_count_costs_only_its_packet(
    six_hours: Path, store: IdbStore, testdata: Path, tmp_path: Path
) -> None:
    clean_dir, bad_dir = tmp_path / "clean", tmp_path / "bad"
    clean_dir.mkdir()
    bad_dir.mkdir()
    text = six_hours.read_text()
    (clean_dir / six_hours.name).write_text(text)
    bad_text, position = _flip_first_lightcurve(text)
    (bad_dir / six_hours.name).write_text(bad_text)
    clean = _process([clean_dir / six_hours.name], tmp_path / "a_clean", store, testdata)
    bad = _process([bad_dir / six_hours.name], tmp_path / "a_bad", store, testdata)
    # every level was written, with the same files except an L1 day that held only that packet
    assert bad.level_files.keys() == clean.level_files.keys() == {"LB", "L0", "L1"}
    assert len(bad.level_files["LB"]) == len(clean.level_files["LB"])
    assert len(bad.level_files["L0"]) == len(clean.level_files["L0"])
    # the packet is named by TM file, position and packetID, once, at L0
    (issue,) = [i for i in bad.level_issues if i.get("packet_id") is not None]
    assert issue["level"] == "L0"
    assert issue["file"] == six_hours.name
    assert issue["packet_index"] == position
    assert issue["packet_id"] == position + 1
    assert issue["spid"] == 54118
    assert issue["reason"].startswith("layout differs from the other packets of the file")
    # ... and it is in the catalog's quarantine
    rows = Catalog(tmp_path / "a_bad" / "stix_catalog.duckdb").quarantined(six_hours.name)
    assert [(r["packet_index"], r["packet_id"]) for r in rows] == [(position, position + 1)]
    # every other packet reached L0 and L1
    for level in ("L0", "L1"):
        ours = _control_packets(tmp_path / "a_bad", level)
        ref = _control_packets(tmp_path / "a_clean", level)
        assert set().union(*ours.values()) == set().union(*ref.values()) - {position + 1}
        assert ours.keys() <= ref.keys()
        # a file only the clean run has held nothing but the bad packet's bins (UTC 2021-01-15)
        assert all(ref[name] == {position + 1} for name in ref.keys() - ours.keys())


# -- the property test ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kit_packets(testdata: Path) -> list[bytes]:
    """Every distinct real packet of the kit (SOC XML files and hex files), in a fixed order."""
    return read_kit_packets(testdata)


def read_kit_packets(testdata: Path) -> list[bytes]:
    """Every distinct real packet of the kit (SOC XML files and hex files), in a fixed order."""
    found: dict[bytes, None] = {}
    xmls = sorted((testdata / "tm").glob("*PktTmRaw*.xml"))
    xmls += sorted((testdata / "reference" / "stixcore" / "input").glob("*.xml"))
    batches = [decode_tm_file(p)[1] for p in xmls]
    batches += [decode_hex_file(p)[0] for p in sorted((testdata / "tm" / "hex").glob("*.hex"))]
    for batch in batches:
        for i in range(len(batch)):
            found.setdefault(batch.packet_bytes(i), None)
    return list(found)


def _mutate(packet: bytes, hows: list[tuple]) -> list[bytes]:
    """The packet after its mutations, in order; a duplicate doubles what there is so far."""
    out = [bytearray(packet)]
    for kind, arg in hows:
        data = out[-1]
        if kind == "flip" and data:
            bit = arg % (8 * len(data))
            data[bit // 8] ^= 0x80 >> (bit % 8)
        elif kind == "truncate" and data:
            out[-1] = data[: arg % len(data)]
        elif kind == "duplicate":
            out.append(bytearray(data))
        elif kind == "sibling" and len(data) >= 16:
            out.append(_sibling(data, arg))
    return [bytes(d) for d in out]


def _sibling(data: bytearray, step: int) -> bytearray:
    """A copy that LB keeps next to the original: sequence count + 1, SCET ``step`` s later.

    Mutations after it apply to the copy, so two packets of one kind and day can differ in
    layout (the case that crashed L0 in issue 10).
    """
    copy = bytearray(data)
    seq = ((copy[2] << 8 | copy[3]) & 0x3FFF) + 1
    copy[2] = (copy[2] & 0xC0) | ((seq >> 8) & 0x3F)
    copy[3] = seq & 0xFF
    coarse = int.from_bytes(copy[10:14], "big") + step
    copy[10:14] = (coarse & 0xFFFFFFFF).to_bytes(4, "big")
    return copy


def mutations():
    from hypothesis import strategies as st

    bits = st.one_of(
        st.integers(0, 127),  # the 16 header bytes: APID, flags, length, service, time
        st.integers(128, 128 + 8 * 48),  # the first data bytes: SSID, times, counters
        st.integers(0, 8 * 4112),  # anywhere
    )
    one = st.one_of(
        st.tuples(st.just("flip"), bits),
        st.tuples(st.just("truncate"), st.integers(0, 4112)),
        st.just(("duplicate", 0)),
        st.tuples(st.just("sibling"), st.integers(1, 600)),
    )
    return st.lists(one, max_size=3)


def _check_accounting(summary: ProcessSummary, n_in: int, name: str) -> None:
    (outcome,) = summary.files
    assert outcome.error is None
    quarantined = [q for q in summary.quarantine_examples]
    assert summary.n_quarantined == outcome.n_quarantined
    # every packet is in an LB file or quarantined, never both and never neither
    assert summary.lb_new_packets + summary.n_quarantined == n_in
    assert outcome.n_packets + outcome.n_quarantined == n_in
    positions = [q["packet_index"] for q in quarantined]
    assert all(q["file"] == name for q in quarantined)
    assert all(p is not None and 0 <= p < n_in for p in positions)
    assert len(set(positions)) == len(positions)
    for issue in summary.level_issues:
        if issue.get("packet_id") is not None:
            assert issue["file"] == name
            assert issue["packet_index"] is None or 0 <= issue["packet_index"] < n_in


def test_no_packet_crashes_a_day(kit_packets: list[bytes], store: IdbStore, testdata: Path):
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    picks = st.lists(
        st.tuples(st.integers(0, len(kit_packets) - 1), mutations()), min_size=1, max_size=4
    )

    @hypothesis.settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[hypothesis.HealthCheck.too_slow],
        derandomize=True,
    )
    @hypothesis.given(picks=picks)
    # before issue 10 both crashed L0 (concat_products: counts of 4 energies stacked on 5); pool
    # 14 is a QL light curve (21/6/30), 15 a QL background (21/6/31); bits 303 and 255 are the
    # lowest bit of their number of energies (NIX00270, 5 -> 4 in the sibling, which shares the
    # original's LB file); found by a sweep of these mutations over every kind of the kit
    @hypothesis.example(picks=[(14, [("sibling", 4), ("flip", 303)])])
    @hypothesis.example(picks=[(15, [("sibling", 4), ("flip", 255)])])
    def run(picks: list[tuple[int, list[tuple]]]) -> None:
        hostile_run(picks, kit_packets, store, testdata)

    run()


def hostile_run(
    picks: list[tuple[int, list[tuple]]], pool: list[bytes], store: IdbStore, testdata: Path
) -> None:
    """Mutate the picked packets, process them to L1 in a fresh archive, check the accounting."""
    packets = [p for index, how in picks for p in _mutate(pool[index], how)]
    name = "hostile.PktTmRaw.xml"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(soc_xml(packets))
        summary = _process([path], Path(tmp) / "archive", store, testdata)
    _check_accounting(summary, len(packets), name)


def test_every_kit_packet_survives_alone(
    kit_packets: list[bytes], store: IdbStore, testdata: Path, tmp_path: Path
) -> None:
    """The unmutated pool itself: nothing quarantined, every packet in LB, nothing raises."""
    path = tmp_path / "kit.PktTmRaw.xml"
    path.write_text(soc_xml(kit_packets))
    summary = _process([path], tmp_path / "archive", store, testdata, end_level="L0")
    assert summary.n_quarantined == 0
    assert summary.lb_new_packets == len(kit_packets)
