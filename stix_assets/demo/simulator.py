"""Deterministic demo instrument: parameter values of every packet the demo emits.

`simulate(config)` turns the rate model (`stix_assets.demo.model`) into packet contents, counts
Poisson-drawn and compressed with the S/K/M schemes the real packets use (domain doc 5), then
`stix_assets.demo.telemetry` encodes and files them. Products and cadences (as in real packets):

=========================  ======  ===========  ====================================
product                    SPID    integration  packet holds
=========================  ======  ===========  ====================================
QL light curves (30)       54118   4 s          225 samples (15 min), 5 bands, SKM 0,5,3
QL background (31)         54119   8 s          450 samples (1 h)
QL spectra (32)            54120   32 s         3 blocks of 32 detectors, 1024 s apart
QL variance (33)           54121   4 s          900 samples, 40 sub-samples each
QL flare flag (34)         54122   4 s          900 samples
HK mini / maxi (3/25)      54101/2 -            one report every 64 s each
CPD request (21)           54115   20 s         one time bin per packet, 12 packets
spectrogram request (24)   54143   4 s          <= 120 samples per packet, 40 min
=========================  ======  ===========  ====================================
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np

from stix_assets.core.time import scet_split
from stix_assets.demo import model
from stix_assets.demo.common import (
    CADENCE_S,
    DET_MASK,
    PIXEL_MASK,
    SKM_QL,
    SimPacket,
    comp,
)
from stix_assets.demo.hk import HK_MAXI_BASE, HK_MINI_BASE, hk_values
from stix_assets.demo.kernels import scet_from_utc
from stix_assets.demo.requests import cpd_request, spectrogram_request

__all__ = ["SimConfig", "Simulation", "simulate"]

logger = logging.getLogger(__name__)

LC_EDGE_MASK = sum(1 << e for e in model.QL_EDGES)  # bit 32 (NIXD0107 / NIXD0111) stays 0
VAR_ENERGY_MASK = sum(1 << e for e in range(17, 31))
N_DET = 30


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate: ``days`` UTC days from ``start``, random ``seed``."""

    start: date
    days: int = 2
    seed: int = 20240514
    flare_offset_s: float | None = None  # default: half the span + 2.5 h

    @property
    def flare_peak_s(self) -> float:
        """Flare peak, seconds from the start."""
        if self.flare_offset_s is not None:
            return self.flare_offset_s
        return self.days * 86400 / 2 + 9000.0


@dataclass(slots=True)
class Simulation:
    """Everything simulated: the packets plus the truth used to make them (for tests and docs)."""

    config: SimConfig
    scet0: float
    rates: model.InstrumentRates
    lc_counts: np.ndarray
    packets: list[SimPacket] = field(default_factory=list)
    request_ids: tuple[int, ...] = ()


def _skm(prefix: tuple[str, str, str], skm: tuple[int, int, int]) -> dict[str, int]:
    return dict(zip(prefix, skm, strict=True))


def _ql_head(scet: float, integration_ds: int) -> dict[str, int]:
    coarse, fine = scet_split(scet, clamp=True)
    return {"NIX00445": coarse, "NIX00446": fine, "NIX00405": integration_ds - 1}


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


def _lightcurves(sim: Simulation, rng: np.random.Generator) -> None:
    obs = sim.rates.observed()
    counts = rng.poisson(model.band_sums(obs) * CADENCE_S)
    sim.lc_counts = counts
    triggers = rng.poisson(1.2 * obs.sum(axis=1) * CADENCE_S + 400)
    rcr = sim.rates.rcr
    for sl in _chunks(len(counts), 225):
        t0 = sim.scet0 + sim.rates.t_s[sl.start]
        n = sl.stop - sl.start
        values = {
            "NIX00120": 30, **_ql_head(t0, 40), "NIX00407": DET_MASK, "NIXD0407": PIXEL_MASK,
            **_skm(("NIXD0101", "NIXD0102", "NIXD0103"), SKM_QL),
            **_skm(("NIXD0104", "NIXD0105", "NIXD0106"), SKM_QL),
            "NIXD0107": 0, "NIX00266": LC_EDGE_MASK,
            "NIX00270": [{"NIX00271": comp(counts[sl, b], SKM_QL)} for b in range(5)],
            "NIX00273": comp(triggers[sl], SKM_QL), "NIX00275": rcr[sl].copy(),
        }  # fmt: skip
        sim.packets.append(SimPacket(54118, t0 + n * CADENCE_S + 1.0, values))


