"""Bulk-science requests of the demo: one compressed-pixel-data (21) and one spectrogram (24).

Both are multi-packet sequences (first / middle / last flags) with the BSD request header of the
real packets (SSID, TC packet id NIX00001, TC sequence control NIX00002, request id NIX00037, time
stamp NIX00402 = coarse << 16 | fine, number of substructures NIX00403). Request ids follow the
``YYMMDDNNNN`` pattern of recent flight requests, built from the UTC day of the flare.

* CPD: 12 time bins of 20 s around the flare peak, one bin per packet: 30 detectors x 12 pixels x
  5 energy groups (the QL bands), counts and 16 trigger accumulators compressed with S/K/M 0,4,4.
  IDB 2.26.34 predates the fix of STIX-FSW #953, so the pipeline decompresses CPD triggers with
  the count scheme; the demo uses the same scheme for both so that either reading is right.
* Spectrogram: 4 s bins over 40 minutes from 10 minutes before the peak, channels 1-24, summed
  over detectors and pixels; a new substructure (packet) starts whenever the RCR changes.

Packets are generated three hours after the peak (when the request is executed on board).
"""

import itertools
import logging

import numpy as np

from stix_assets.core.time import scet_split
from stix_assets.demo import model
from stix_assets.demo.common import (
    CADENCE_S,
    DET_MASK,
    PIXEL_MASK,
    SKM_CPD,
    SKM_QL,
    TC_PACKET_ID,
    SimPacket,
    comp,
)
from stix_assets.demo.kernels import utc_from_scet

__all__ = ["cpd_request", "spectrogram_request"]

logger = logging.getLogger(__name__)

_EXECUTION_DELAY_S = 3 * 3600.0
_CPD_BIN_DS = 200
_CPD_BINS = 12
_SPG_SAMPLES_PER_PACKET = 120
_SPG_CHANNELS = (1, 24)
_DETECTORS = np.flatnonzero([(DET_MASK >> d) & 1 for d in range(32)])
_PIXEL_WEIGHT = np.array([0.23] * 8 + [0.02] * 4)  # 8 big pixels, 4 small ones (sum 1.92 -> norm)


def _request_header(ssid: int, request_id: int, seq_control: int, start_scet: float) -> dict:
    coarse, fine = scet_split(start_scet, clamp=True)
    return {
        "NIX00120": ssid, "NIX00001": TC_PACKET_ID, "NIX00002": seq_control,
        "NIX00037": request_id, "NIX00402": (coarse << 16) | fine, "NIX00403": 1,
    }  # fmt: skip


def _request_id(scet: float, number: int) -> int:
    day = utc_from_scet(scet)
    return int(f"{day:%y%m%d}{number:04d}")


def _flags(n: int) -> list[int]:
    if n == 1:
        return [3]
    return [1] + [0] * (n - 2) + [2]


