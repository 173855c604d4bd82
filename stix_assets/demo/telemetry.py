"""Encode the simulated packets and file them as SOC/EDDS XML responses, like downlinks arrive.

Packets are ordered by generation time (header SCET); every APID has its own 14-bit sequence
counter (wrapping at 16384, started at a fixed value per APID so the demo crosses a wrap). Each UTC
day is cut into `PASSES_PER_DAY` downlink passes: a file holds the packets generated during one
pass window, named like SOC batch responses,
``TM_BatchRequest.PktTmRaw.SOL.0.<yyyy>.<doy>.<hh>.<mm>.<ss>.000.demo@<delivery>.1.xml``.
The bulk-science requests land in the window of their execution time. Every element carries a
76-byte all-zero SOC prefix (as some real packets do) and a ``packetID`` unique within the file.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from stix_assets.core.time import scet_split
from stix_assets.demo.common import SimPacket
from stix_assets.demo.encoder import PacketLayout, encode_packet
from stix_assets.demo.kernels import utc_from_scet

__all__ = ["PASSES_PER_DAY", "EncodedPacket", "encode_packets", "write_tm_files"]

logger = logging.getLogger(__name__)

PASSES_PER_DAY = 3
_PREFIX = "00" * 76
_FIRST_COUNT = {1444: 15000, 1500: 9000, 1468: 16380}
_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<ns2:ResponsePart xmlns:ns2="http://edds.egos.esa/model">\n'
    "    <Response>\n        <PktRawResponse>\n"
)
_TAIL = "</PktRawResponse>\n    </Response>\n</ns2:ResponsePart>\n"


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One encoded packet with its generation time (SCET seconds) and APID."""

    scet: float
    apid: int
    sequence_count: int
    data: bytes


def encode_packets(
    packets: list[SimPacket], layouts: dict[int, PacketLayout]
) -> list[EncodedPacket]:
    """Order packets by generation time, number them per APID and encode them."""
    order = sorted(range(len(packets)), key=lambda i: (packets[i].scet, i))
    counters = dict(_FIRST_COUNT)
    out = []
    for i in order:
        pkt = packets[i]
        layout = layouts[pkt.spid]
        count = counters.get(layout.apid, 0) % 16384
        counters[layout.apid] = count + 1
        coarse, fine = scet_split(pkt.scet, clamp=True)
        data = encode_packet(
            layout, pkt.values, sequence_count=count, scet_coarse=coarse, scet_fine=fine,
            sequence_flag=pkt.sequence_flag,
        )  # fmt: skip
        out.append(EncodedPacket(pkt.scet, layout.apid, count, data))
    return out


def _stamp(when: datetime) -> str:
    return f"{when:%Y}.{when.timetuple().tm_yday:03d}.{when:%H.%M.%S}.000"


def write_tm_files(packets: list[EncodedPacket], folder: Path) -> list[Path]:
    """Write the packets into one XML file per downlink pass window; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    windows: dict[object, list[EncodedPacket]] = defaultdict(list)
    window_s = 86400 // PASSES_PER_DAY
    for pkt in packets:
        utc = utc_from_scet(pkt.scet)
        start = utc.replace(hour=0, minute=0, second=0, microsecond=0)
        start += timedelta(seconds=(utc - start).total_seconds() // window_s * window_s)
        windows[start].append(pkt)
    paths = []
    for start in sorted(windows):
        delivery = start + timedelta(seconds=window_s + 1800)
        name = f"TM_BatchRequest.PktTmRaw.SOL.0.{_stamp(start)}.demo@{_stamp(delivery)}.1.xml"
        body = "".join(
            f'<PktRawResponseElement packetID="{k}">\n    <Packet>{_PREFIX}{p.data.hex()}</Packet>\n'
            "</PktRawResponseElement>"
            for k, p in enumerate(windows[start], start=1)
        )
        path = folder / name
        text = _HEAD + body + "\n" + _TAIL
        # an unchanged file is left untouched: a rebuild must not look like a new delivery
        if not (path.is_file() and path.read_text() == text):
            path.write_text(text)
        paths.append(path)
    logger.info("demo tm written folder=%s files=%d packets=%d", folder, len(paths), len(packets))
    return paths
