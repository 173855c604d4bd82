"""Batch parameter decoding: every parameter of every packet of one SPID, with numpy.

Fixed layouts are one gather of all fields of all packets. Variable layouts are walked over the
layout tree, not over bits: the walk carries one cursor per packet (numpy arrays across packets),
records where each parameter occurrence sits, reads only counters on the way, and extracts all
other fields at the end with one vectorised big-endian read per parameter. A repeater group without
nested counters has a fixed size, so all its repetitions are placed at once; a group with nested
counters is walked one repetition at a time across all packets still active.

A packet whose layout reads past its own length is rejected (reported with file, index and SPID)
and the other packets still decode.
"""

import logging

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.errors import PacketDecodeError
from stix_assets.core.idb.bits import extract_bits
from stix_assets.core.idb.layout import HEADER_BITS, Field, Layout, Node, compile_layout
from stix_assets.core.idb.model import Idb
from stix_assets.core.idb.store import IdbStore
from stix_assets.core.idb.table import ParameterTable
from stix_assets.core.steps import timed
from stix_assets.core.tmtc import DecodeReport, PacketBatch, QuarantinedPacket, assign_pi1

__all__ = ["decode_batch", "decode_parameters"]

logger = logging.getLogger(__name__)

_Chunk = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64] | None]


