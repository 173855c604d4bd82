"""Benchmark the ANC aspect solution of one day of HK reports (1350 reports, 64 s apart).

The SAS plate is a synthetic one of the SAS's kind (four diagonal arms of 0.3 mm apertures,
2.8-12 mm from the axis; the flight plate lives in STX-GSW's IDL save files). Signals are made
from known pointing offsets with the model, then solved; the image radius drifts by 300 um over
the day (Solar Orbiter near 0.3 AU), so hundreds of distinct radii are in play, as near perihelion.

Usage::

    python benchmarks/bench_aspect.py [--reports 1350]
"""

import argparse
import json
import time

import numpy as np

from stix_assets.core.aspect import SAS_OPTICS, ArmApertures, SasParams, arm_signals, solve_aspect
from stix_assets.core.aspect.optics import ARCSEC_PER_RAD


def synthetic_plate() -> SasParams:
    """Four arms on the diagonals, 24 apertures each, unit gains, no dark current."""
    radii = np.arange(2.8e-3, 12.01e-3, 0.4e-3)
    arms = tuple(
        ArmApertures(-radii * dx / np.sqrt(2), -radii * dy / np.sqrt(2), np.full(radii.size, 3e-4))
        for dx, dy in ((1, 1), (-1, -1), (1, -1), (-1, 1))
    )
    return SasParams(arms, np.zeros(4), np.ones(4))  # type: ignore[arg-type]


def main() -> None:
    """Time model and solution; print a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1350)
    n = parser.parse_args().reports
    params = synthetic_plate()
    rsol = np.linspace(8.0e-3, 8.3e-3, n)
    phase = np.linspace(0.0, 6.0, n)
    x, y = 3e-4 * np.cos(phase), 2e-4 * np.sin(phase)
    start = time.perf_counter()
    signals = arm_signals(x, y, rsol, params)
    model_s = time.perf_counter() - start
    disc = rsol / SAS_OPTICS.focal_length_m * ARCSEC_PER_RAD
    start = time.perf_counter()
    sol = solve_aspect(signals, disc, np.full(n, 64.0), params)
    solve_s = time.perf_counter() - start
    error = np.abs(np.concatenate([sol.z_srf - x * 0.375e6, sol.y_srf - y * 0.375e6]))
    print(json.dumps({
        "reports": n, "distinct_radii_um": int(np.unique(np.round(rsol * 1e6)).size),
        "model_s": round(model_s, 3), "solve_s": round(solve_s, 3),
        "reports_per_s": round(n / solve_s), "solved": int(sol.sas_ok.sum()),
        "max_error_arcsec": float(np.nanmax(error)),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
