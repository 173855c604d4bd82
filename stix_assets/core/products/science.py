"""Bulk-science (BSD) L0 products: X-ray RPD/CPD/SCPD/visibilities/spectrogram and aspect burst.

Domain doc 1.7, 1.8, 4.4, 4.5, 5. One product per request (tc sequence control, request id) and
per **complete** packet sequence: the packets of a request's LB file are cut with
`stix_assets.core.tmtc.split_sequences`; an incomplete sequence (missing FIRST/LAST or a gap in
the 14-bit sequence counts) produces nothing and is reported as waiting, so a later TM file
that brings the missing packet completes it (LB files merge across TM files).

CONTROL is one row per request: ``tc_packet_id_ref``, ``tc_packet_seq_control``, ``request_id``,
``time_stamp`` (NIX00402 as SCET seconds), ``num_substructures`` (NIX00403 of each packet),
``index``, ``packet``, ``raw_file``, ``parent`` and the family's extra columns. Compressed values
are decompressed with the scheme each packet carries (`stix_assets.core.products.skm`: the
ssid-21 trigger fix before IDB 2.26.35, the ssid-23 flux scheme); triggers sent scaled (scheme
0,0,7) are unscaled with the request's RID-LUT factor (empty -> 30), header ``TRIG_SCA`` and
HISTORY ``trigger descaled with <factor>``. More than one trigger scheme in a request gives
``DATAWARN = 1`` and a COMMENT. Time stamps in the SumDmask misconfiguration period (SCET coarse
659318490..668863556) get detectors 8 and 9 cleared from the mask (STIXCore issue 115).

Known differences from STIXCore (docs/decisions.md):

* quirk 4: completeness needs every sequence count (STIXCore tolerates gaps);
* quirk 8: the RPD start time (NIX00404) keeps its 0.1 s resolution (STIXCore truncates it to
  whole seconds, which can merge two sub-structures into one time bin);
* spectrogram time bins are closed per sub-structure (`spectrogram_bins`): the last sample of
  each sub-structure lasts its own closing time offset (NIX00269). STIXCore ran the delta times
  of all sub-structures together and closed only the last one, so when sub-structures cover the
  same interval in other energy ranges or time resolutions (request 0083036480) the last bin of
  each earlier sub-structure ran back to the next one's start: ``timedel = -640 s`` and
  ``XPOSURE = -640``. Ours are the real exposures (20 s there). Overlapping sub-structures still
  get ``DATAWARN = 1`` and a COMMENT, since ``time`` is then not one increasing axis;
* the L1 off-by-one fix (< IDB 2.26.36) belongs to L1 and is not applied here.
"""

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.energies import energies_table
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import Idb, ParameterTable
from stix_assets.core.products.generic import min_uint
from stix_assets.core.products.model import L0Product, LbInput
from stix_assets.core.products.skm import decompress_parameter, unscale_triggers
from stix_assets.core.time import scet_float
from stix_assets.core.tmtc import split_sequences

__all__ = [
    "DEFAULT_TRIGGER_FACTOR",
    "SUM_DMASK_SCET_COARSE_RANGE",
    "FailedSequence",
    "ScienceBuild",
    "WaitingSequence",
    "build_science",
    "build_science_l0",
    "plan_sequences",
    "spectrogram_bins",
    "subset_table",
]

logger = logging.getLogger(__name__)

SUM_DMASK_SCET_COARSE_RANGE = (659318490, 668863556)
DEFAULT_TRIGGER_FACTOR = 30
_TRIGGERS_BSD = tuple(f"NIX00{i}" for i in range(242, 258))
_TRIGGERS_RPD = tuple(f"NIX00{i}" for i in range(408, 424))
_SCALED = [0, 0, 7]
_SEQUENCE_ERRORS = (ProductBuildError, ValueError, IndexError, KeyError, OverflowError)