def _background(sim: Simulation, rng: np.random.Generator) -> None:
    step = 2  # 8 s bins from the 4 s grid
    obs = sim.rates.background * 0.04 + sim.rates.solar * 1e-4
    bands = model.band_sums(obs)
    n = len(bands) // step
    summed = bands[: n * step].reshape(n, step, -1).sum(axis=1) * CADENCE_S
    counts = rng.poisson(summed)
    triggers = rng.poisson(1.1 * counts.sum(axis=1) + 100)
    for sl in _chunks(n, 450):
        t0 = sim.scet0 + sim.rates.t_s[sl.start * step]
        values = {
            "NIX00120": 31, **_ql_head(t0, 80),
            **_skm(("NIXD0108", "NIXD0109", "NIXD0110"), SKM_QL), "NIXD0111": 0,
            "NIX00266": LC_EDGE_MASK, **_skm(("NIXD0112", "NIXD0113", "NIXD0114"), SKM_QL),
            "NIX00270": [{"NIX00277": comp(counts[sl, b], SKM_QL)} for b in range(5)],
            "NIX00273": comp(triggers[sl], SKM_QL),
        }  # fmt: skip
        sim.packets.append(SimPacket(54119, t0 + (sl.stop - sl.start) * 8.0 + 1.0, values))


