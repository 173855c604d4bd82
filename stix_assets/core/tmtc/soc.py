"""Reader of SOC/EDDS XML responses (``*PktTmRaw*.xml`` TM, ``*PktTcReport*.xml`` TC reports).

The XML is streamed (``iterparse``), each ``<Packet>`` hex string is decoded, the 76-byte ground
prefix is removed and all packets of the file are put into one `PacketBatch` whose headers are
decoded in one numpy pass. Problems with single packets (bad hex, truncated, length field that
disagrees with the bytes, malformed XML after some good packets) are recorded in a `DecodeReport`;
every good packet of the file is kept.

Known difference from STIXCore (docs/decisions.md, quirk 2): STIXCore drops the first 76 bytes
blindly. We check the CCSDS length: when the bytes without prefix already fit the length field
exactly, the element had no prefix and is taken whole (with a warning).
"""

import hashlib
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stix_assets.core.errors import TMFileError
from stix_assets.core.tmtc.batch import DecodeReport, PacketBatch, QuarantinedPacket
from stix_assets.core.tmtc.headers import HEADER_SIZE, decode_headers

__all__ = [
    "SOC_PREFIX_BYTES",
    "TMFile",
    "decode_hex_file",
    "decode_tm_file",
    "is_tm_file_name",
    "packet_positions",
    "read_tm_file",
]

logger = logging.getLogger(__name__)

SOC_PREFIX_BYTES = 76
TM_NAME_RE = re.compile(r".*PktTmRaw.*\.xml$")
TC_NAME_RE = re.compile(r".*PktTcReport.*\.xml$")
_TC_APID = 1452
_SNIFF_CHARS = 1000


@dataclass(frozen=True, slots=True)
class TMFile:
    """Identity of one input file: what the catalog records about it."""

    path: Path
    name: str
    size: int
    sha256: str
    kind: str  # "TM" or "TC"


def is_tm_file_name(name: str) -> bool:
    """True for names the TM inbox accepts (``*PktTmRaw*.xml``)."""
    return TM_NAME_RE.match(name) is not None


