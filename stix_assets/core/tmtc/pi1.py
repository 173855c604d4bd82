"""PI1 (SSID / SID / event id) of each packet, read where the IDB's PIC table says it is."""

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.tmtc.batch import PacketBatch

__all__ = ["PicMap", "assign_pi1"]

# (service, subtype) -> (byte offset from packet start, width in bits); absent = no PI1
PicMap = dict[tuple[int, int], tuple[int, int]]


def assign_pi1(batch: PacketBatch, pic: PicMap) -> PacketBatch:
    """Fill ``batch.pi1`` for every packet whose type has a PI1 in ``pic``.

    Each (service, subtype) group is read in one numpy operation. Packets too short to hold their
    PI1 keep -1.
    """
    pi1 = np.full(len(batch), -1, dtype=np.int64)
    if len(batch) == 0:
        return batch.with_pi1(pi1)
    key = batch.headers["service_type"].astype(np.int64) * 256 + batch.headers["service_subtype"]
    for k in np.unique(key):
        where = (int(k) // 256, int(k) % 256)
        if where not in pic:
            continue
        off, width_bits = pic[where]
        nbytes = (width_bits + 7) // 8
        idx = np.flatnonzero(key == k)
        ok = batch.length[idx] >= off + nbytes
        idx = idx[ok]
        raw = batch.payload_matrix(idx, off + nbytes)[:, off:]
        value = np.zeros(len(idx), dtype=np.int64)
        for b in range(nbytes):
            value = (value << 8) | raw[:, b]
        value >>= nbytes * 8 - width_bits
        pi1[idx] = value
    return batch.with_pi1(_as_int64(pi1))


def _as_int64(a: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.asarray(a, dtype=np.int64)
