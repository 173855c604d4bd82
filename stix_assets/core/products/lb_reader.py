"""Reading LB files back: the packets of an LB file as a `PacketBatch`.

The inverse of `stix_assets.core.products.lb.write_lb`, which writes one CONTROL row per packet
(header fields, ``raw_file``, ``packet``, ``ssid``, ``request_id``) and one DATA row with
``control_index`` and the lower-case hex of the complete packet. The L0 framework reads its input
with `read_lb_file`.
"""

import logging
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.fits import read_fits
from stix_assets.core.tmtc import PacketBatch
from stix_assets.core.tmtc.headers import HEADER_DTYPE, HEADER_SIZE, decode_headers

__all__ = ["read_lb_file"]

logger = logging.getLogger(__name__)


def read_lb_file(path: Path | str) -> tuple[PacketBatch, dict[str, NDArray], dict[str, object]]:
    """An LB file as a `PacketBatch` plus its CONTROL columns and primary header values.

    The DATA hex strings become one byte buffer (numpy, no per-packet Python decode of bytes);
    headers are decoded from the packet bytes exactly as from a TM file.
    """
    path = Path(path)
    content = read_fits(path)
    control, data = content.tables["CONTROL"], content.tables["DATA"]
    order = np.argsort(data["control_index"], kind="stable")
    pos = np.searchsorted(data["control_index"][order], control["index"])
    hexes = np.char.rstrip(data["data"][order][pos])
    n = len(hexes)
    lengths = np.char.str_len(hexes).astype(np.int64) // 2
    joined = b"".join(hexes.tolist())
    buffer = np.frombuffer(bytes.fromhex(joined.decode("ascii")), dtype=np.uint8).copy()
    offset = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=offset[1:])
    head = buffer[offset[:, None] + np.arange(HEADER_SIZE)[None, :]]
    headers = decode_headers(head) if n else np.zeros(0, dtype=HEADER_DTYPE)
    raw = control["raw_file"]
    files = tuple(sorted({r.decode("ascii") for r in raw.tolist()})) or (path.name,)
    file_index = np.searchsorted(np.array([f.encode("ascii") for f in files]), raw)
    pi1 = (
        control["ssid"].astype(np.int64)
        if "ssid" in (control.dtype.names or ())
        else np.full(n, -1, dtype=np.int64)
    )
    batch = PacketBatch(
        headers=headers,
        pi1=pi1,
        offset=offset,
        length=lengths,
        packet_id=control["packet"].astype(np.int64),
        file_index=file_index.astype(np.int32),
        buffer=buffer,
        files=files,
    )
    cols = {name: control[name] for name in control.dtype.names or ()}
    prim = dict(content.primary_values)
    return batch, cols, prim