def cpd_request(
    rates: model.InstrumentRates, scet0: float, *, peak_s: float, rng: np.random.Generator
) -> tuple[list[SimPacket], int]:
    """Make the packets of one CPD (ssid 21) request around the flare peak; also its request id."""
    start = peak_s - _CPD_BINS * _CPD_BIN_DS / 20
    request_id = _request_id(scet0 + start, 1)
    obs = rates.observed()
    pix = _PIXEL_WEIGHT / _PIXEL_WEIGHT.sum()
    header = {
        **_request_header(21, request_id, 0xC000 | 1021, scet0 + start),
        "NIXD0007": SKM_CPD[0], "NIXD0008": SKM_CPD[1], "NIXD0009": SKM_CPD[2],
        "NIXD0010": SKM_CPD[0], "NIXD0011": SKM_CPD[1], "NIXD0012": SKM_CPD[2],
    }  # fmt: skip
    packets = []
    bins = _CPD_BINS
    for b, flag in zip(range(bins), _flags(bins), strict=True):
        i = int((start + b * _CPD_BIN_DS / 10) / CADENCE_S)
        per_bin = obs[i : i + 5].mean(axis=0) * (_CPD_BIN_DS / 10)
        band = model.band_sums(per_bin[None, :])[0]
        groups = []
        for g, (lo, hi) in enumerate(itertools.pairwise(model.QL_EDGES)):
            mean = band[g] / len(_DETECTORS) * pix
            counts = rng.poisson(np.tile(mean, len(_DETECTORS)))
            groups.append({"NIXD0016": lo, "NIXD0017": hi - 1, "NIX00259": comp(counts, SKM_CPD)})
        triggers = comp(rng.poisson(np.full(16, 1.2 * per_bin.sum() / 16)), SKM_CPD)
        values = {
            **header, "NIX00403": [{
                "NIX00441": b * _CPD_BIN_DS, "NIX00401": int(rates.rcr[i]),
                "NIX00442": {"NIXD0407": 1 << np.arange(12)}, "NIX00407": DET_MASK,
                "NIX00405": _CPD_BIN_DS - 1,
                **{f"NIX{242 + k:05d}": int(triggers[k]) for k in range(16)},
                "NIX00258": groups,
            }],
        }  # fmt: skip
        gen = scet0 + peak_s + _EXECUTION_DELAY_S + b * 0.5
        packets.append(SimPacket(54115, gen, values, flag))
    return packets, request_id


def _spectrogram_runs(rcr: np.ndarray) -> list[slice]:
    """Cut the samples into runs of constant RCR of at most one packet each."""
    cuts = np.flatnonzero(np.diff(rcr) != 0) + 1
    out = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(rcr)], strict=True):
        out.extend(
            slice(s, min(s + _SPG_SAMPLES_PER_PACKET, b))
            for s in range(a, b, _SPG_SAMPLES_PER_PACKET)
        )
    return out


def spectrogram_request(
    rates: model.InstrumentRates, scet0: float, *, peak_s: float, rng: np.random.Generator
) -> tuple[list[SimPacket], int]:
    """Make the packets of one spectrogram (ssid 24) request over the flare; also its request id."""
    start = peak_s - 600.0
    i0 = int(start / CADENCE_S)
    n = int(2400 / CADENCE_S)
    lo, hi = _SPG_CHANNELS
    obs = rates.observed()[i0 : i0 + n]
    counts = rng.poisson(obs[:, lo : hi + 1] * CADENCE_S)
    triggers = rng.poisson(1.2 * obs.sum(axis=1) * CADENCE_S)
    rcr = rates.rcr[i0 : i0 + n]
    request_id = _request_id(scet0 + start, 2)
    header = {
        **_request_header(24, request_id, 0xC000 | 1022, scet0 + start),
        "NIXD0007": SKM_QL[0], "NIXD0008": SKM_QL[1], "NIXD0009": SKM_QL[2],
        "NIXD0010": SKM_QL[0], "NIXD0011": SKM_QL[1], "NIXD0012": SKM_QL[2],
    }  # fmt: skip
    runs = _spectrogram_runs(rcr)
    packets = []
    for k, (sl, flag) in enumerate(zip(runs, _flags(len(runs)), strict=True)):
        samples = [
            {
                "NIX00441": j * int(CADENCE_S * 10),
                "NIX00267": int(comp(triggers[j], SKM_QL)),
                "NIX00270": comp(counts[j], SKM_QL),
            }
            for j in range(sl.start, sl.stop)
        ]
        values = {
            **header, "NIX00403": [{
                "NIXD0407": PIXEL_MASK, "NIX00407": DET_MASK, "NIX00401": int(rcr[sl.start]),
                "NIXD0442": lo, "NIXD0443": hi, "NIXD0019": 0, "NIX00089": samples,
                "NIX00269": int(CADENCE_S * 10),
            }],
        }  # fmt: skip
        gen = scet0 + peak_s + _EXECUTION_DELAY_S + 60.0 + k * 0.5
        packets.append(SimPacket(54143, gen, values, flag))
    return packets, request_id
