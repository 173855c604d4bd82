"""Product-specific L1 steps (domain doc 3.8, 4.4, 4.6): which raw columns are calibrated, fixes.

The L1 framework (`stix_assets.core.products.l1`) calls, in this order, for every L0 product:

1. `bsd_time_shift` for the X-ray BSD families (ssid 20-24, STIXCore issue 286);
2. the engineering conversion of the columns `raw_columns` names;
3. `apply_fixes` (cal-energy unit fixes, the CONTROL column order of BSD products).

Which columns are raw at L0 (STIXCore marks them with the ``PCF_CURTX`` column metadata, which our
L0 files do not carry): every DATA parameter column of the HK and generic families (found by name
in the IDB layout of the packet, see `stix_assets.core.products.l1`), and the four cal-energy
CONTROL columns below. Quick-look and BSD columns are built from engineering values at L0 already.
"""

import dataclasses
import logging
from datetime import UTC, datetime

import numpy as np

from stix_assets.core.products.model import L0Product

__all__ = [
    "BSD_SHIFT_KEYS",
    "CAL_ENERGY_RAW",
    "MIN_INT_TIME_CHANGE",
    "apply_fixes",
    "bsd_time_shift",
    "raw_control_columns",
]

logger = logging.getLogger(__name__)

CAL_ENERGY_RAW = {
    "integration_time": "NIX00122",
    "quiet_time": "NIX00123",
    "live_time": "NIX00124",
    "average_temperature": "NIX00125",
}
"""CONTROL columns of cal-energy that L0 keeps raw, with their IDB parameter."""

BSD_SHIFT_KEYS = frozenset({"xray_rpd", "xray_cpd", "xray_scpd", "xray_vis", "xray_spec"})
MIN_INT_TIME_CHANGE = datetime(2021, 9, 6, 13, 0, tzinfo=UTC)
"""From here on the smallest configurable integration time is 0.5 s (before: 1 s)."""
_FIXED_IDB = (2, 26, 36)


def raw_control_columns(key: str) -> dict[str, str]:
    """CONTROL columns kept raw at L0 for a family -> IDB parameter name."""
    return dict(CAL_ENERGY_RAW) if key == "cal_energy" else {}


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("_")[0].split("."))


def bsd_time_shift(prod: L0Product, utc_start: datetime) -> tuple[L0Product, list[str]]:
    """The BSD off-by-one fix for X-ray requests decoded with IDB < 2.26.36 (domain doc 4.4).

    When the shortest bin is the smallest configurable integration time (1 s before
    `MIN_INT_TIME_CHANGE`, 0.5 s after), the durations belong to the next row: ``timedel`` is
    shifted down by one row and the first and last rows are dropped (HISTORY); otherwise the data
    may be summed on board and nothing is changed (COMMENT).

    Returns
    -------
    product, notes : the (possibly) fixed product and a note for the result

    Raises
    ------
    ValueError
        If the product was decoded with more than one IDB version.
    """
    versions = sorted({_version_tuple(v) for v, _, _ in prod.idb_versions})
    if len(versions) > 1:
        raise ValueError(f"BSD product {prod.spec.key} decoded with several IDB versions")
    if not versions or versions[0] >= _FIXED_IDB or prod.n_rows <= 1:
        return prod, []
    timedel = np.asarray(prod.data["timedel"], dtype=np.float64)
    resolution = 1.0 if utc_start < MIN_INT_TIME_CHANGE else 0.5
    if np.isclose(timedel.min(), resolution, rtol=0, atol=1e-6):
        shifted = timedel.copy()
        shifted[1:-1] = timedel[:-2]
        data = {k: np.asarray(v)[1:-1] for k, v in prod.data.items()}
        data["timedel"] = shifted[1:-1]
        header = (*prod.header, ("HISTORY", "Time and count arrays were shifted to fix offset", ""))
        fixed = dataclasses.replace(prod, data=data, header=header)
        return fixed, ["time and count arrays shifted by one row (IDB < 2.26.36)"]
    comment = ("COMMENT", "Time and count arrays offset not fixed as possibly summed on board", "")
    return dataclasses.replace(prod, header=(*prod.header, comment)), []


def _cal_energy(prod: L0Product) -> L0Product:
    """Undo the wrong injected calibrations of NIX00122/123/124 (domain doc 4.6, quirk 7)."""
    control = dict(prod.control)
    units = dict(prod.control_units)
    control["integration_time"] = np.asarray(control["integration_time"], np.float64) * 10.0
    units["integration_time"] = "s"
    # quiet time: engineering seconds, expressed in us and divided by 1e5 (as STIXCore codes it)
    control["quiet_time"] = np.asarray(control["quiet_time"], np.float64) * 1e6 / 1e5
    units["quiet_time"] = "us"
    # live time: engineering ms divided by 100, uint32 (truncated)
    control["live_time"] = (np.asarray(control["live_time"], np.float64) / 100.0).astype(np.uint32)
    units["live_time"] = "ms"
    return dataclasses.replace(prod, control=control, control_units=units)


def _time_stamp_last(prod: L0Product) -> L0Product:
    """BSD CONTROL: ``time_stamp`` moves to the last column at L1, as in STIXCore's files."""
    if "time_stamp" not in prod.control:
        return prod
    control = {k: v for k, v in prod.control.items() if k != "time_stamp"}
    control["time_stamp"] = prod.control["time_stamp"]
    units = {**prod.control_units, "time_stamp": "s"}  # SCET seconds (L0 may not say so)
    return dataclasses.replace(prod, control=control, control_units=units)


def apply_fixes(prod: L0Product) -> L0Product:
    """Family fixes after the engineering conversion."""
    if prod.spec.key == "cal_energy":
        return _cal_energy(prod)
    if prod.spec.per_request:
        return _time_stamp_last(prod)
    return prod