def _spectra(sim: Simulation, rng: np.random.Generator) -> None:
    obs = sim.rates.observed()
    block_s, per_packet = 1024.0, 3
    n_blocks = int(sim.rates.t_s[-1] // block_s)
    for first in range(0, n_blocks - per_packet + 1, per_packet):
        t0 = first * block_s
        cols: dict[str, list[np.ndarray]] = {"NIX00100": [], "NIX00484": [], "NIX00485": []}
        spectra = []
        for b in range(per_packet):
            i = int((t0 + b * block_s) / CADENCE_S)
            spec = rng.poisson(np.repeat(obs[i][None, :] * 32.0 / N_DET, 32, axis=0))
            spectra.append(spec)
            cols["NIX00100"].append(np.arange(32))
            cols["NIX00484"].append(comp(1.2 * spec.sum(axis=1) + 10, SKM_QL))
            cols["NIX00485"].append(np.full(32, 32 * b))
        spec_all = comp(np.concatenate(spectra), SKM_QL)
        group = {k: np.concatenate(v) for k, v in cols.items()}
        group.update({f"NIX{452 + c:05d}": spec_all[:, c] for c in range(32)})
        scet = sim.scet0 + t0
        values = {
            "NIX00120": 32, **_ql_head(scet, 320),
            **_skm(("NIXD0115", "NIXD0116", "NIXD0117"), SKM_QL),
            **_skm(("NIXD0112", "NIXD0113", "NIXD0114"), SKM_QL),
            "NIXD0407": PIXEL_MASK, "NIX00089": group,
        }  # fmt: skip
        sim.packets.append(SimPacket(54120, scet + per_packet * block_s + 2.0, values))


def _variance(sim: Simulation, rng: np.random.Generator) -> None:
    obs = sim.rates.observed()[:, 17:31].sum(axis=1) * 0.1
    excess = 1.0 + 40.0 * sim.rates.nonthermal / np.maximum(sim.rates.nonthermal.max(), 1.0)
    var = rng.gamma(39.0, obs * excess / 39.0 + 1e-9)
    for sl in _chunks(len(var), 900):
        t0 = sim.scet0 + sim.rates.t_s[sl.start]
        values = {
            "NIX00120": 33, **_ql_head(t0, 40), "NIX00279": 40, "NIX00407": DET_MASK,
            "NIX00282": VAR_ENERGY_MASK, "NIXD0407": PIXEL_MASK,
            **_skm(("NIXD0118", "NIXD0119", "NIXD0120"), SKM_QL),
            "NIX00280": comp(var[sl], SKM_QL),
        }  # fmt: skip
        sim.packets.append(SimPacket(54121, t0 + (sl.stop - sl.start) * CADENCE_S + 1.0, values))


def _flare_flag(sim: Simulation, rng: np.random.Generator) -> None:
    low = sim.rates.solar[:, 1:7].sum(axis=1)
    thermal = np.searchsorted([500, 2e3, 8e3, 3e4, 1e5, 3e5, 1e6], low).astype(np.int64)
    nonthermal = np.searchsorted([50, 300, 1500], sim.rates.nonthermal).astype(np.int64)
    in_flare = (thermal >= 2).astype(np.int64)
    n = len(low)
    loc_z = np.where(in_flare == 1, -23 + rng.integers(-1, 2, n), 0)
    loc_y = np.where(in_flare == 1, 41 + rng.integers(-1, 2, n), 0)
    for sl in _chunks(n, 900):
        t0 = sim.scet0 + sim.rates.t_s[sl.start]
        group = {
            "NIXD0449": in_flare[sl], "NIXD0059": in_flare[sl], "NIXD0060": nonthermal[sl],
            "NIXD0061": thermal[sl], "NIX00283": loc_z[sl], "NIX00284": loc_y[sl],
        }  # fmt: skip
        values = {"NIX00120": 34, **_ql_head(t0, 40), "NIX00089": group}
        sim.packets.append(SimPacket(54122, t0 + (sl.stop - sl.start) * CADENCE_S + 1.0, values))


def _housekeeping(sim: Simulation, rng: np.random.Generator) -> None:
    span = sim.config.days * 86400.0
    sun = 1.0 + 0.01 * np.sin(np.arange(0.0, span, 64.0) / 86400.0)
    for spid, base, offset in ((54101, HK_MINI_BASE, 0.0), (54102, HK_MAXI_BASE, 32.0)):
        t = np.arange(offset, span, 64.0)
        rcr = sim.rates.rcr[np.minimum((t / CADENCE_S).astype(int), len(sim.rates.rcr) - 1)]
        for ti, values in zip(t, hk_values(base, t, rcr, sun[: len(t)], rng), strict=True):
            sim.packets.append(SimPacket(spid, sim.scet0 + ti + 0.5, values))


def simulate(config: SimConfig) -> Simulation:
    """Simulate ``config.days`` days of the demo instrument (pure, deterministic for a seed)."""
    rng = np.random.default_rng(config.seed)
    t_s = np.arange(0.0, config.days * 86400.0, CADENCE_S)
    flare = model.FlareModel(peak_s=config.flare_peak_s)
    rates = model.simulate_rates(t_s, flare, rng)
    start = datetime.combine(config.start, datetime.min.time(), UTC)
    sim = Simulation(config, scet_from_utc(start), rates, np.zeros((0, 5), np.int64))
    for step in (_lightcurves, _background, _spectra, _variance, _flare_flag, _housekeeping):
        step(sim, rng)
    for make in (cpd_request, spectrogram_request):
        packets, request_id = make(rates, sim.scet0, peak_s=config.flare_peak_s, rng=rng)
        sim.packets.extend(packets)
        sim.request_ids = (*sim.request_ids, request_id)
    logger.info(
        "demo simulated start=%s days=%d packets=%d", config.start, config.days, len(sim.packets)
    )
    return sim
