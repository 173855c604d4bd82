"""CCSDS primary header + PUS TM data-field header, decoded for a whole batch with numpy.

Layout (domain doc 1.3-1.5): 6 bytes CCSDS (version 3, type 1, DFH flag 1, APID 11 | sequence
flags 2, sequence count 14 | data length 16) then 10 bytes PUS (spare 1, PUS version 3, spare 4,
service 8, subtype 8, destination 8, SCET coarse 32, SCET fine 16). The top bit of the coarse time
is the "time not synchronised" flag (set = not synchronised); it is masked off ``scet_coarse`` and
kept in ``time_sync``.
"""

import numpy as np
from numpy.typing import NDArray

__all__ = ["HEADER_DTYPE", "HEADER_SIZE", "decode_headers", "encode_header"]

HEADER_SIZE = 16
_COARSE_SYNC_BIT = np.uint32(0x80000000)

HEADER_DTYPE = np.dtype(
    [
        ("version", np.uint8),
        ("packet_type", np.uint8),
        ("header_flag", np.uint8),
        ("process_id", np.uint8),
        ("packet_category", np.uint8),
        ("apid", np.uint16),
        ("sequence_flag", np.uint8),
        ("sequence_count", np.uint16),
        ("data_length", np.uint16),
        ("pus_version", np.uint8),
        ("service_type", np.uint8),
        ("service_subtype", np.uint8),
        ("destination_id", np.uint8),
        ("scet_coarse", np.uint32),
        ("scet_fine", np.uint16),
        ("time_sync", np.bool_),
    ]
)


def decode_headers(head: NDArray[np.uint8]) -> NDArray[np.void]:
    """Decode the 16 header bytes of many packets at once.

    Parameters
    ----------
    head : (n, 16) uint8 array
        The first 16 bytes of each packet.

    Returns
    -------
    numpy structured array with `HEADER_DTYPE`, one row per packet.
    """
    head = np.asarray(head, dtype=np.uint8).reshape(-1, HEADER_SIZE)
    w = head.astype(np.uint32)
    out = np.empty(len(head), dtype=HEADER_DTYPE)
    word0 = (w[:, 0] << 8) | w[:, 1]
    word1 = (w[:, 2] << 8) | w[:, 3]
    apid = word0 & 0x7FF
    out["version"] = word0 >> 13
    out["packet_type"] = (word0 >> 12) & 1
    out["header_flag"] = (word0 >> 11) & 1
    out["apid"] = apid
    out["process_id"] = apid >> 4
    out["packet_category"] = apid & 0xF
    out["sequence_flag"] = word1 >> 14
    out["sequence_count"] = word1 & 0x3FFF
    out["data_length"] = (w[:, 4] << 8) | w[:, 5]
    out["pus_version"] = (w[:, 6] >> 4) & 0x7
    out["service_type"] = w[:, 7]
    out["service_subtype"] = w[:, 8]
    out["destination_id"] = w[:, 9]
    coarse = (w[:, 10] << 24) | (w[:, 11] << 16) | (w[:, 12] << 8) | w[:, 13]
    out["time_sync"] = (coarse & _COARSE_SYNC_BIT) == 0
    out["scet_coarse"] = coarse & ~_COARSE_SYNC_BIT
    out["scet_fine"] = (w[:, 14] << 8) | w[:, 15]
    return out


def encode_header(
    *,
    apid: int,
    sequence_flag: int,
    sequence_count: int,
    data_length: int,
    service_type: int,
    service_subtype: int,
    scet_coarse: int,
    scet_fine: int,
    destination_id: int = 0,
    time_sync: bool = True,
) -> bytes:
    """Pack one 16-byte TM header (the inverse of `decode_headers`; used by simulators and tests)."""
    word0 = (0 << 13) | (0 << 12) | (1 << 11) | (apid & 0x7FF)
    word1 = ((sequence_flag & 0x3) << 14) | (sequence_count & 0x3FFF)
    coarse = (scet_coarse & 0x7FFFFFFF) | (0 if time_sync else 0x80000000)
    return (
        word0.to_bytes(2, "big")
        + word1.to_bytes(2, "big")
        + (data_length & 0xFFFF).to_bytes(2, "big")
        + bytes([0x10, service_type & 0xFF, service_subtype & 0xFF, destination_id & 0xFF])
        + coarse.to_bytes(4, "big")
        + (scet_fine & 0xFFFF).to_bytes(2, "big")
    )