class _Walk:
    """State of one variable-layout decode: cursors, recorded reads, rejected packets."""

    def __init__(
        self, buffer: NDArray[np.uint8], start: NDArray[np.int64], length: NDArray[np.int64]
    ):
        self.buffer = buffer
        self.start = start
        self.length = length
        self.reads: dict[str, list[_Chunk]] = {}
        self.fields: dict[str, Field] = {}
        self.bad: dict[int, str] = {}
        self.bad_mask = np.zeros(len(start), dtype=bool)

    def reject(self, pkt: NDArray[np.int64], reason: str) -> None:
        for p in np.unique(pkt).tolist():
            self.bad.setdefault(int(p), reason)
        self.bad_mask[pkt] = True

    def record(
        self, f: Field, rows: NDArray[np.int64], pos: NDArray[np.int64], val: NDArray | None = None
    ) -> None:
        self.fields.setdefault(f.name, f)
        self.reads.setdefault(f.name, []).append((rows, pos, val))

    def walk(self, nodes: tuple[Node, ...], rows: NDArray[np.int64], cur: NDArray[np.int64]):
        for node in nodes:
            f = node.field
            cur = cur + f.offset
            if not node.is_counter:
                self.record(f, rows, cur)
                cur = cur + f.width
                continue
            ok = (cur >= 0) & (cur + f.width <= self.length[rows])
            count = np.zeros(len(rows), dtype=np.int64)
            count[ok] = extract_bits(self.buffer, self.start[rows[ok]] + cur[ok], f.width)
            if not ok.all():
                self.reject(rows[~ok], f"layout beyond packet length: counter {f.name}")
            self.record(f, rows, cur, count)
            cur = cur + f.width
            count[self.bad_mask[rows]] = 0
            cur = self.group(node, rows, cur, count)
        return cur

    def group(
        self, node: Node, rows: NDArray[np.int64], cur: NDArray[np.int64], count: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        if not node.children or not np.any(count > 0):
            return cur
        if node.group_bits is not None:
            size = node.group_bits
            over = cur + count * size > self.length[rows]
            if np.any(over):
                self.reject(rows[over], f"layout beyond packet length: group of {node.field.name}")
                count = np.where(over, 0, count)
            sel = count > 0
            c = count[sel]
            rep_rows = np.repeat(rows[sel], c)
            k = np.arange(len(rep_rows), dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
            rep_pos = np.repeat(cur[sel], c) + k * size
            for child, off in zip(node.children, node.leaf_offsets, strict=True):
                self.record(child.field, rep_rows, rep_pos + off)
            return cur + count * size
        cur = cur.copy()
        for r in range(int(count.max())):
            act = np.flatnonzero((count > r) & ~self.bad_mask[rows])
            if len(act) == 0:
                break
            new = self.walk(node.children, rows[act], cur[act])
            cur[act] = new
            over = new > self.length[rows[act]]
            if np.any(over):
                self.reject(
                    rows[act][over], f"layout beyond packet length: group of {node.field.name}"
                )
        return cur


def _merge(
    chunks: list[_Chunk], n: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray | None]:
    """Concatenate the reads of one parameter, each packet's reads in stream order.

    Every chunk lists its packets in ascending order and the chunks are in stream order for each
    packet, so a stable sort on the packet index restores stream order per packet.
    """
    if len(chunks) == 1:
        return chunks[0]
    pkt = np.concatenate([c[0] for c in chunks])
    pos = np.concatenate([c[1] for c in chunks])
    vals = None
    if all(c[2] is not None for c in chunks):
        vals = np.concatenate([c[2] for c in chunks])  # type: ignore[misc]
    if np.any(pkt[1:] < pkt[:-1]):
        # stable sort; numpy uses a linear-time radix sort for 16-bit keys
        keys = pkt.astype(np.uint16) if n <= 0xFFFF else pkt
        order = np.argsort(keys, kind="stable")
        pkt, pos = pkt[order], pos[order]
        vals = None if vals is None else vals[order]
    return pkt, pos, vals


def _finish(walk: _Walk) -> tuple[dict[str, NDArray], dict[str, NDArray[np.int64]]]:
    """Check every recorded read against its packet length, then extract the values."""
    merged = {name: _merge(chunks, len(walk.start)) for name, chunks in walk.reads.items()}
    for name, (pkt, pos, _vals) in merged.items():
        beyond = pos > (walk.length - walk.fields[name].width)[pkt]
        if np.any(beyond) or (len(pos) and pos.min() < 0):
            walk.reject(pkt[beyond | (pos < 0)], f"layout beyond packet length: {name}")
    good = ~walk.bad_mask
    any_bad = not good.all()
    new_index = np.cumsum(good) - 1
    n_good = int(good.sum())
    values: dict[str, NDArray] = {}
    counts: dict[str, NDArray[np.int64]] = {}
    good_start = walk.start[good]
    for name, (all_pkt, all_pos, all_vals) in merged.items():
        pkt, pos, vals = all_pkt, all_pos, all_vals
        if any_bad:
            keep = good[all_pkt]
            pkt, pos = new_index[all_pkt[keep]], all_pos[keep]
            vals = None if all_vals is None else all_vals[keep]
        f = walk.fields[name]
        if vals is not None:
            values[name] = vals
        else:
            bitpos = good_start[pkt] + pos
            values[name] = extract_bits(walk.buffer, bitpos, f.width, signed=f.signed)
        counts[name] = np.bincount(pkt, minlength=n_good).astype(np.int64)
    return values, counts


def _decode_fixed(
    layout: Layout, buffer: NDArray[np.uint8], start: NDArray[np.int64], length: NDArray[np.int64]
) -> tuple[dict[str, NDArray], dict[str, NDArray[np.int64]], NDArray[np.int64], dict[int, str]]:
    fields = layout.fields
    pos = np.array([f.offset for f in fields], dtype=np.int64)
    width = np.array([f.width for f in fields], dtype=np.int64)
    signed = np.array([f.signed for f in fields], dtype=bool)
    end = int((pos + width).max()) if len(fields) else HEADER_BITS
    bad = {
        int(i): f"layout beyond packet length: needs {end} bits"
        for i in np.flatnonzero(length < end)
    }
    good = length >= end
    s = start[good]
    n_good = int(good.sum())
    values: dict[str, NDArray] = {}
    counts: dict[str, NDArray[np.int64]] = {}
    fast = width <= 57
    if np.any(fast) and n_good:
        table = extract_bits(
            buffer, s[:, None] + pos[fast][None, :], width[fast], signed=signed[fast]
        )
    for j, f in enumerate(fields):
        if fast[j]:
            col = int(np.count_nonzero(fast[:j]))
            vals = table[:, col] if n_good else np.zeros(0, dtype=np.int64)
        else:
            vals = extract_bits(buffer, s + pos[j], f.width, signed=f.signed)
        if f.name in values:  # a name listed twice in PLF: keep both, packet by packet
            vals = np.stack([values[f.name].reshape(n_good, -1), vals.reshape(n_good, -1)], 1)
            vals = vals.reshape(-1)
        values[f.name] = vals
        counts[f.name] = counts.get(f.name, np.zeros(n_good, np.int64)) + 1
    return values, counts, np.full(n_good, end, dtype=np.int64), bad


@timed("decode")
def decode_parameters(
    batch: PacketBatch,
    idb: Idb,
    spid: int,
    *,
    rows: NDArray[np.integer] | None = None,
) -> ParameterTable:
    """Decode every parameter of every packet of one SPID.

    Parameters
    ----------
    batch : packets (all of ``spid``, or select them with ``rows``)
    idb : the IDB version to use
    spid : the packet SPID (PID_SPID)
    rows : indices into ``batch`` of the packets to decode (default: all)

    Returns
    -------
    ParameterTable
        ``rows`` are indices into ``batch``; packets whose layout runs past their length are left
        out and listed in ``rejected``.

    Raises
    ------
    PacketDecodeError
        If the SPID's layout cannot be compiled (unknown SPID, unsupported parameter type).
    """
    layout = compile_layout(idb, spid)
    rows = np.arange(len(batch), dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    start = batch.offset[rows].astype(np.int64) * 8
    length = batch.length[rows].astype(np.int64) * 8
    if layout.variable:
        walk = _Walk(batch.buffer, start, length)
        local = np.arange(len(rows), dtype=np.int64)
        end = walk.walk(layout.nodes, local, np.full(len(rows), HEADER_BITS, dtype=np.int64))
        values, counts = _finish(walk)
        bad = walk.bad
        end = end[~walk.bad_mask]
        n_good = len(end)
        # every layout parameter is a column, in layout order, even if no packet holds it
        values = {name: values.get(name, np.zeros(0, dtype=np.int64)) for name in layout.names()}
        counts = {
            name: counts.get(name, np.zeros(n_good, dtype=np.int64)) for name in layout.names()
        }
    else:
        values, counts, end, bad = _decode_fixed(layout, batch.buffer, start, length)
    good = np.ones(len(rows), dtype=bool)
    good[list(bad)] = False
    description = next((p.description for *_, p in idb.packet_types() if p.spid == spid), "")
    rejected = tuple(
        QuarantinedPacket(
            file=batch.source_file(int(rows[i])),
            packet_index=int(rows[i]),
            reason=f"{reason} ({int(length[i]) // 8} bytes)",
            packet_id=int(batch.packet_id[rows[i]]),
            spid=spid,
            hex_prefix=batch.hex(int(rows[i]))[:32],
        )
        for i, reason in sorted(bad.items())
    )
    if rejected:
        logger.warning(
            "packets rejected spid=%d idb=%s count=%d first_file=%s first_index=%s",
            spid,
            idb.version,
            len(rejected),
            rejected[0].file,
            rejected[0].packet_index,
        )
    return ParameterTable(
        version=idb.version,
        spid=spid,
        rows=rows[good],
        values=values,
        counts=counts,
        end_bits=np.asarray(end, dtype=np.int64),
        length_bits=length[good],
        files=batch.files,
        description=description,
        rejected=rejected,
    )


def _packet_kind_groups(
    batch: PacketBatch, idx: NDArray[np.int64]
) -> dict[tuple[int, int, int], NDArray[np.int64]]:
    h = batch.headers[idx]
    key = np.stack(
        [h["service_type"].astype(np.int64), h["service_subtype"].astype(np.int64), batch.pi1[idx]],
        1,
    )
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return {tuple(int(v) for v in u): idx[inverse == i] for i, u in enumerate(uniq)}


def decode_batch(
    batch: PacketBatch, store: IdbStore
) -> tuple[dict[tuple[str, int], ParameterTable], DecodeReport]:
    """Decode a whole batch: IDB version per packet, PI1, packet type, then parameters per SPID.

    Returns
    -------
    tables : ``(idb version, spid) -> ParameterTable`` (``rows`` index ``batch``)
    report : packets of unknown type or with a layout running past their length, and the IDB
        version decisions that differ from the history (``warnings``)
    """
    report = DecodeReport()
    tables: dict[tuple[str, int], ParameterTable] = {}
    if len(batch) == 0:
        return tables, report
    coarse, fine = batch.headers["scet_coarse"], batch.headers["scet_fine"]
    versions = store.versions_for(coarse, fine)
    for res in store.resolutions_for(coarse, fine):
        if res.reason != "history":
            report.warnings.append(f"idb {res.reason}: history={res.history} used={res.used}")
    for version in sorted(set(versions.tolist())):
        idb = store.get(version)
        idx = np.flatnonzero(versions == version)
        with_pi1 = assign_pi1(batch, idb.pic())
        by_spid: dict[int, list[NDArray[np.int64]]] = {}
        for (svc, sub, pi1), rows in _packet_kind_groups(with_pi1, idx).items():
            ptype = idb.packet_type(svc, sub, pi1 if pi1 >= 0 else None)
            if ptype is None:
                _quarantine(
                    report, batch, rows, f"unknown packet type: {svc}/{sub}/{pi1} idb {version}"
                )
                continue
            by_spid.setdefault(ptype.spid, []).append(rows)
        for spid, parts in sorted(by_spid.items()):
            rows = np.sort(np.concatenate(parts))
            try:
                table = decode_parameters(with_pi1, idb, spid, rows=rows)
            except PacketDecodeError as err:
                _quarantine(report, batch, rows, f"layout error: {err.reason}", spid=spid)
                continue
            for q in table.rejected:
                report.add(q)
            if len(table):
                tables[(version, spid)] = table
    logger.debug(
        "batch decoded packets=%d tables=%d quarantined=%d",
        len(batch),
        len(tables),
        len(report.quarantined),
    )
    return tables, report


def _quarantine(
    report: DecodeReport,
    batch: PacketBatch,
    rows: NDArray[np.int64],
    reason: str,
    spid: int | None = None,
) -> None:
    for i in rows.tolist():
        report.add(
            QuarantinedPacket(
                file=batch.source_file(i),
                packet_index=i,
                reason=reason,
                packet_id=int(batch.packet_id[i]),
                spid=spid,
                hex_prefix=batch.hex(i)[:32],
            )
        )
