import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from stix_assets.core.tmtc import decode_headers, encode_header


@given(
    apid=st.integers(0, 2047),
    sequence_flag=st.integers(0, 3),
    sequence_count=st.integers(0, 16383),
    data_length=st.integers(0, 65535),
    service_type=st.integers(0, 255),
    service_subtype=st.integers(0, 255),
    destination_id=st.integers(0, 255),
    scet_coarse=st.integers(0, 2**31 - 1),
    scet_fine=st.integers(0, 65535),
    time_sync=st.booleans(),
)
@example(  # the edges: largest count, fine time and coarse time with the sync bit set
    apid=2047,
    sequence_flag=3,
    sequence_count=16383,
    data_length=65535,
    service_type=255,
    service_subtype=255,
    destination_id=255,
    scet_coarse=2**31 - 1,
    scet_fine=65535,
    time_sync=False,
)
def test_header_round_trip(**fields):
    row = decode_headers(np.frombuffer(encode_header(**fields), dtype=np.uint8))[0]
    for name, value in fields.items():
        assert row[name] == value, name
    assert row["process_id"] == fields["apid"] >> 4
    assert row["packet_category"] == fields["apid"] & 0xF
    assert row["pus_version"] == 1


def test_worked_example_hk_maxi():
    # domain doc 1.9: 3_25_2.hex -> APID 1444, flag 3, psc 3883, length 102, SCET 660258881:33104
    head = bytes.fromhex("0da4cf2b006610031900275ac0418150")
    row = decode_headers(np.frombuffer(head, dtype=np.uint8))[0]
    assert (row["apid"], row["sequence_flag"], row["sequence_count"]) == (1444, 3, 3883)
    assert (row["data_length"], row["service_type"], row["service_subtype"]) == (102, 3, 25)
    assert (row["scet_coarse"], row["scet_fine"], bool(row["time_sync"])) == (
        660258881,
        33104,
        True,
    )


def test_unsynchronised_time_bit_is_masked_and_kept():
    # ground-test packets carry the "time not synchronised" MSB (STIXCore dates them in 2086)
    head = encode_header(
        apid=1441,
        sequence_flag=3,
        sequence_count=1,
        data_length=9,
        service_type=1,
        service_subtype=1,
        scet_coarse=596455937,
        scet_fine=1,
        time_sync=False,
    )
    assert head[10] & 0x80
    row = decode_headers(np.frombuffer(head, dtype=np.uint8))[0]
    assert row["scet_coarse"] == 596455937
    assert not row["time_sync"]
