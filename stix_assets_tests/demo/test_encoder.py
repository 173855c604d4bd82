from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stix_assets.core.idb import Idb, IdbStore
from stix_assets.core.idb.decode import decode_parameters
from stix_assets.core.idb.layout import compile_layout
from stix_assets.core.tmtc import assign_pi1, decode_hex_file
from stix_assets.demo import encode_packet, expected_parameters, read_layouts
from stix_assets.demo.encoder import collect_fields


def _batch_of(tmp_path: Path, packets: list[bytes], idb: Idb):
    path = tmp_path / "packets.hex"
    path.write_text("\n".join(p.hex() for p in packets) + "\n")
    batch, report = decode_hex_file(path)
    assert not report.quarantined
    return assign_pi1(batch, idb.pic())


def _decoded(table, i: int) -> dict[str, list[int]]:
    return {
        name: [int(v) for v in table.packet_values(name, i)]
        for name in table.names
        if table.counts[name][i] > 0
    }


lc_counts = st.lists(st.lists(st.integers(0, 255), min_size=0, max_size=40), min_size=1, max_size=5)


@settings(max_examples=40)
@given(
    counts=lc_counts,
    rcr=st.lists(st.integers(0, 7), max_size=30),
    coarse=st.integers(0, 2**31 - 1),
    fine=st.integers(0, 65535),
    seq=st.integers(0, 16383),
)
def test_lightcurve_round_trip(
    demo_idb: Path, tmp_path_factory, counts, rcr, coarse, fine, seq
) -> None:
    idb = IdbStore(demo_idb).get("2.26.34")
    layout = read_layouts(demo_idb / "2.26.34" / "idb.sqlite", [54118])[54118]
    values = {
        "NIX00120": 30, "NIX00445": coarse, "NIX00446": fine, "NIX00405": 39,
        "NIX00407": 0xFFFFFCFF, "NIXD0407": 0xFFF, "NIXD0101": 0, "NIXD0102": 5, "NIXD0103": 3,
        "NIXD0104": 0, "NIXD0105": 5, "NIXD0106": 3, "NIXD0107": 1, "NIX00266": 2**32 - 1,
        "NIX00270": [{"NIX00271": np.array(c)} for c in counts],
        "NIX00273": np.array(counts[0]), "NIX00275": np.array(rcr, dtype=np.int64),
    }  # fmt: skip
    data = encode_packet(
        layout, values, sequence_count=seq, scet_coarse=coarse, scet_fine=fine, sequence_flag=1
    )
    batch = _batch_of(tmp_path_factory.mktemp("lc"), [data], idb)
    h = batch.headers[0]
    assert (h["apid"], h["sequence_count"], h["sequence_flag"]) == (1500, seq, 1)
    assert (h["scet_coarse"], h["scet_fine"], h["data_length"] + 7) == (coarse, fine, len(data))
    assert batch.pi1[0] == 30
    table = decode_parameters(batch, idb, 54118)
    assert not table.rejected
    assert _decoded(table, 0) == expected_parameters(layout, values)
    assert table.end_bits[0] == collect_fields(layout, values).end_bit


def test_encoder_rejects_missing_and_oversized(demo_idb: Path) -> None:
    layout = read_layouts(demo_idb / "2.26.34" / "idb.sqlite", [54122])[54122]
    good = {"NIX00120": 34, "NIX00445": 1, "NIX00446": 0, "NIX00405": 39, "NIX00089": []}
    encode_packet(layout, good, sequence_count=0, scet_coarse=1, scet_fine=0)
    missing = {k: v for k, v in good.items() if k != "NIX00405"}
    with pytest.raises(KeyError, match="NIX00405"):
        encode_packet(layout, missing, sequence_count=0, scet_coarse=1, scet_fine=0)
    with pytest.raises(ValueError, match="does not fit in 16 bits"):
        encode_packet(
            layout, {**good, "NIX00405": 70000}, sequence_count=0, scet_coarse=1, scet_fine=0
        )


def _nested(nodes, table, i: int, cursor: dict[str, int]) -> dict:
    """Rebuild the nested value mapping of packet i from the decoder's flat lists."""
    out: dict = {}
    for node in nodes:
        name = node.field.name
        vals = table.packet_values(name, i)
        value = int(vals[cursor.get(name, 0)])
        cursor[name] = cursor.get(name, 0) + 1
        if node.is_counter:
            out[name] = [_nested(node.children, table, i, cursor) for _ in range(value)]
        else:
            out[name] = value
    return out


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    [
        "3_25_1.hex",  # HK mini, fixed layout with global words
        "3_25_2.hex",  # HK maxi: a 96-bit global word (NIXG0256)
        "21_6_21.hex",  # CPD: nested counters, 5-bit sub-fields with a gap (NIXD0016/17)
        "21_6_24.hex",  # spectrogram
        "21_6_30.hex",  # QL light curves
        "21_6_31.hex",
        "21_6_32.hex",  # QL spectra: 35-member flat group
        "21_6_33.hex",
        "21_6_34.hex",  # flare flag: signed locations
    ],
)
def test_reencodes_real_packets_bit_exact(testdata: Path, idb_root: Path, name: str) -> None:
    """Decode a real packet with the real decoder, re-encode it: the same bytes come out."""
    idb = IdbStore(idb_root).get("2.26.34")
    batch, _ = decode_hex_file(testdata / "tm" / "hex" / name)
    batch = assign_pi1(batch, idb.pic())
    h = batch.headers[0]
    spid = idb.packet_type(
        int(h["service_type"]), int(h["service_subtype"]), int(batch.pi1[0])
    ).spid
    table = decode_parameters(batch, idb, spid)
    layout = compile_layout(idb, spid)
    if layout.variable:
        values = _nested(layout.nodes, table, 0, {})
    else:
        values = {n: int(table.packet_values(n, 0)[0]) for n in table.names}
    ours = read_layouts(idb_root / "2.26.34" / "idb.sqlite", [spid])[spid]
    data = encode_packet(
        ours, values, sequence_count=int(h["sequence_count"]), scet_coarse=int(h["scet_coarse"]),
        scet_fine=int(h["scet_fine"]), sequence_flag=int(h["sequence_flag"]),
        destination_id=int(h["destination_id"]),
    )  # fmt: skip
    assert data == batch.packet_bytes(0)
