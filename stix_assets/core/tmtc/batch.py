"""A batch of packets: one header row per packet plus one contiguous byte buffer."""

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["DecodeReport", "PacketBatch", "QuarantinedPacket"]

_REPORT_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class QuarantinedPacket:
    """A packet (or part of a file) that could not be used, and why.

    Attributes
    ----------
    file : the TM file the packet came from
    packet_index : its position in that file (0-based ``<PktRawResponseElement>`` index, or line
        of a hex file); ``None`` for a problem of the whole file or an unknown position
    reason : why, starting with a category (the text before the first colon)
    packet_id : the XML ``packetID`` attribute
    spid : the packet's SPID, where known
    hex_prefix : the first 16 bytes of the packet as hex (headers), where known
    """

    file: str
    packet_index: int | None
    reason: str
    packet_id: int | None = None
    spid: int | None = None
    hex_prefix: str = ""

    def as_dict(self) -> dict[str, object]:
        """Plain values for metadata and the catalog."""
        return {
            "file": self.file,
            "packet_index": self.packet_index,
            "packet_id": self.packet_id,
            "spid": self.spid,
            "reason": self.reason,
        }


@dataclass(slots=True)
class DecodeReport:
    """Per-packet problems found while decoding: counts by reason plus the cases themselves."""

    quarantined: list[QuarantinedPacket] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kept: list[QuarantinedPacket] = field(default_factory=list)

    def add(self, item: QuarantinedPacket) -> None:
        """Record one quarantined packet (left out of every product)."""
        self.quarantined.append(item)

    def keep(self, item: QuarantinedPacket) -> None:
        """Record a packet that is kept (at LB only) but has a problem worth reporting."""
        self.kept.append(item)

    def extend(self, other: "DecodeReport") -> None:
        """Merge another report into this one."""
        self.quarantined.extend(other.quarantined)
        self.warnings.extend(other.warnings)
        self.kept.extend(other.kept)

    def counts_by_reason(self) -> dict[str, int]:
        """Number of quarantined packets per reason (the reason text up to the first colon)."""
        counts: dict[str, int] = {}
        for q in self.quarantined:
            key = q.reason.split(":", 1)[0]
            counts[key] = counts.get(key, 0) + 1
        return counts

    def as_metadata(self) -> dict[str, object]:
        """Counts plus the first cases, small enough for Dagster metadata."""
        return {
            "quarantined": len(self.quarantined),
            "by_reason": self.counts_by_reason(),
            "examples": [q.as_dict() for q in self.quarantined[:_REPORT_EXAMPLES]],
            "kept_at_lb_only": len(self.kept),
            "kept_examples": [q.as_dict() for q in self.kept[:_REPORT_EXAMPLES]],
            "warnings": self.warnings[:_REPORT_EXAMPLES],
        }


@dataclass(frozen=True, slots=True)
class PacketBatch:
    """Packets of one or more TM files, decoded headers as numpy columns.

    Attributes
    ----------
    headers : structured array (`stix_assets.core.tmtc.headers.HEADER_DTYPE`)
    pi1 : int64 array, the packet's PI1 value (SSID / SID / event id), -1 where the type has none
    offset, length : int64 arrays, where each packet (CCSDS header included) sits in ``buffer``
    packet_id : int64 array, the XML ``packetID`` attribute (provenance back to the raw file)
    file_index : int32 array, index into ``files``
    buffer : uint8 array holding all packets back to back
    files : tuple of source file names
    position : int64 array, each packet's position in its source file (0-based element of a SOC
        XML file, line of a hex file); ``None`` when unknown (packets read back from LB files)
    """

    headers: NDArray[np.void]
    pi1: NDArray[np.int64]
    offset: NDArray[np.int64]
    length: NDArray[np.int64]
    packet_id: NDArray[np.int64]
    file_index: NDArray[np.int32]
    buffer: NDArray[np.uint8]
    files: tuple[str, ...]
    position: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.headers)

    def position_of(self, i: int) -> int | None:
        """Position of packet ``i`` in its source file, ``None`` when unknown."""
        if self.position is None:
            return None
        pos = int(self.position[i])
        return pos if pos >= 0 else None

    def packet_bytes(self, i: int) -> bytes:
        """The complete bytes of packet ``i``."""
        start = int(self.offset[i])
        return self.buffer[start : start + int(self.length[i])].tobytes()

    def hex(self, i: int) -> str:
        """Lower-case hex of packet ``i`` (the LB DATA column form)."""
        return self.packet_bytes(i).hex()

    def source_file(self, i: int) -> str:
        """Name of the TM file packet ``i`` came from."""
        return self.files[int(self.file_index[i])]

    def take(self, index: NDArray[np.integer] | slice) -> "PacketBatch":
        """A batch with the selected packets (the byte buffer is shared, not copied)."""
        return PacketBatch(
            headers=self.headers[index],
            pi1=self.pi1[index],
            offset=self.offset[index],
            length=self.length[index],
            packet_id=self.packet_id[index],
            file_index=self.file_index[index],
            buffer=self.buffer,
            files=self.files,
            position=None if self.position is None else self.position[index],
        )

    def with_pi1(self, pi1: NDArray[np.int64]) -> "PacketBatch":
        """The same batch with PI1 values filled in."""
        return PacketBatch(
            headers=self.headers,
            pi1=np.asarray(pi1, dtype=np.int64),
            offset=self.offset,
            length=self.length,
            packet_id=self.packet_id,
            file_index=self.file_index,
            buffer=self.buffer,
            files=self.files,
            position=self.position,
        )

    def payload_matrix(self, index: NDArray[np.integer], width: int) -> NDArray[np.uint8]:
        """Bytes ``0..width`` of the selected packets as an (n, width) matrix, zero padded.

        Packets shorter than ``width`` are padded with zeros so a fixed layout can be read with
        one fancy-index operation.
        """
        index = np.asarray(index)
        starts = self.offset[index]
        cols = np.arange(width, dtype=np.int64)
        pos = starts[:, None] + cols[None, :]
        valid = cols[None, :] < self.length[index][:, None]
        pos = np.where(valid, pos, 0)
        out = self.buffer[pos]
        out[~valid] = 0
        return out

    @staticmethod
    def concat(batches: "list[PacketBatch]") -> "PacketBatch":
        """Join batches (from several files) into one."""
        if len(batches) == 1:
            return batches[0]
        files: list[str] = []
        parts = []
        base = 0
        for b in batches:
            file_base = len(files)
            files.extend(b.files)
            parts.append((b, base, file_base))
            base += len(b.buffer)
        return PacketBatch(
            headers=np.concatenate([b.headers for b, _, _ in parts]),
            pi1=np.concatenate([b.pi1 for b, _, _ in parts]),
            offset=np.concatenate([b.offset + off for b, off, _ in parts]),
            length=np.concatenate([b.length for b, _, _ in parts]),
            packet_id=np.concatenate([b.packet_id for b, _, _ in parts]),
            file_index=np.concatenate([b.file_index + fb for b, _, fb in parts]).astype(np.int32),
            buffer=np.concatenate([b.buffer for b, _, _ in parts]),
            files=tuple(files),
            position=np.concatenate(
                [
                    np.full(len(b), -1, np.int64) if b.position is None else b.position
                    for b, _, _ in parts
                ]
            ),
        )
