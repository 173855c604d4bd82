"""Quick-look L0 families (21/6 ssid 30-34, 43) and the energy-calibration spectra (ssid 41).

Layouts follow STIXCore's L0 products (domain doc 4.2, 4.6), checked column by column against
the STIXCore reference files in ``stix_assets_tests/realdata/test_l0_reference.py``. Every
builder takes an `LbInput` (all packets of one LB file, decoded) and works on whole arrays:
per-packet counts become index arithmetic with ``np.repeat``, no loop over packets.

Common to all QL families: CONTROL ``scet_coarse`` (NIX00445), ``scet_fine`` (NIX00446),
``integration_time`` = (NIX00405 + 1) * 0.1 s, ``index``, ``raw_file``, ``packet``, ``parent``;
sample k of a packet is centred at ``SCET + k * it + it / 2`` with ``timedel = it``.
Compressed values are decompressed with the scheme their packet sends (`skm`); ``*_comp_err``
is the square root of the compression variance as float32. Triggers sent with scheme (0, 0, 7)
are unscaled with the QL factor 30 (background and spectra: only the background detector, index
9, counts as active).

Known differences from STIXCore (docs/decisions.md):

* TM status / flare list (43) with flares listed: STIXCore's branch raises (quirk 9); we write one
  row per flare with the packet's time.
* cal-energy: a packet whose points do not match its sub-spectrum channels (the ``hexpackets``
  single last segment of a spectrum, where STIXCore raised ``IndexError`` in its rebinning) is
  reported as an `L0Issue` with the reason instead of an exception; no file, as in STIXCore.
"""

import dataclasses
import logging
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.energies import energies_table
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import ParameterTable
from stix_assets.core.products.dtypes import min_uint
from stix_assets.core.products.model import L0Product, LbInput
from stix_assets.core.products.skm import (
    QL_TRIGGER_FACTOR,
    TRIGGER_SCALED_SKM,
    decompress_parameter,
    unscale_triggers,
)
from stix_assets.core.time import scet_float

__all__ = [
    "build_background",
    "build_cal_energy",
    "build_flareflag",
    "build_lightcurve",
    "build_spectra",
    "build_tmstatusflarelist",
    "build_variance",
    "rebin_proportional",
]

logger = logging.getLogger(__name__)

_BKG_MASK = np.zeros(32, dtype=np.uint8)
_BKG_MASK[9] = 1  # only the background detector counts for QL background / spectra triggers
_COUNT = "count"


