"""`ParameterTable`: the decoded parameters of a batch of packets of one SPID."""

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.tmtc import QuarantinedPacket

__all__ = ["ParameterTable"]


@dataclass(frozen=True, slots=True)
class ParameterTable:
    """Raw (and optionally engineering) parameter values of packets of one SPID and IDB version.

    Each parameter keeps its IDB name (``NIX00405``). ``values[name]`` holds the raw values of all
    packets back to back, each packet's occurrences in stream order (repeated parameters flattened
    per packet as STIXCore does); ``counts[name][i]`` says how many belong to packet ``i``.

    Attributes
    ----------
    version, spid : IDB version label and packet SPID
    rows : int64, index of each decoded packet in the batch given to the decoder
    values : name -> int64 array (uint64 for 58-64 bit fields, object for wider ones)
    counts : name -> int64 array, one entry per packet
    end_bits : int64, bit (from the packet start) where the layout ended, per packet
    length_bits : int64, packet length in bits, per packet
    files : source file names (``batch.files``)
    description : PID description of the SPID
    rejected : packets of the input batch that could not be decoded, and why
    engineering : name -> calibrated values (same flat layout as ``values``), see `calibrate`
    calibration_issues : human-readable notes from calibration (e.g. raw values kept)
    """

    version: str
    spid: int
    rows: NDArray[np.int64]
    values: dict[str, NDArray]
    counts: dict[str, NDArray[np.int64]]
    end_bits: NDArray[np.int64]
    length_bits: NDArray[np.int64]
    files: tuple[str, ...] = ()
    description: str = ""
    rejected: tuple[QuarantinedPacket, ...] = ()
    engineering: dict[str, object] = field(default_factory=dict)
    calibration_issues: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def names(self) -> list[str]:
        """Parameter names in layout order."""
        return list(self.values)

    def offsets(self, name: str) -> NDArray[np.int64]:
        """Start of each packet's values of ``name`` in ``values[name]`` (length n + 1)."""
        c = self.counts[name]
        out = np.zeros(len(c) + 1, dtype=np.int64)
        np.cumsum(c, out=out[1:])
        return out

    def split(self, name: str, *, engineering: bool = False) -> list[NDArray]:
        """Values of ``name`` as one array per packet."""
        data = self.engineering[name] if engineering else self.values[name]
        return np.split(np.asarray(data), self.offsets(name)[1:-1])

    def packet_values(self, name: str, i: int) -> NDArray:
        """Raw values of ``name`` in packet ``i``."""
        off = self.offsets(name)
        return self.values[name][off[i] : off[i + 1]]

    def value(self, name: str) -> object:
        """Engineering values where a calibration exists, else the raw values."""
        return self.engineering.get(name, self.values[name])

    def first(self, name: str) -> NDArray:
        """Return the first value of ``name`` in each packet (a packet without one is an error)."""
        c = self.counts[name]
        if np.any(c == 0):
            raise KeyError(f"{name} absent from {int(np.sum(c == 0))} packets")
        return self.values[name][self.offsets(name)[:-1]]

    def with_engineering(
        self, engineering: dict[str, object], issues: tuple[str, ...] = ()
    ) -> "ParameterTable":
        """Return a copy with engineering values attached."""
        return dataclasses.replace(
            self,
            engineering=dict(engineering),
            calibration_issues=self.calibration_issues + tuple(issues),
        )

    def with_rows(self, rows: NDArray[np.int64]) -> "ParameterTable":
        """Return a copy whose ``rows`` refer to another batch."""
        return dataclasses.replace(self, rows=np.asarray(rows, dtype=np.int64))

    def rows_between(self, lo: int, hi: int, files: tuple[str, ...]) -> "ParameterTable":
        """The packets whose batch row is in ``[lo, hi)``, rows counted from ``lo``.

        One file's part of a table decoded from several files' batches (rejected packets too).
        ``rows`` must be sorted (as the decoders and `merge_tables` return them); ``files`` are
        the source files of the part's own batch. Raw values only (no engineering values yet).
        """
        if self.engineering:
            raise ValueError("rows_between splits raw values; calibrate the parts instead")
        i0, i1 = np.searchsorted(self.rows, [lo, hi])
        values, counts = {}, {}
        for name, vals in self.values.items():
            off = self.offsets(name)
            values[name] = vals[off[i0] : off[i1]]
            counts[name] = self.counts[name][i0:i1]
        rejected = tuple(
            dataclasses.replace(q, packet_index=q.packet_index - lo)
            for q in self.rejected
            if q.packet_index is not None and lo <= q.packet_index < hi
        )
        return dataclasses.replace(
            self,
            rows=self.rows[i0:i1] - lo,
            values=values,
            counts=counts,
            end_bits=self.end_bits[i0:i1],
            length_bits=self.length_bits[i0:i1],
            files=files,
            rejected=rejected,
        )

    def as_metadata(self) -> dict[str, object]:
        """Plain values for metadata."""
        return {
            "idb_version": self.version,
            "spid": self.spid,
            "packets": len(self),
            "parameters": len(self.values),
            "files": list(self.files),
            "rejected": len(self.rejected),
        }
