"""Decoding an LB file for the L0 builders: packets -> one `ParameterTable` -> `LbInput`.

The IDB version of each packet comes from ``store.versions_for`` on its SCET; each (version, SPID)
group is decoded with `stix_assets.core.idb.decode_parameters`, and the tables of several
versions are merged back into packet order (`merge_tables`). Packets that cannot be decoded are
returned as `L0Issue` values next to the input.
"""

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.errors import PacketDecodeError, ProductBuildError
from stix_assets.core.idb import IdbStore, ParameterTable, decode_parameters
from stix_assets.core.products.lb_reader import read_lb_file
from stix_assets.core.products.model import L0Issue, LbInput
from stix_assets.core.products.registry import ProductSpec, product_for
from stix_assets.core.time import scet_to_float
from stix_assets.core.tmtc import PacketBatch
from stix_assets.core.tmtc.pi1 import assign_pi1

__all__ = ["decode_lb_file", "decode_lb_files", "merge_tables"]

logger = logging.getLogger(__name__)


def merge_tables(tables: Sequence[ParameterTable]) -> ParameterTable:
    """One `ParameterTable` in batch-row order from tables of several IDB versions.

    Parameters present in only some tables get zero counts for the packets of the others.
    """
    if len(tables) == 1:
        return tables[0]
    rows = np.concatenate([t.rows for t in tables])
    order = np.argsort(rows, kind="stable")
    names: list[str] = []
    for t in tables:
        names.extend(n for n in t.values if n not in names)
    values: dict[str, NDArray] = {}
    counts: dict[str, NDArray[np.int64]] = {}
    for name in names:
        cnt_parts, val_parts = [], []
        for t in tables:
            if name in t.values:
                cnt_parts.append(t.counts[name])
                val_parts.append(np.asarray(t.values[name]))
            else:
                cnt_parts.append(np.zeros(len(t), dtype=np.int64))
        cnt = np.concatenate(cnt_parts)
        flat = np.concatenate(val_parts) if val_parts else np.zeros(0, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        new_cnt = cnt[order]
        seg_starts = starts[order]
        idx = np.repeat(seg_starts - np.concatenate([[0], np.cumsum(new_cnt)[:-1]]), new_cnt)
        idx = idx + np.arange(int(new_cnt.sum()))
        values[name] = flat[idx]
        counts[name] = new_cnt
    first = tables[0]
    return ParameterTable(
        version="+".join(t.version for t in tables),
        spid=first.spid,
        rows=rows[order],
        values=values,
        counts=counts,
        end_bits=np.concatenate([t.end_bits for t in tables])[order],
        length_bits=np.concatenate([t.length_bits for t in tables])[order],
        files=first.files,
        description=first.description,
        rejected=tuple(q for t in tables for q in t.rejected),
    )


def _empty_table(spid: int, files: tuple[str, ...]) -> ParameterTable:
    return ParameterTable(
        version="",
        spid=spid,
        rows=np.zeros(0, dtype=np.int64),
        values={},
        counts={},
        end_bits=np.zeros(0, dtype=np.int64),
        length_bits=np.zeros(0, dtype=np.int64),
        files=files,
    )


_Found = tuple[int, str, int | None]
"""A packet left out by the decoder: (batch row, reason, SPID or None)."""


def _decode(
    batch: PacketBatch, store: IdbStore
) -> tuple[ParameterTable, NDArray[np.object_], list[_Found]]:
    """Decode a batch of packets of one kind, each with the IDB version of its time.

    Returns
    -------
    params : the decoded packets in batch order (several versions merged)
    versions : the IDB version of every packet of the batch
    found : the packets left out (unknown packet type, layout error, rejected by the decoder)
    """
    h = batch.headers
    versions = store.versions_for(h["scet_coarse"], h["scet_fine"])
    tables: list[ParameterTable] = []
    found: list[_Found] = []
    spid = 0
    for version in sorted(set(versions.tolist())):
        idb = store.get(version)
        rows = np.flatnonzero(versions == version)
        with_pi1 = assign_pi1(batch, idb.pic())
        svc, sub = int(h["service_type"][rows[0]]), int(h["service_subtype"][rows[0]])
        pi1 = int(with_pi1.pi1[rows[0]])
        ptype = idb.packet_type(svc, sub, pi1 if pi1 >= 0 else None)
        if ptype is None:
            reason = (
                f"unknown packet type: {svc}/{sub}/{pi1} not in IDB {version} (kept at LB only)"
            )
            found.extend((i, reason, None) for i in rows.tolist())
            continue
        spid = ptype.spid
        try:
            table = decode_parameters(with_pi1, idb, spid, rows=rows)
        except PacketDecodeError as err:
            found.extend((i, f"layout error: {err.reason}", spid) for i in rows.tolist())
            continue
        found.extend(
            (int(q.packet_index), q.reason, spid)
            for q in table.rejected
            if q.packet_index is not None
        )
        if len(table):
            tables.append(table)
    params = merge_tables(tables) if tables else _empty_table(spid, batch.files)
    return params, versions, found


def _version_ranges(
    batch: PacketBatch, params: ParameterTable, versions: NDArray[np.object_]
) -> tuple[tuple[str, float, float], ...]:
    """(IDB version, first and last OBT) over the decoded packets of each version."""
    h = batch.headers
    rows = params.rows
    out = []
    for version in sorted(set(versions[rows].tolist())):
        mine = rows[versions[rows] == version]
        t = scet_to_float(h["scet_coarse"][mine], h["scet_fine"][mine])
        out.append((version, float(t.min()), float(t.max())))
    return tuple(out)


def _issue(
    name: str, batch: PacketBatch, row: int, reason: str, spid: int | None = None
) -> L0Issue:
    """A packet of an LB file left out of L0: LB row, TM file and XML packet id."""
    return L0Issue(name, int(row), reason, int(batch.packet_id[row]), batch.source_file(row), spid)


def decode_lb_file(path: Path, store: IdbStore, conf_dir: Path) -> tuple[LbInput, list[L0Issue]]:
    """The `LbInput` of one LB file: its packets decoded with the IDB of each packet's time.

    Returns
    -------
    inp : what the family builder gets
    issues : packets that could not be decoded (unknown packet type, layout error, rejected)

    Raises
    ------
    ProductBuildError
        If the file has no packets.
    """
    made = decode_lb_files([path], store, conf_dir)[Path(path)]
    if isinstance(made, ProductBuildError):
        raise made
    return made


def decode_lb_files(
    paths: Sequence[Path], store: IdbStore, conf_dir: Path
) -> dict[Path, tuple[LbInput, list[L0Issue]] | ProductBuildError]:
    """`decode_lb_file` of several files, the packets of each product kind decoded in one batch.

    The decoder walks a variable layout once per repetition across all packets it is given, so
    its cost grows with the calls, not the packets: the files of a level's window, decoded per
    kind, cost a fraction of decoding them one by one. Each file gets exactly what decoding it
    alone gives (its packets, rows, issues and IDB version ranges), or the `ProductBuildError`
    of a file without packets.
    """
    out: dict[Path, tuple[LbInput, list[L0Issue]] | ProductBuildError] = {}
    read: dict[Path, tuple[PacketBatch, dict[str, NDArray]]] = {}
    kinds: dict[tuple[int, int, int | None], list[Path]] = {}
    for path in map(Path, paths):
        batch, control, _prim = read_lb_file(path)
        if len(batch) == 0:
            out[path] = ProductBuildError(f"LB file {path.name} has no packets")
            continue
        read[path] = (batch, control)
        h = batch.headers
        ssid = int(batch.pi1[0]) if batch.pi1[0] >= 0 else None
        kinds.setdefault(
            (int(h["service_type"][0]), int(h["service_subtype"][0]), ssid), []
        ).append(path)
    for (svc, sub, ssid), members in kinds.items():
        spec = product_for(svc, sub, ssid)
        whole = PacketBatch.concat([read[p][0] for p in members])
        params, versions, found = _decode(whole, store)
        lo = 0
        for path in members:
            batch, control = read[path]
            hi = lo + len(batch)
            mine = params.rows_between(lo, hi, batch.files)
            out[path] = (
                _lb_input(path, spec, batch, control, mine, versions[lo:hi], store, Path(conf_dir)),
                [
                    _issue(path.name, batch, row - lo, why, spid)
                    for row, why, spid in found
                    if lo <= row < hi
                ],
            )
            lo = hi
    return out


def _lb_input(
    path: Path,
    spec: ProductSpec,
    batch: PacketBatch,
    control: dict[str, NDArray],
    params: ParameterTable,
    versions: NDArray[np.object_],
    store: IdbStore,
    conf_dir: Path,
) -> LbInput:
    rid = None
    if spec.per_request and "request_id" in control and control["request_id"].ndim == 2:
        tcc, req = (int(v) for v in control["request_id"][0])
        rid = (tcc, req)
    return LbInput(
        spec=spec,
        batch=batch,
        params=params,
        versions=versions,
        raw_file=control["raw_file"],
        packet=control["packet"].astype(np.int64),
        parent=path.name,
        request_id=rid,
        conf_dir=conf_dir,
        idb_versions=_version_ranges(batch, params, versions),
        idbs={str(v): store.get(str(v)) for v in set(versions.tolist()) if v},
    )
