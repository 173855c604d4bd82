"""Shared pieces of the demo simulator: instrument settings, the packet record, compression."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.compression import compress, max_value

__all__ = [
    "CADENCE_S",
    "DET_MASK",
    "PIXEL_MASK",
    "SKM_CPD",
    "SKM_QL",
    "TC_PACKET_ID",
    "SimPacket",
    "comp",
]

CADENCE_S = 4.0
DET_MASK = 0xFFFFFCFF  # detectors 9 and 10 (BKG, CFL; index 8, 9) masked out, as in flight
PIXEL_MASK = 0xFFF
SKM_QL = (0, 5, 3)  # counts and triggers of every QL product in flight
SKM_CPD = (0, 4, 4)  # counts of the real CPD packets; also used for its triggers (see requests)
TC_PACKET_ID = 0x1DAC  # packet id of a TC to APID 1452


@dataclass(frozen=True, slots=True)
class SimPacket:
    """One packet to encode: SPID, header SCET (generation time, s), values, sequence flag."""

    spid: int
    scet: float
    values: dict
    sequence_flag: int = 3


def comp(values: NDArray | float, skm: tuple[int, int, int]) -> NDArray[np.int64]:
    """Round, clip to the scheme's range and compress (S/K/M, STIX-TN-0117-FHNW)."""
    s, k, m = skm
    clipped = np.clip(np.rint(values), 0, max_value(k=k, m=m)).astype(np.int64)
    return compress(clipped, s=s, k=k, m=m)