def read_tm_file(path: Path | str) -> TMFile:
    """Identify a SOC XML file: size, sha256 and kind (TM or TC report).

    Raises
    ------
    TMFileError
        If the file is empty or is not a SOC/EDDS response.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.strip():
        raise TMFileError("empty file", file=path.name)
    head = data[:_SNIFF_CHARS].decode("utf-8", errors="replace")
    if "Response" not in head:
        raise TMFileError("not a SOC/EDDS response (no 'Response' element)", file=path.name)
    if "PktRawResponse" in head:
        kind = "TM"
    elif "PktTcReportResponse" in head:
        kind = "TC"
    else:
        raise TMFileError("SOC response of unknown kind", file=path.name)
    return TMFile(path, path.name, len(data), hashlib.sha256(data).hexdigest(), kind)


def _iter_packet_elements(path: Path, report: DecodeReport) -> Iterator[tuple[int, int, str]]:
    """Yield (element index, packetID, hex text) while streaming the XML."""
    index = 0
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            if elem.tag != "PktRawResponseElement":
                continue
            packet = elem.find("Packet")
            text = (packet.text or "") if packet is not None else ""
            try:
                packet_id = int(elem.get("packetID", index))
            except ValueError:
                packet_id = index
            yield index, packet_id, text.strip()
            index += 1
            elem.clear()
    except ET.ParseError as err:
        report.add(
            QuarantinedPacket(path.name, index, f"malformed XML: {err} (after {index} packets)")
        )
        logger.warning("tm malformed xml file=%s after_packets=%d error=%s", path.name, index, err)


def packet_positions(path: Path | str) -> dict[int, int]:
    """XML ``packetID`` -> position (0-based element) of every packet of a SOC TM file.

    Used to name a packet that a later level left out by its position in the TM file (LB files
    keep only the ``packetID``). The first element wins when an id repeats; a file that breaks
    off gives the positions before the break.
    """
    out: dict[int, int] = {}
    scratch = DecodeReport()
    for index, packet_id, _text in _iter_packet_elements(Path(path), scratch):
        out.setdefault(packet_id, index)
    return out


def _strip_prefix(raw: bytes) -> tuple[bytes, bool]:
    """Remove the SOC prefix; returns (packet bytes, prefix was present)."""

    def fits(b: bytes) -> bool:
        return len(b) >= HEADER_SIZE and int.from_bytes(b[4:6], "big") + 7 == len(b)

    with_prefix = raw[SOC_PREFIX_BYTES:]
    if fits(with_prefix):
        return with_prefix, True
    if fits(raw):
        return raw, False
    return with_prefix, True


def decode_tm_file(path: Path | str) -> tuple[TMFile, PacketBatch, DecodeReport]:
    """Read a SOC XML file into a `PacketBatch` (TC reports give an empty batch).

    Raises
    ------
    TMFileError
        If the file cannot be used at all (empty, not a SOC response).
    """
    tm = read_tm_file(path)
    report = DecodeReport()
    items: list[tuple[int, int, bytes]] = []
    if tm.kind == "TM":
        for index, packet_id, text in _iter_packet_elements(tm.path, report):
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                report.add(QuarantinedPacket(tm.name, index, "invalid hex", packet_id=packet_id))
                continue
            packet, had_prefix = _strip_prefix(raw)
            if not had_prefix:
                report.warnings.append(f"packet {index} has no SOC prefix; taken whole")
            items.append((index, packet_id, packet))
        if not items and not report.quarantined:
            report.warnings.append("no packets: a valid TM response without any packet element")
            logger.warning("tm file without packets file=%s", tm.name)
    batch = _build_batch(tm.name, items, report)
    logger.info(
        "tm decoded file=%s kind=%s packets=%d quarantined=%d",
        tm.name,
        tm.kind,
        len(batch),
        len(report.quarantined),
    )
    return tm, batch, report


def decode_hex_file(path: Path | str) -> tuple[PacketBatch, DecodeReport]:
    """Read bare packets, one hex string per line (optional ``0x``), no SOC prefix."""
    path = Path(path)
    report = DecodeReport()
    items: list[tuple[int, int, bytes]] = []
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    for index, line in enumerate(lines):
        text = line[2:] if line.lower().startswith("0x") else line
        try:
            items.append((index, index + 1, bytes.fromhex(text)))
        except ValueError:
            report.add(QuarantinedPacket(path.name, index, "invalid hex", packet_id=index + 1))
    return _build_batch(path.name, items, report), report


def _empty_batch(name: str) -> PacketBatch:
    return PacketBatch(
        headers=decode_headers(np.zeros((0, HEADER_SIZE), np.uint8)),
        pi1=np.zeros(0, np.int64),
        offset=np.zeros(0, np.int64),
        length=np.zeros(0, np.int64),
        packet_id=np.zeros(0, np.int64),
        file_index=np.zeros(0, np.int32),
        buffer=np.zeros(0, np.uint8),
        files=(name,),
        position=np.zeros(0, np.int64),
    )


def _truncated_reason(data: bytes) -> str:
    """Why a packet shorter than its headers is unusable: bytes it has and bytes it needs."""
    if len(data) >= 6:  # the CCSDS length field is readable
        needed = max(HEADER_SIZE, int.from_bytes(data[4:6], "big") + 7)
        return (
            f"truncated packet: {len(data)} bytes, needs {needed} "
            f"(CCSDS length field; at least {HEADER_SIZE} for the headers)"
        )
    return f"truncated packet: {len(data)} bytes, needs at least {HEADER_SIZE} for the headers"


def _build_batch(
    name: str, items: list[tuple[int, int, bytes]], report: DecodeReport
) -> PacketBatch:
    """Check each packet's size against its header and decode all headers at once."""
    short = [it for it in items if len(it[2]) < HEADER_SIZE]
    for index, packet_id, data in short:
        report.add(
            QuarantinedPacket(
                name,
                index,
                _truncated_reason(data),
                packet_id=packet_id,
                hex_prefix=data.hex(),
            )
        )
    items = [it for it in items if len(it[2]) >= HEADER_SIZE]
    if not items:
        return _empty_batch(name)
    buffer = np.frombuffer(b"".join(it[2] for it in items), dtype=np.uint8)
    length = np.fromiter((len(it[2]) for it in items), dtype=np.int64, count=len(items))
    offset = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
    head = buffer[offset[:, None] + np.arange(HEADER_SIZE)[None, :]]
    headers = decode_headers(head)
    element = np.fromiter((it[0] for it in items), dtype=np.int64, count=len(items))
    packet_id = np.fromiter((it[1] for it in items), dtype=np.int64, count=len(items))
    bad_length = headers["data_length"].astype(np.int64) + 7 != length
    not_tm = (headers["packet_type"] != 0) | (headers["apid"] == _TC_APID)
    for i in np.flatnonzero(bad_length | not_tm):
        if bad_length[i]:
            reason = (
                f"length mismatch: header says {int(headers['data_length'][i]) + 7} bytes, "
                f"packet has {int(length[i])}"
            )
        else:
            reason = f"not a TM packet: apid {int(headers['apid'][i])}"
        report.add(
            QuarantinedPacket(
                name,
                int(element[i]),
                reason,
                packet_id=int(packet_id[i]),
                hex_prefix=buffer[offset[i] : offset[i] + 16].tobytes().hex(),
            )
        )
    keep = ~(bad_length | not_tm)
    return PacketBatch(
        headers=headers[keep],
        pi1=np.full(int(keep.sum()), -1, dtype=np.int64),
        offset=offset[keep],
        length=length[keep],
        packet_id=packet_id[keep],
        file_index=np.zeros(int(keep.sum()), dtype=np.int32),
        buffer=buffer,
        files=(name,),
        position=element[keep],
    )