# -- shared pieces -------------------------------------------------------------------------------
def _bits(values: NDArray, n: int) -> NDArray[np.uint8]:
    """Bits of integers, LSB first, as (len, n) uint8."""
    v = np.asarray(values, dtype=np.uint64).reshape(-1, 1)
    return ((v >> np.arange(n, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)


def _skm_column(skm: NDArray[np.int64]) -> NDArray[np.uint8]:
    return skm.astype(np.uint8)


def _ql_control(inp: LbInput) -> tuple[dict[str, NDArray], NDArray[np.float64]]:
    """Common QL CONTROL columns and the integration time (s) per packet."""
    p = inp.params
    n = len(p)
    coarse = p.first("NIX00445").astype(np.uint32)
    fine = (
        p.first("NIX00446").astype(np.int64)
        if p.counts.get("NIX00446") is not None and np.all(p.counts["NIX00446"] > 0)
        else np.zeros(n, dtype=np.int64)
    )
    it = (p.first("NIX00405").astype(np.float64) + 1.0) * 0.1
    rows = p.rows
    raw = inp.raw_file[rows]
    control: dict[str, NDArray] = {
        "scet_coarse": coarse,
        "scet_fine": fine,
        "integration_time": it,
        "index": np.arange(n).astype(min_uint(max(n - 1, 0))),
        "raw_file": raw,
        "packet": inp.packet[rows].astype(np.int64),
        "parent": np.full(n, inp.parent.encode("ascii")),
    }
    return control, it


def _sample_times(
    control: dict[str, NDArray], it: NDArray[np.float64], n_samples: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Bin centres, durations and control index of every sample (packets back to back)."""
    base = scet_float(control["scet_coarse"], control["scet_fine"])
    pkt = np.repeat(np.arange(len(base)), n_samples)
    k = np.arange(len(pkt)) - np.repeat(np.cumsum(n_samples) - n_samples, n_samples)
    dt = it[pkt]
    return base[pkt] + k * dt + dt / 2, dt, pkt


def _product(inp: LbInput, control: dict, data: dict, **kw: object) -> L0Product:
    return L0Product(
        spec=inp.spec,
        control=control,
        data=data,
        control_units={"integration_time": "s"} if "integration_time" in control else {},
        idb_versions=inp.idb_versions,
        parents=(inp.parent,),
        raw_files=tuple(sorted({r.decode("ascii") for r in control["raw_file"].tolist()})),
        **kw,  # type: ignore[arg-type]
    )


def _range(values: NDArray) -> tuple[int, int]:
    if values.size == 0:
        return 0, 0
    return int(values.min()), int(values.max())


def _energy_matrix(
    values: NDArray, n_eng: NDArray[np.int64], n_sam: NDArray[np.int64], name: str
) -> NDArray:
    """Per-packet (energy, sample) blocks to (samples, energies) rows, all packets stacked."""
    if len(n_eng) and np.any(n_eng != n_eng[0]):
        raise ProductBuildError(f"{name}: number of energies changes between packets")
    e = int(n_eng[0]) if len(n_eng) else 0
    if int(np.sum(n_eng * n_sam)) != len(values):
        raise ProductBuildError(
            f"{name}: {len(values)} values for {int(np.sum(n_eng * n_sam))} (energies x samples)"
        )
    start = np.cumsum(n_eng * n_sam) - n_eng * n_sam
    pkt = np.repeat(np.arange(len(n_sam)), n_sam)
    k = np.arange(len(pkt)) - np.repeat(np.cumsum(n_sam) - n_sam, n_sam)
    idx = (start[pkt] + k)[:, None] + np.arange(e)[None, :] * n_sam[pkt][:, None]
    return values[idx]


def _last_per_packet(p_values: NDArray, counts: NDArray[np.int64]) -> NDArray[np.int64]:
    ends = np.cumsum(counts) - 1
    return np.asarray(p_values)[ends].astype(np.int64)


def _triggers(
    inp: LbInput,
    name: str,
    ssid: int,
    det_mask: NDArray,
    it: NDArray[np.float64],
) -> tuple[NDArray, NDArray, NDArray[np.int64], list[str]]:
    """Decompressed (and unscaled) triggers of every sample, their variance and SKM per packet."""
    p = inp.params
    trig, var, skm = decompress_parameter(p, name, ssid, versions=inp.versions[p.rows])
    scaled = np.all(skm == TRIGGER_SCALED_SKM, axis=1)
    notes: list[str] = []
    if scaled.any():
        pkt = np.repeat(np.arange(len(p)), p.counts[name])
        t, v = unscale_triggers(
            trig,
            var,
            scaled=scaled[pkt],
            detector_mask=np.asarray(det_mask)[pkt],
            int_time=np.round(it[pkt] * 10),
            ssid=ssid,
        )
        trig, var = np.round(t).astype(np.int64), v
        notes.append(f"triggers unscaled with factor {QL_TRIGGER_FACTOR}")
    return trig, var, skm, notes


def _trig_cards(notes: list[str]) -> tuple[tuple[str, object, str], ...]:
    if not notes:
        return ()
    return (("TRIG_SCA", QL_TRIGGER_FACTOR, "trigger scaling factor used"),)


def _triggered_counts(
    inp: LbInput,
    control: dict,
    it: NDArray,
    edges: NDArray,
    det: NDArray,
    counts_param: str,
    ssid: int,
    shape: tuple[NDArray[np.int64], NDArray[np.int64]],
    *,
    per_sample: Mapping[str, NDArray],
    what: str,
) -> list[L0Product]:
    """The product of a QL family with counts per energy and sample plus triggers (30, 31).

    ``shape`` is (energies, samples) per packet; ``per_sample`` columns (the light curve's
    ``rcr``) stand between the triggers and the counts, as in STIXCore.
    """
    p = inp.params
    n_eng, n_sam = shape
    counts, counts_var, skm_c = decompress_parameter(
        p, counts_param, ssid, versions=inp.versions[p.rows]
    )
    control["compression_scheme_counts_skm"] = _skm_column(skm_c)
    trig, trig_var, skm_t, notes = _triggers(inp, "NIX00274", ssid, det, it)
    control["compression_scheme_triggers_skm"] = _skm_column(skm_t)
    time, dt, pkt = _sample_times(control, it, n_sam)
    if len(trig) != len(time) or any(v.size != len(time) for v in per_sample.values()):
        extra = "".join(f" / {k}" for k in per_sample)
        raise ProductBuildError(f"{what}: triggers{extra} do not match the number of samples")
    c = _energy_matrix(counts, n_eng, n_sam, counts_param)
    cv = _energy_matrix(counts_var, n_eng, n_sam, counts_param)
    data = {
        "control_index": control["index"][pkt],
        "time": time,
        "timedel": dt,
        "triggers": trig.astype(np.uint64),
        "triggers_comp_err": np.sqrt(trig_var).astype(np.float32),
        **per_sample,
        "counts": c.astype(np.uint64),
        "counts_comp_err": np.sqrt(cv).astype(np.float32),
    }
    start = float(np.min(time - dt / 2))
    return [
        _product(
            inp,
            control,
            data,
            data_units={"counts": _COUNT, "counts_comp_err": _COUNT},
            energies=energies_table(inp.conf_dir, start, edges[0]),
            data_range=_range(c),
            bunit="counts",
            header=_trig_cards(notes),
        )
    ]


# -- light curve (30) ----------------------------------------------------------------------------
def build_lightcurve(inp: LbInput) -> list[L0Product]:
    """QL light curves (21/6/30)."""
    p = inp.params
    control, it = _ql_control(inp)
    det = _bits(p.first("NIX00407"), 32)
    control["detector_mask"] = det
    control["pixel_mask"] = _bits(p.first("NIXD0407"), 12)
    edges = np.concatenate([_bits(p.first("NIX00266"), 32), _bits(p.first("NIXD0107"), 1)], axis=1)
    control["energy_bin_edge_mask"] = edges
    n_eng = p.first("NIX00270").astype(np.int64)
    control["num_energies"] = n_eng
    n_sam = _num_samples_lc(p, n_eng)
    control["num_samples"] = n_sam
    rcr = np.asarray(p.values["NIX00276"]).astype(np.uint8)
    return _triggered_counts(
        inp, control, it, edges, det, "NIX00272", 30, (n_eng, n_sam),
        per_sample={"rcr": rcr}, what="light curve",
    )  # fmt: skip


def _num_samples_lc(p: ParameterTable, n_eng: NDArray[np.int64]) -> NDArray[np.int64]:
    """NIX00271 of the last energy of each packet."""
    vals = np.asarray(p.values["NIX00271"])
    counts = p.counts["NIX00271"]
    if np.any(counts != n_eng):
        raise ProductBuildError("light curve: NIX00271 count differs from NIX00270")
    return _last_per_packet(vals, counts)


# -- background (31) -----------------------------------------------------------------------------
def build_background(inp: LbInput) -> list[L0Product]:
    """QL background monitor (21/6/31)."""
    p = inp.params
    control, it = _ql_control(inp)
    edges = np.concatenate([_bits(p.first("NIX00266"), 32), _bits(p.first("NIXD0111"), 1)], axis=1)
    control["energy_bin_edge_mask"] = edges
    n_eng = p.first("NIX00270").astype(np.int64)
    control["num_energies"] = n_eng
    if np.any(p.counts["NIX00277"] != n_eng):
        raise ProductBuildError("background: NIX00277 count differs from NIX00270")
    n_sam = _last_per_packet(p.values["NIX00277"], p.counts["NIX00277"])
    control["num_samples"] = n_sam
    det = np.broadcast_to(_BKG_MASK, (len(p), 32))
    return _triggered_counts(
        inp, control, it, edges, det, "NIX00278", 31, (n_eng, n_sam),
        per_sample={}, what="background",
    )  # fmt: skip


# -- spectra (32) --------------------------------------------------------------------------------
def _pad(values: NDArray, before: int, after: int, mode: str) -> NDArray:
    widths = [(before, after)] + [(0, 0)] * (values.ndim - 1)
    if mode == "edge":
        return np.pad(values, widths, mode="edge")
    return np.pad(values, widths, constant_values=0)


def build_spectra(inp: LbInput) -> list[L0Product]:
    """QL detector spectra (21/6/32), padded to whole blocks of 32 detectors."""
    p = inp.params
    control, it = _ql_control(inp)
    control["pixel_mask"] = _bits(p.first("NIXD0407"), 12)
    versions = inp.versions[p.rows]
    names = [f"NIX00{i}" for i in range(452, 484)]
    spec = [decompress_parameter(p, n, 32, versions=versions) for n in names]
    control["compression_scheme_spectra_skm"] = _skm_column(spec[0][2])
    det = np.broadcast_to(_BKG_MASK, (len(p), 32))
    trig, trig_var, skm_t, notes = _triggers(inp, "NIX00484", 32, det, it)
    control["compression_scheme_triggers_skm"] = _skm_column(skm_t)
    did = np.asarray(p.values["NIX00100"]).astype(np.int64)
    n_det = int(np.unique(did).size)  # STIXCore's "num_energies": distinct detector numbers
    control["num_energies"] = np.full(len(p), n_det, dtype=np.int64)
    n_sam = p.first("NIX00089").astype(np.int64)
    control["num_samples"] = n_sam
    if len(did) == 0 or np.any(p.counts["NIX00100"] != n_sam):
        raise ProductBuildError("spectra: detector numbers do not match NIX00089")
    base = scet_float(control["scet_coarse"], control["scet_fine"])
    pkt = np.repeat(np.arange(len(p)), n_sam)
    n_int = np.asarray(p.values["NIX00485"]).astype(np.int64)
    time = base[pkt] + n_int * it[pkt] + it[pkt] / 2
    before, after = int(did[0]), 31 - int(did[-1])
    total = len(did) + before + after
    if before < 0 or after < 0 or total % 32:
        raise ProductBuildError(
            f"spectra: {len(did)} detector samples (first {did[0]}, last {did[-1]}) do not "
            "fill blocks of 32 detectors"
        )
    counts = np.stack([s[0] for s in spec], axis=1)
    counts_var = np.stack([s[1] for s in spec], axis=1)
    ci = _pad(control["index"][pkt], before, after, "edge").reshape(-1, 32)
    time_b = _pad(time, before, after, "edge").reshape(-1, 32)
    dt_b = _pad(it[pkt], before, after, "edge").reshape(-1, 32)
    c = _pad(counts, before, after, "zero").reshape(-1, 32, 32)
    cv = _pad(counts_var, before, after, "zero").reshape(-1, 32, 32)
    t = _pad(trig, before, after, "edge").reshape(-1, 32)
    tv = _pad(trig_var, before, after, "edge").reshape(-1, 32)
    data = {
        "control_index": ci[:, 0],
        "time": time_b[:, 0],
        "timedel": dt_b[:, 0],
        "detector_index": _pad(did, before, after, "edge").reshape(-1, 32).astype(np.uint8),
        "spectra": c.astype(np.uint64),
        "spectra_comp_err": np.sqrt(cv).astype(np.float32),
        "triggers": t.astype(np.uint64),
        "triggers_comp_err": np.sqrt(tv).astype(np.float32),
        "num_integrations": _pad(n_int, before, after, "edge")
        .reshape(-1, 32)[:, 0]
        .astype(np.uint8),
    }
    start = float(np.min(data["time"] - data["timedel"] / 2))
    return [
        _product(
            inp,
            control,
            data,
            data_units={"spectra": _COUNT},
            energies=energies_table(inp.conf_dir, start),
            data_range=_range(c),
            bunit="counts",
            header=_trig_cards(notes),
        )
    ]


# -- variance (33) -------------------------------------------------------------------------------
def build_variance(inp: LbInput) -> list[L0Product]:
    """QL variance (21/6/33)."""
    p = inp.params
    control, it = _ql_control(inp)
    control["samples_per_variance"] = p.first("NIX00279").astype(np.uint8)
    control["pixel_mask"] = _bits(p.first("NIXD0407"), 12)
    control["detector_mask"] = _bits(p.first("NIX00407"), 32)
    var, var_var, skm = decompress_parameter(p, "NIX00281", 33, versions=inp.versions[p.rows])
    control["compression_scheme_variance_skm"] = _skm_column(skm)
    # quirk 10: STIXCore keeps the MSB-first order of the 32-bit energy mask
    control["energy_bin_mask"] = _bits(p.first("NIX00282"), 32)[:, ::-1].astype(bool)
    control["num_energies"] = np.ones(len(p), dtype=np.int64)
    n_sam = p.first("NIX00280").astype(np.int64)
    control["num_samples"] = n_sam
    time, dt, pkt = _sample_times(control, it, n_sam)
    if len(var) != len(time):
        raise ProductBuildError("variance: values do not match the number of samples")
    data = {
        "time": time,
        "timedel": dt,
        "control_index": control["index"][pkt],
        "variance": var.astype(np.uint64).reshape(-1, 1),
        "variance_comp_err": np.sqrt(var_var).astype(np.float32).reshape(-1, 1),
    }
    start = float(np.min(time - dt / 2))
    return [
        _product(
            inp,
            control,
            data,
            energies=energies_table(inp.conf_dir, start),
            data_range=_range(var),
        )
    ]


# -- flare flag (34) -----------------------------------------------------------------------------
def build_flareflag(inp: LbInput) -> list[L0Product]:
    """QL flare flag and location (21/6/34)."""
    p = inp.params
    control, it = _ql_control(inp)
    n_sam = p.first("NIX00089").astype(np.int64)
    control["num_samples"] = n_sam
    time, dt, pkt = _sample_times(control, it, n_sam)
    if np.asarray(p.values["NIX00283"]).size != len(time):
        raise ProductBuildError("flare flag: locations do not match the number of samples")
    data: dict[str, NDArray] = {
        "control_index": control["index"][pkt],
        "time": time,
        "timedel": dt,
        "loc_z": np.asarray(p.values["NIX00283"]).astype(np.int16),
        "loc_y": np.asarray(p.values["NIX00284"]).astype(np.int16),
        "thermal_index": np.asarray(p.values["NIXD0061"]).astype(np.int16).reshape(-1, 1),
        "non_thermal_index": np.asarray(p.values["NIXD0060"]).astype(np.int16).reshape(-1, 1),
        "location_status": np.asarray(p.values["NIXD0059"]).astype(np.int16).reshape(-1, 1),
    }
    if "NIXD0449" in p.values and np.asarray(p.values["NIXD0449"]).size == len(time):
        data["flare_progress"] = np.asarray(p.values["NIXD0449"]).astype(np.int64)
    start = float(np.min(time - dt / 2))
    return [
        _product(
            inp,
            control,
            data,
            energies=energies_table(inp.conf_dir, start),
            data_range=_range(data["loc_z"]),
        )
    ]


# -- TM status and flare list (43) ---------------------------------------------------------------
_FLARE_COLUMNS = (
    ("start_scet_coarse", "NIX00287"),
    ("end_scet_coarse", "NIX00288"),
    ("highest_flareflag", "NIX00289"),
    ("tm_byte_volume", "NIX00290"),
    ("average_z_loc", "NIX00291"),
    ("average_y_loc", "NIX00292"),
    ("processing_mask", "NIX00293"),
)


def build_tmstatusflarelist(inp: LbInput) -> list[L0Product]:
    """TM management status and flare list (21/6/43): one row per flare, or per packet if none."""
    p = inp.params
    rows = p.rows
    h = inp.batch.headers[rows]
    n = len(p)
    control: dict[str, NDArray] = {
        "scet_coarse": h["scet_coarse"].astype(np.int64),
        "scet_fine": h["scet_fine"].astype(np.int64),
        "index": np.arange(n, dtype=np.int64),
        "raw_file": inp.raw_file[rows],
        "packet": inp.packet[rows].astype(np.int64),
        "parent": np.full(n, inp.parent.encode("ascii")),
    }
    n_flares = p.first("NIX00294").astype(np.int64)
    per_row = np.maximum(n_flares, 1)
    pkt = np.repeat(np.arange(n), per_row)
    has = np.repeat(n_flares > 0, per_row)
    data: dict[str, NDArray] = {
        "control_index": pkt.astype(np.int64),
        "ubsd": p.first("NIX00285").astype(np.uint32)[pkt],
        "pald": p.first("NIX00286").astype(np.uint32)[pkt],
    }
    for col, nix in _FLARE_COLUMNS:
        out = np.zeros(len(pkt), dtype=np.int64)
        vals = np.asarray(p.values[nix]).astype(np.int64)
        if vals.size != int(n_flares.sum()):
            raise ProductBuildError(
                f"flare list: {nix} has {vals.size} values for {n_flares.sum()}"
            )
        out[has] = vals
        data[col] = out
    data["time"] = scet_float(control["scet_coarse"], control["scet_fine"])[pkt]
    data["timedel"] = np.zeros(len(pkt))
    start = float(data["time"].min())
    return [
        _product(
            inp,
            control,
            data,
            energies=energies_table(inp.conf_dir, start),
        )
    ]


# -- energy calibration spectra (41) --------------------------------------------------------------
def rebin_proportional(
    counts: NDArray[np.float64], edges_in: NDArray[np.float64], edges_out: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rebin histograms proportionally to the overlap of old and new bins (domain doc 4.9).

    Parameters
    ----------
    counts : (..., m) values of ``m`` bins
    edges_in : (m + 1,) increasing input edges
    edges_out : (k + 1,) increasing output edges

    Returns
    -------
    (..., k) rebinned values; the total inside the common range is kept

    Examples
    --------
    >>> rebin_proportional(np.array([4.0, 2.0]), np.array([0.0, 2.0, 4.0]), np.array([0.0, 1.0, 4.0]))
    array([2., 4.])
    """
    counts = np.asarray(counts, dtype=np.float64)
    x1 = np.asarray(edges_in, dtype=np.float64)
    x2 = np.clip(np.asarray(edges_out, dtype=np.float64), x1[0], x1[-1])
    cum = np.concatenate([np.zeros((*counts.shape[:-1], 1)), np.cumsum(counts, axis=-1)], axis=-1)
    # cumulative counts at the output edges, linear inside each input bin
    pos = np.interp(x2, x1, np.arange(len(x1), dtype=np.float64))
    lo = np.clip(np.floor(pos).astype(np.int64), 0, len(x1) - 2)
    frac = pos - lo
    at = cum[..., lo] + frac * (cum[..., lo + 1] - cum[..., lo])
    return np.diff(at, axis=-1)


def build_cal_energy(inp: LbInput) -> list[L0Product]:
    """Energy calibration spectra (21/6/41): counts rebinned onto 1024 ADC channels per time."""
    p = inp.params
    n = len(p)
    rows = p.rows
    control: dict[str, NDArray] = {
        "scet_coarse": p.first("NIX00445").astype(np.uint32),
        "scet_fine": np.zeros(n, dtype=np.uint32),
        "integration_time": p.first("NIX00122").astype(np.uint32),
        "index": np.arange(n, dtype=np.int64),
        "raw_file": inp.raw_file[rows],
        "packet": inp.packet[rows].astype(np.int64),
        "parent": np.full(n, inp.parent.encode("ascii")),
        "quiet_time": p.first("NIX00123").astype(np.uint16),
        "live_time": p.first("NIX00124").astype(np.uint32),
        "average_temperature": p.first("NIX00125").astype(np.uint16),
        "detector_mask": _bits(p.first("NIX00407"), 32),
        "pixel_mask": _bits(p.first("NIXD0407"), 12),
        "subspectrum_mask": _bits(p.first("NIX00160"), 8),
    }
    counts, counts_var, skm = decompress_parameter(p, "NIX00158", 41, versions=inp.versions[rows])
    control["compression_scheme_counts_skm"] = _skm_column(skm)
    control["num_samples"] = p.first("NIX00159").astype(np.uint16)
    npts = np.stack([p.first(f"NIXD0{129 + 3 * i}") for i in range(8)], 1) + 1
    summed = np.stack([p.first(f"NIXD0{130 + 3 * i}") for i in range(8)], 1) + 1
    lowest = np.stack([p.first(f"NIXD0{131 + 3 * i}") for i in range(8)], 1)
    control["subspec_num_points"] = npts.astype(np.uint16)
    control["subspec_num_summed_channel"] = summed.astype(np.uint16)
    control["subspec_lowest_channel"] = lowest.astype(np.uint16)
    enabled = control["subspectrum_mask"].astype(bool)
    control["num_channels"] = np.where(enabled, npts, 0).sum(axis=1).astype(np.int64)
    # time: SCET (coarse only) + duration / 2; NIX00122 raw is the duration in s (issue 432)
    duration = p.first("NIX00122").astype(np.float64)
    time = control["scet_coarse"].astype(np.float64) + duration / 2
    utimes, first_idx, tid_pkt = np.unique(time, return_index=True, return_inverse=True)
    full = np.zeros((len(utimes), 32, 12, 1024))
    full_var = np.zeros_like(full)
    struct_pkt = np.repeat(np.arange(n), p.counts["NIXD0155"])
    dids = np.asarray(p.values["NIXD0155"]).astype(np.int64)
    pids = np.asarray(p.values["NIXD0156"]).astype(np.int64)
    nps = np.asarray(p.values["NIX00146"]).astype(np.int64)
    if int(nps.sum()) != len(counts):
        raise ProductBuildError("cal-energy: NIX00146 points do not match NIX00158 values")
    starts = np.cumsum(nps) - nps
    for j in range(len(dids)):
        i = int(struct_pkt[j])
        chans = _channel_edges(lowest[i], summed[i], npts[i], enabled[i])
        seg = slice(int(starts[j]), int(starts[j] + nps[j]))
        if len(chans) - 1 != nps[j]:
            raise ProductBuildError(
                f"cal-energy: {nps[j]} points for {len(chans) - 1} channels in packet {i}"
            )
        tid = int(tid_pkt.reshape(-1)[i])
        full[tid, dids[j], pids[j]] += rebin_proportional(counts[seg], chans, np.arange(1025.0))
        full_var[tid, dids[j], pids[j]] += rebin_proportional(
            counts_var[seg], chans, np.arange(1025.0)
        )
    keep = np.asarray(first_idx)
    control = {k: v[keep] for k, v in control.items()}
    control["index"] = np.arange(len(keep), dtype=np.int64)
    data = {
        "time": utimes,
        "timedel": duration[keep],
        "counts": full,
        "counts_comp_err": np.sqrt(full_var).astype(np.float32),
        "control_index": np.arange(len(keep), dtype=np.uint16),
    }
    prod = _product(
        inp,
        control,
        data,
        data_units={"counts": _COUNT, "counts_comp_err": _COUNT},
        bunit="counts",
    )
    return [dataclasses.replace(prod, control_units={})]


def _channel_edges(
    lowest: NDArray, summed: NDArray, npts: NDArray, enabled: NDArray
) -> NDArray[np.float64]:
    """Input channel edges of one sub-spectrum set: ``lowest + k * summed`` per enabled one."""
    starts = [lowest[s] + np.arange(npts[s]) * summed[s] for s in np.flatnonzero(enabled)]
    if not starts:
        raise ProductBuildError("cal-energy: no enabled sub-spectrum")
    left = np.concatenate(starts).astype(np.float64)
    last = np.flatnonzero(enabled)[-1]
    return np.append(left, left[-1] + summed[last])