@dataclass(frozen=True, slots=True)
class WaitingSequence:
    """An incomplete packet sequence of a request, kept at LB until it completes."""

    parent: str
    request_id: tuple[int, int] | None
    packet_ids: tuple[int, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class FailedSequence:
    """A complete packet sequence that could not be built: its LB rows and why."""

    rows: tuple[int, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class ScienceBuild:
    """Products of one request's LB file, the sequences still waiting and those that failed."""

    products: list["L0Product"]
    waiting: list[WaitingSequence]
    failed: list[FailedSequence] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Seq:
    """One complete sequence: parameters (rows 0..n-1), versions, packets, raw files."""

    params: ParameterTable
    versions: tuple[str, ...]
    packet: NDArray[np.int64]
    raw_file: NDArray[np.bytes_]
    idbs: Mapping[str, Idb]
    factor: int


# -- sequences -----------------------------------------------------------------------------------
def plan_sequences(
    flags: NDArray[np.integer], counts: NDArray[np.integer]
) -> tuple[list[NDArray[np.int64]], list[NDArray[np.int64]]]:
    """Complete and incomplete sequences (row indices) of time-ordered packets."""
    complete, waiting = [], []
    for s in split_sequences(flags, counts):
        (complete if s.complete else waiting).append(s.rows)
    return complete, waiting


def subset_table(table: ParameterTable, keep: NDArray[np.bool_]) -> ParameterTable:
    """The table restricted to the packets where ``keep`` is True (rows renumbered 0..n-1)."""
    idx = np.flatnonzero(keep)
    values, counts = {}, {}
    for name, vals in table.values.items():
        off = table.offsets(name)
        take = np.concatenate(
            [np.arange(off[i], off[i + 1]) for i in idx] or [np.zeros(0, np.int64)]
        ).astype(np.int64)
        values[name] = np.asarray(vals)[take]
        counts[name] = table.counts[name][idx]
    return dataclasses.replace(
        table,
        rows=np.arange(len(idx), dtype=np.int64),
        values=values,
        counts=counts,
        end_bits=table.end_bits[idx],
        length_bits=table.length_bits[idx],
        engineering={},
    )


# -- helpers -------------------------------------------------------------------------------------
def _has(p: ParameterTable, name: str) -> bool:
    return name in p.values and int(p.counts[name].sum()) > 0


def _seconds(seq: _Seq, name: str) -> NDArray[np.float64]:
    """Engineering time of a 0.1 s parameter: the IDB polynomial if there is one, else raw / 10."""
    raw = np.asarray(seq.params.values[name], dtype=np.float64)
    pdef = seq.idbs[seq.versions[0]].parameter(name) if seq.versions[0] in seq.idbs else None
    poly = seq.idbs[seq.versions[0]].polynomial(pdef.curtx) if pdef and pdef.curtx else None
    if poly:
        coef = [float(c) if c not in (None, "") else 0.0 for c in poly]
        return np.round(sum(c * raw**k for k, c in enumerate(coef)), 6)
    return np.round(raw * 0.1, 6)


def _bits(values: NDArray, width: int) -> NDArray[np.uint8]:
    """Masks as 0/1 columns, bit i in column i (STIXCore's reversed binary string)."""
    v = np.asarray(values, dtype=np.uint64).reshape(-1, 1)
    return ((v >> np.arange(width, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)


def spectrogram_bins(
    delta_s: NDArray[np.float64], closing_s: NDArray[np.float64], samples: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Start and duration (s) of every spectrogram time bin (domain doc 4.4, ssid 24).

    A spectrogram request holds sub-structures one after the other; sub-structure ``i`` has
    ``samples[i]`` samples whose start times ``delta_s`` (NIX00441, from the request's time stamp)
    increase within it. A sample ends where the next sample of its own sub-structure starts; the
    last sample of sub-structure ``i`` ends ``closing_s[i]`` (NIX00269) after its start.
    Sub-structures may cover the same interval (other energy ranges or time resolutions), so the
    next sub-structure's first start says nothing about where this one ends.

    Parameters
    ----------
    delta_s : start of every sample, all sub-structures in order (``samples.sum()`` values)
    closing_s : closing time offset of each sub-structure
    samples : number of samples (NIX00089) of each sub-structure

    Returns
    -------
    tuple of numpy.ndarray
        Bin starts (``delta_s`` itself) and durations, rounded to 1 us.
    """
    ends = np.empty_like(delta_s)
    ends[:-1] = delta_s[1:]
    last = np.cumsum(samples) - 1
    ends[last] = delta_s[last] + closing_s
    return delta_s, np.round(ends - delta_s, 6)


def _substructures_overlap(
    starts: NDArray[np.float64], ends: NDArray[np.float64], samples: NDArray[np.int64]
) -> bool:
    """Whether a sub-structure starts before an earlier one has ended."""
    first = np.cumsum(samples) - samples
    last = np.cumsum(samples) - 1
    return bool(np.any(starts[first[1:]] < np.maximum.accumulate(ends[last])[:-1]))


def _fix_detector_mask(time_stamp_coarse: int, masks: NDArray[np.uint8]) -> NDArray[np.uint8]:
    lo, hi = SUM_DMASK_SCET_COARSE_RANGE
    if lo <= time_stamp_coarse <= hi:
        masks = masks.copy()
        masks[:, 8:10] = 0
    return masks


def _time_stamp(p: ParameterTable) -> tuple[int, int]:
    v = int(p.first("NIX00402")[0])
    return (v >> 16, v & 0xFFFF) if v > 0xFFFFFFFF else (v, 0)


def _control(seq: _Seq, parent: str) -> dict[str, NDArray]:
    p = seq.params
    coarse, fine = _time_stamp(p)
    return {
        "tc_packet_id_ref": p.first("NIX00001")[:1].astype(np.uint16),
        "tc_packet_seq_control": p.first("NIX00002")[:1].astype(np.uint16),
        "request_id": p.first("NIX00037")[:1].astype(np.uint32),
        "time_stamp": np.array([scet_float(coarse, fine)]),
        "num_substructures": p.values["NIX00403"].astype(np.uint16).reshape(1, -1),
        "index": np.zeros(1, dtype=np.uint8),
        "packet": seq.packet.astype(np.int64).reshape(1, -1),
        # the distinct TM files of the request, one string each (shape (1, n), as STIXCore)
        "raw_file": np.unique(seq.raw_file).reshape(1, -1),
        "parent": np.array([parent.encode("ascii")]),
    }


def _triggers(
    seq: _Seq, ssid: int, names: tuple[str, ...]
) -> tuple[NDArray, NDArray, NDArray[np.int64]]:
    """Decompressed triggers of every name, stacked on the last axis, plus the packet schemes."""
    versions = np.array(seq.versions, dtype=object)
    vals, var, skm = [], [], None
    for name in names:
        v, e, skm = decompress_parameter(seq.params, name, ssid, versions=versions)
        vals.append(v)
        var.append(e)
    return np.stack(vals, -1), np.stack(var, -1), skm  # type: ignore[return-value]


def _scheme_notes(t_skm: NDArray[np.int64]) -> tuple[list, list]:
    cards, comments = [], []
    if len(np.unique(t_skm, axis=0)) > 1:
        cards.append(("DATAWARN", 1, "See comments"))
        comments.append("Multiple compression schemes detected, trigger values maybe incorrect")
    return cards, comments


def _energy_edges(lows: NDArray, highs_plus_one: NDArray) -> NDArray[np.uint8]:
    mask = np.zeros(33, dtype=np.uint8)
    mask[np.unique(np.concatenate([lows, highs_plus_one])).astype(np.int64)] = 1
    return mask.reshape(1, -1)


# -- families ------------------------------------------------------------------------------------
@dataclass
class _Out:
    control: dict[str, NDArray]
    data: dict[str, NDArray]
    units: dict[str, str]
    cards: list
    history: list
    comments: list
    mask: NDArray[np.uint8] | None
    bunit: str = "counts"
    time_encoding: str = "cs"


def _spectrogram(seq: _Seq, parent: str) -> _Out:
    p = seq.params
    control = _control(seq, parent)
    counts, counts_var, c_skm = decompress_parameter(
        p, "NIX00268", 24, versions=np.array(seq.versions, dtype=object)
    )
    trig, trig_var, t_skm = decompress_parameter(
        p, "NIX00267", 24, versions=np.array(seq.versions, dtype=object)
    )
    control["compression_scheme_counts_skm"] = c_skm[:1].astype(np.uint8)
    control["compression_scheme_triggers_skm"] = t_skm[:1].astype(np.uint8)
    cards, comments = _scheme_notes(t_skm)
    dmask = np.unique(_bits(p.values["NIX00407"], 32), axis=0)
    dmask = _fix_detector_mask(int(control["time_stamp"][0]), dmask)
    control["detector_masks"] = dmask
    n_times = p.values["NIX00089"].astype(np.int64)
    e_min = p.values["NIXD0442"].astype(np.int64)
    e_max = p.values["NIXD0443"].astype(np.int64) + 1
    unit = p.values["NIXD0019"].astype(np.int64) + 1
    mask = np.zeros((1, 33), dtype=np.uint8)
    for lo, hi, du in zip(e_min, e_max, unit, strict=True):
        mask[0, np.arange(lo, hi + 1, du)] = 1
    control["energy_bin_edge_mask"] = mask
    delta = _seconds(seq, "NIX00441" if _has(p, "NIX00441") else "NIX00404")
    closing = _seconds(seq, "NIX00269")
    starts, timedel = spectrogram_bins(delta, closing, n_times)
    centres = starts + timedel / 2
    total = int(n_times.sum())
    counts = counts.reshape(total, -1)
    counts_var = counts_var.reshape(total, -1)
    history = []
    if t_skm[0].tolist() == _SCALED:
        trig, trig_var = unscale_triggers(
            trig, trig_var, scaled=np.ones(total, bool),
            detector_mask=np.repeat(dmask[:1], total, 0), int_time=timedel * 10,
            ssid=24, factor=seq.factor,
        )  # fmt: skip
        cards.append(("TRIG_SCA", seq.factor, "used trigger descale factor"))
        history.append(f"trigger descaled with {seq.factor}")
    if _substructures_overlap(starts, starts + timedel, n_times):
        cards.append(("DATAWARN", 1, "See comments"))
        comments.append("Sub-structures overlap in time: the time column is not monotonic")
    pixel = _bits(p.values["NIXD0407"], 12)
    data = {
        "time": control["time_stamp"][0] + centres,
        "timedel": timedel,
        "triggers": np.asarray(trig).astype(np.uint64),
        "triggers_comp_err": np.sqrt(trig_var).astype(np.float32),
        "rcr": np.repeat(p.values["NIX00401"], n_times).astype(np.uint8),
        "pixel_masks": np.repeat(pixel, n_times, axis=0),
        "counts": counts.astype(np.uint64),
        "counts_comp_err": np.sqrt(counts_var).astype(np.float32),
        "control_index": np.zeros(total, dtype=np.uint8),
    }
    units = {"counts": "count", "counts_comp_err": "count"}
    return _Out(control, data, units, cards, history, comments, mask)


def _aspect(seq: _Seq, parent: str) -> _Out:
    p = seq.params
    n = len(p)
    samples = p.first("NIX00089").astype(np.int64)
    summing = p.first("NIX00088").astype(np.uint8)
    averaging = (
        p.first("NIX00490").astype(np.uint16) if _has(p, "NIX00490") else np.ones(n, np.uint16)
    )
    rid = p.first("NIX00037").astype(np.uint32) if _has(p, "NIX00037") else np.zeros(n, np.uint32)
    period = summing.astype(np.float64) * averaging / 1000.0
    start = scet_float(p.first("NIX00445"), p.first("NIX00446"))
    k = np.arange(int(samples.sum())) - np.repeat(np.cumsum(samples) - samples, samples)
    control = {
        "summing_value": summing,
        "samples": samples.astype(np.uint16),
        "averaging_value": averaging,
        "request_id": rid,
        "raw_file": seq.raw_file,
        "packet": seq.packet.astype(np.int64),
        "parent": np.full(n, parent.encode("ascii")),
        "index": np.arange(n).astype(min_uint(n)),
    }
    data = {
        "time": np.repeat(start, samples) + k * np.repeat(period, samples),
        "timedel": np.repeat(period, samples),
        **{
            f"ch{c}_diode{d}": p.values[nix].astype(np.uint16)
            for (c, d), nix in zip(
                (("a", 0), ("a", 1), ("b", 0), ("b", 1)),
                ("NIX00090", "NIX00091", "NIX00092", "NIX00093"),
                strict=True,
            )
        },
        "control_index": np.repeat(np.arange(n), samples).astype(min_uint(n)),
    }
    return _Out(control, data, {}, [], [], [], None, bunit=" ", time_encoding="s")


def _pixel_data(seq: _Seq, parent: str, ssid: int) -> _Out:
    """Compressed (21) and summed (22) pixel data."""
    p = seq.params
    control = _control(seq, parent)
    versions = np.array(seq.versions, dtype=object)
    counts, counts_var, c_skm = decompress_parameter(p, "NIX00260", ssid, versions=versions)
    trig, trig_var, t_skm = _triggers(seq, ssid, _TRIGGERS_BSD)
    control["compression_scheme_counts_skm"] = c_skm[:1].astype(np.uint8)
    control["compression_scheme_triggers_skm"] = t_skm[:1].astype(np.uint8)
    cards, comments = _scheme_notes(t_skm)
    delta_name = "NIX00441" if _has(p, "NIX00441") else "NIX00404"
    delta = np.round(_seconds(seq, delta_name) * 10).astype(np.int64)  # deciseconds
    uniq, first = np.unique(delta, return_index=True)
    n_t = len(uniq)
    n_sets = p.values["NIX00442"].astype(np.int64)
    pm_ints = p.values["NIXD0407"].astype(np.int64)
    if ssid == 21:
        pixel_masks = np.zeros((len(n_sets), 12), dtype=np.uint8)
        bitpos = np.log2(np.maximum(pm_ints, 1)).astype(np.int64)
        pixel_masks[np.repeat(np.arange(len(n_sets)), n_sets), bitpos] = 1
    else:
        pixel_masks = _bits(pm_ints, 12).reshape(len(n_sets), -1, 12)
    dmasks = _bits(p.values["NIX00407"], 32)
    int_time = _seconds(seq, "NIX00405")
    history = []
    if t_skm[0].tolist() == _SCALED:
        trig, trig_var = unscale_triggers(
            trig, trig_var, scaled=np.ones(len(trig), bool), detector_mask=dmasks,
            int_time=int_time * 10, ssid=ssid, factor=seq.factor,
        )  # fmt: skip
        cards.append(("TRIG_SCA", seq.factor, "used trigger descale factor"))
        history.append(f"trigger descaled with {seq.factor}")
    e_low = p.values["NIXD0016"].astype(np.int64)
    e_high = p.values["NIXD0017"].astype(np.int64)
    n_e = len(np.unique(e_low))
    n_det = int(dmasks.sum(axis=1).max())
    if ssid == 21:
        per_group = p.values["NIX00259"].astype(np.int64)
        starts = np.cumsum(per_group) - per_group
        full = np.zeros((len(per_group), n_det, 12))
        full_var = np.zeros_like(full)
        for i, (s, c) in enumerate(zip(starts.tolist(), per_group.tolist(), strict=True)):
            cur = counts[s : s + c].reshape(n_det, -1)
            curv = counts_var[s : s + c].reshape(n_det, -1)
            if cur.shape[1] == 12:
                full[i], full_var[i] = cur, curv
                continue
            pm = pixel_masks[i // n_e].astype(bool)
            if pm.sum() != cur.shape[1]:
                match = np.flatnonzero(pixel_masks.sum(axis=1) == cur.shape[1])
                pm = pixel_masks[match[-1]].astype(bool)
            full[i][:, pm], full_var[i][:, pm] = cur, curv
        cube = full.reshape(n_t, n_e, n_det, 12)
        cube_var = full_var.reshape(n_t, n_e, n_det, 12)
    else:
        cube = counts.reshape(n_t, n_e, n_det, int(n_sets[0]))
        cube_var = counts_var.reshape(n_t, n_e, n_det, int(n_sets[0]))
    cube = cube.transpose(0, 2, 3, 1)
    cube_err = np.sqrt(cube_var.transpose(0, 2, 3, 1))
    if ssid == 21:
        used = np.flatnonzero(pixel_masks.sum(axis=0) > 0)
        cube, cube_err = cube[..., used, :], cube_err[..., used, :]
    control["energy_bin_edge_mask"] = _energy_edges(e_low, e_high + 1)
    dmasks = _fix_detector_mask(int(control["time_stamp"][0]), dmasks)
    if cube.shape[1] != dmasks[0].sum():
        total = cube.sum()
        nz = np.flatnonzero(cube.sum(axis=(0, 2, 3)) > 0)
        cube, cube_err = cube[:, nz], cube_err[:, nz]
        if cube.sum() != total:
            raise ProductBuildError("sliced counts do not keep the total")
    it = int_time[first]
    data = {
        "time": control["time_stamp"][0] + uniq / 10.0 + it / 2,
        "timedel": it,
        "rcr": p.values["NIX00401"][first].astype(np.uint8),
        "pixel_masks": pixel_masks[first],
        "detector_masks": dmasks[first],
        "num_pixel_sets": n_sets[first].astype(np.uint8),
        "triggers": trig[first].astype(np.uint64),
        "triggers_comp_err": np.sqrt(trig_var[first]).astype(np.float32),
        "counts": cube.astype(np.uint64),
        "counts_comp_err": cube_err.astype(np.float32),
        "control_index": np.zeros(n_t, dtype=np.uint8),
    }
    units = {"counts": "count", "counts_comp_err": "count"}
    return _Out(control, data, units, cards, history, comments, control["energy_bin_edge_mask"])


def _raw_pixel_data(seq: _Seq, parent: str) -> _Out:
    """Raw pixel data (20): sparse events with NIXD0159 continuation counts (domain doc 1.9)."""
    p = seq.params
    control = _control(seq, parent)
    cont = p.values["NIXD0159"].astype(np.int64)
    if np.any(cont > 2):
        raise ProductBuildError("NIXD0159 continuation bits above 2")
    raw = p.values["NIX00065"].astype(np.int64)
    off = np.cumsum(cont) - cont
    lo = raw[np.minimum(off, max(len(raw) - 1, 0))] if len(raw) else np.zeros(len(cont), np.int64)
    hi2 = raw[np.minimum(off + 1, max(len(raw) - 1, 0))] if len(raw) else lo
    counts_1d = np.where(cont == 0, 1, np.where(cont == 1, lo, (lo << 8) | hi2))
    start = np.round(_seconds(seq, "NIX00404") * 10).astype(np.int64)  # deciseconds (quirk 8)
    uniq, first = np.unique(start, return_index=True)
    t_idx = np.searchsorted(uniq, start)
    n_samples = p.values["NIX00406"].astype(np.int64)
    ev_t = np.repeat(t_idx, n_samples)
    pix = p.values["NIXD0158"].astype(np.int64)
    det = p.values["NIXD0153"].astype(np.int64)
    ch = p.values["NIXD0154"].astype(np.int64)
    cube = np.zeros((len(uniq), 32, 12, 32), dtype=np.uint32)
    cube[ev_t, det, pix, ch] = counts_1d
    eids = np.unique(ch)
    mask = np.zeros((1, 33), dtype=np.uint8)
    mask[0, eids] = 1
    mask[0, eids + 1] = 1
    control["energy_bin_edge_mask"] = mask
    dmasks = _fix_detector_mask(int(control["time_stamp"][0]), _bits(p.values["NIX00407"], 32))
    if cube.shape[1] != dmasks[0].sum():
        total = cube.sum()
        cube = cube[:, np.flatnonzero(cube.sum(axis=(0, 2, 3)) > 0)]
        if cube.sum() != total:
            raise ProductBuildError("sliced counts do not keep the total")
    cube = cube[..., eids]
    it = _seconds(seq, "NIX00405")[first]
    trig = np.stack([p.values[n] for n in _TRIGGERS_RPD], -1)
    data = {
        "rcr": p.values["NIX00401"][first].astype(np.uint8),
        "pixel_masks": _bits(p.values["NIXD0407"], 12)[first],
        "detector_masks": dmasks[first],
        "triggers": trig[first].astype(min_uint(int(trig.max()) if trig.size else 0)),
        "time": control["time_stamp"][0] + uniq / 10.0 + it / 2,
        "timedel": it,
        "counts": cube.astype(min_uint(int(cube.max()) if cube.size else 0)),
        "control_index": np.zeros(len(uniq), dtype=np.uint8),
    }
    return _Out(control, data, {"counts": "count"}, [], [], [], mask)


def _visibility(seq: _Seq, parent: str) -> _Out:
    p = seq.params
    control = _control(seq, parent)
    versions = np.array(seq.versions, dtype=object)
    real, real_var, c_skm = decompress_parameter(p, "NIX00263", 23, versions=versions)
    imag, imag_var, _ = decompress_parameter(p, "NIX00264", 23, versions=versions)
    flux, _, _ = decompress_parameter(p, "NIX00261", 23, versions=versions)
    trig, trig_var, t_skm = _triggers(seq, 23, _TRIGGERS_BSD)
    control["compression_scheme_counts_skm"] = c_skm[:1].astype(np.uint8)
    control["compression_scheme_triggers_skm"] = t_skm[:1].astype(np.uint8)
    delta_name = "NIX00441" if _has(p, "NIX00441") else "NIX00404"
    delta = _seconds(seq, delta_name)
    uniq, first = np.unique(delta, return_index=True)
    n_t = len(uniq)
    dmasks = _fix_detector_mask(int(control["time_stamp"][0]), _bits(p.values["NIX00407"], 32))
    int_time = _seconds(seq, "NIX00405")
    cards, history = [], []
    if t_skm[0].tolist() == _SCALED:
        trig, trig_var = unscale_triggers(
            trig, trig_var, scaled=np.ones(len(trig), bool), detector_mask=dmasks,
            int_time=int_time * 10, ssid=23, factor=seq.factor,
        )  # fmt: skip
        cards.append(("TRIG_SCA", seq.factor, "used trigger descale factor"))
        history.append(f"trigger descaled with {seq.factor}")
    e_low = p.values["NIXD0016"].astype(np.int64)
    e_high = p.values["NIXD0017"].astype(np.int64)
    control["energy_bin_edge_mask"] = _energy_edges(e_low, e_high + 1)
    n_det = int(p.values["NIX00262"][0])
    data = {
        "delta_time": delta[first],
        "control_index": np.zeros(n_t, dtype=np.int64),
        "rcr": p.values["NIX00401"][first],
        **{
            f"pixel_mask{i}": _bits(p.values[n], 12)[first]
            for i, n in enumerate(("NIXD0407", "NIXD0444", "NIXD0445", "NIXD0446", "NIXD0447"), 1)
        },
        "detector_masks": dmasks[first],
        "integration_time": int_time[first],
        "triggers": trig[first],
        "triggers_comp_err": np.sqrt(trig_var[first]),
        "flux": flux.reshape(n_t, -1),
        "detector_id": p.values["NIX00100"].reshape(n_t, -1, n_det),
        "real": real.reshape(n_t, n_det, -1),
        "real_comp_err": np.sqrt(real_var).reshape(n_t, n_det, -1),
        "imaginary": imag.reshape(n_t, n_det, -1),
        "imaginary_comp_err": np.sqrt(imag_var).reshape(n_t, n_det, -1),
        "time": control["time_stamp"][0] + uniq + int_time[first] / 2,
        "timedel": int_time[first],
    }
    return _Out(control, data, {}, cards, history, [], control["energy_bin_edge_mask"], bunit=" ")


_FAMILIES: dict[int, Callable[[_Seq, str], _Out]] = {
    20: _raw_pixel_data,
    21: lambda s, parent: _pixel_data(s, parent, 21),
    22: lambda s, parent: _pixel_data(s, parent, 22),
    23: _visibility,
    24: _spectrogram,
    42: _aspect,
}


def build_science(seq: _Seq, ssid: int, parent: str) -> _Out:
    """Build one BSD product from one complete sequence (see the module docstring)."""
    if ssid not in _FAMILIES:
        raise ProductBuildError(f"no BSD family for ssid {ssid}")
    return _FAMILIES[ssid](seq, parent)


# -- L0 framework adapter ------------------------------------------------------------------------
def _factor(inp: "LbInput") -> int:
    lookup = getattr(inp, "trigger_factor", None)
    rid = inp.request_id[1] if inp.request_id else 0
    value = lookup(rid) if callable(lookup) else None
    return int(value) if value is not None else DEFAULT_TRIGGER_FACTOR


def _to_product(inp: "LbInput", out: _Out, ssid: int) -> "L0Product":
    data = out.data
    counts = data.get("counts")
    if ssid in (23, 42) or counts is None:
        if ssid == 42:
            diodes = np.stack([data[k] for k in data if k.startswith("ch")])
            rng = (int(diodes.min()), int(diodes.max())) if diodes.size else (0, 0)
        else:
            rng = (0.0, 0.0)
    else:
        rng = (int(counts.min()), int(counts.max())) if counts.size else (0, 0)
    energies = None
    if out.mask is not None:
        start = float(np.min(data["time"] - data["timedel"] / 2))
        energies = energies_table(inp.conf_dir, start, out.mask[0])
    rid = inp.request_id
    if ssid == 42:
        rid = (-1, rid[1] if rid else 0)
    raws = sorted({r.decode("ascii") for r in np.asarray(inp.raw_file).reshape(-1).tolist()})
    return L0Product(
        spec=inp.spec,
        control=out.control,
        data=data,
        data_units=out.units,
        idb_versions=tuple(inp.idb_versions),
        energies=energies,
        header=tuple(out.cards)
        + tuple(("HISTORY", h, "") for h in out.history)
        + tuple(("COMMENT", c, "") for c in out.comments),
        parents=(inp.parent,),
        raw_files=tuple(raws),
        data_range=rng,
        bunit=out.bunit,
        request_id=rid,
        time_encoding=out.time_encoding,
    )


def build_science_l0(inp: "LbInput") -> ScienceBuild:
    """L0 builder of the BSD families: one product per complete sequence, the rest waiting."""
    from stix_assets.core.products.generic import lb_idbs

    params = inp.params
    ssid = inp.spec.ssids[0]
    h = inp.batch.headers
    rows = params.rows
    complete, waiting = plan_sequences(h["sequence_flag"][rows], h["sequence_count"][rows])
    idbs = lb_idbs(inp)
    products, waits, failed = [], [], []
    for seq_rows in waiting:
        ids = tuple(int(x) for x in np.asarray(inp.packet)[rows[seq_rows]])
        waits.append(WaitingSequence(inp.parent, inp.request_id, ids, "incomplete sequence"))
        logger.info("bsd sequence waiting file=%s packets=%d", inp.parent, len(ids))
    for seq_rows in complete:
        keep = np.zeros(len(params), dtype=bool)
        keep[seq_rows] = True
        batch_rows = rows[seq_rows]
        versions = tuple(str(v) for v in np.asarray(inp.versions)[batch_rows])
        seq = _Seq(
            params=subset_table(params, keep),
            versions=versions,
            packet=np.asarray(inp.packet)[batch_rows],
            raw_file=np.asarray(inp.raw_file)[batch_rows],
            idbs=idbs,
            factor=_factor(inp),
        )
        try:
            prod = _to_product(inp, build_science(seq, ssid, inp.parent), ssid)
            problem = prod.shape_problem() or prod.time_problem(h["scet_coarse"][batch_rows])
            if problem is not None:
                raise ProductBuildError(f"{inp.spec.key}: {problem}")
        except _SEQUENCE_ERRORS as err:
            # one bad sequence is that sequence's problem: the request's others are still built
            reason = f"sequence of {len(batch_rows)} packets not built: {type(err).__name__}: {err}"
            failed.append(FailedSequence(tuple(int(r) for r in batch_rows), reason))
            logger.warning("bsd sequence failed file=%s reason=%s", inp.parent, reason)
            continue
        products.append(prod)
    return ScienceBuild(products, waits, failed)
