"""Energy tables of STIX-CONF: science energy channels and onboard ELUTs, chosen by UTC time.

STIX-CONF (domain doc 2.4 of the conf README, 3.4, 4.6) keeps two dated indexes:

* ``detector/science_echan_index.csv`` (``index, start_date, end_date, sci_chan_file``): the
  science energy channel table (``ScienceEnergyChannels_*.csv``: channel, ..., lower and upper
  edge in keV; the upper edge of channel 31 is ``maxADC``, read as NaN) valid in
  ``[start_date, end_date)``; ``none`` as end date means open;
* ``elut/elut_index.csv`` (``index, start_date, end_date, elut_file``): the onboard energy
  look-up table (``elut_table_*.csv``: two comment lines, a header, then 384 rows of offset,
  gain keV/ADC, pixel, detector and 31 ADC edges).

Dates in the indexes are UTC. When several rows hold a time, the last one wins (the index files
list newer corrections later). Every lookup that finds no table, or a table file that is missing,
raises `ProductBuildError` naming the file and the time, so the caller can say which STIX-CONF
checkout is wrong.

This module is the only reader of the channel tables: L1 asks `energies_for_mask` at the UTC of
the first CONTROL time (as STIXCore does); L0, which has no SPICE, asks `energies_table` at the
product start in SCET read as UTC (`stix_assets.core.time.nominal_utc`), so only a product within
about a minute of a STIX-CONF switch could get the neighbouring table at L0.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.time import nominal_utc

__all__ = [
    "CHANNEL_INDEX",
    "Elut",
    "channel_table_file",
    "check_channel_index",
    "elut_file",
    "energies_for_mask",
    "energies_table",
    "read_elut",
    "read_science_channels",
]

logger = logging.getLogger(__name__)

N_CHANNELS = 32
CHANNEL_INDEX = Path("detector", "science_echan_index.csv")  # relative to the STIX-CONF root


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _pick(index: Path, when: datetime) -> Path:
    """File of a dated STIX-CONF index valid at ``when`` (last matching row wins)."""
    if not index.is_file():
        raise ProductBuildError(
            f"STIX-CONF index {index} is missing; pass the root of a STIX-CONF checkout "
            "(with detector/ and elut/) as the configuration folder"
        )
    when = _aware(when)
    chosen: Path | None = None
    for line in index.read_text(encoding="utf-8").splitlines()[1:]:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[1]:
            continue
        start = datetime.fromisoformat(parts[1]).replace(tzinfo=UTC)
        end = None if parts[2] == "none" else datetime.fromisoformat(parts[2]).replace(tzinfo=UTC)
        if start <= when and (end is None or when < end):
            chosen = index.parent / parts[3]
    if chosen is None:
        raise ProductBuildError(
            f"STIX-CONF {index.name} has no entry valid at {when.isoformat()} (file {index})"
        )
    if not chosen.is_file():
        raise ProductBuildError(
            f"STIX-CONF table {chosen} (listed in {index.name} for {when.isoformat()}) is missing"
        )
    return chosen


def check_channel_index(conf_dir: Path | str) -> Path:
    """The science channel index of a STIX-CONF root, checked to exist before a build starts.

    Raises
    ------
    ProductBuildError
        If ``detector/science_echan_index.csv`` is missing (the folder is not a STIX-CONF clone).
    """
    index = Path(conf_dir) / CHANNEL_INDEX
    if not index.is_file():
        raise ProductBuildError(
            f"STIX-CONF energy channels not found: {index} is missing; point the "
            "configuration folder (stix_conf_dir / --conf-dir) at a STIX-CONF clone"
        )
    return index


def channel_table_file(conf_dir: Path | str, when: datetime) -> Path:
    """The science energy channel table valid at ``when`` (UTC)."""
    return _pick(Path(conf_dir) / CHANNEL_INDEX, when)


def elut_file(conf_dir: Path | str, when: datetime) -> Path:
    """The onboard ELUT table valid at ``when`` (UTC)."""
    return _pick(Path(conf_dir) / "elut" / "elut_index.csv", when)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return np.nan  # 'maxADC' of the last channel


def read_science_channels(path: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lower and upper edges (keV) of the 32 science channels of a channel table file."""
    low = np.full(N_CHANNELS, np.nan)
    high = np.full(N_CHANNELS, np.nan)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 5 or not parts[0].isdigit() or int(parts[0]) >= N_CHANNELS:
            continue
        ch = int(parts[0])
        low[ch], high[ch] = _number(parts[3]), _number(parts[4])
    if np.isnan(low).any():
        raise ProductBuildError(f"science channel table {path} does not define all 32 channels")
    return low, high


def energies_for_mask(
    conf_dir: Path | str, when: datetime, mask: NDArray | None = None
) -> dict[str, NDArray]:
    """ENERGIES columns of a product (domain doc 3.4).

    Parameters
    ----------
    conf_dir : STIX-CONF root
    when : UTC time whose channel table is used (STIXCore: the first CONTROL time)
    mask : 33 energy bin edge flags (edges where 1); ``None`` gives the 32 native channels. A
        mask with fewer than two edges gives an empty table, as in STIXCore's
        ``_get_energies_from_mask``

    Returns
    -------
    dict with ``channel`` (uint8), ``e_low``, ``e_high`` (float32, keV)
    """
    low, high = read_science_channels(channel_table_file(conf_dir, when))
    if mask is None:
        lo, hi = low, high
    else:
        edges = np.flatnonzero(np.asarray(mask).reshape(-1) == 1)
        lo, hi = low[edges[:-1]], high[edges[1:] - 1]
    return {
        "channel": np.arange(len(lo), dtype=np.uint8),
        "e_low": lo.astype(np.float32),
        "e_high": hi.astype(np.float32),
    }


def energies_table(
    conf_dir: Path | str, scet_seconds: float, mask: NDArray | None = None
) -> dict[str, NDArray]:
    """ENERGIES columns of an L0 product (domain doc 3.4), without SPICE.

    Parameters
    ----------
    conf_dir : STIX-CONF root
    scet_seconds : product start (SCET seconds); its whole seconds read as UTC
        (`stix_assets.core.time.nominal_utc`) pick the channel table
    mask : 33 energy bin edge flags (edges where 1); ``None`` gives the 32 native channels

    Returns
    -------
    dict with ``channel`` (uint8), ``e_low``, ``e_high`` (float32, keV), as `energies_for_mask`
    """
    return energies_for_mask(conf_dir, nominal_utc(int(scet_seconds)), mask)


@dataclass(frozen=True, slots=True)
class Elut:
    """One onboard energy look-up table.

    Attributes
    ----------
    name : file name
    offset : ADC offset per (detector, pixel), shape (32, 12)
    gain : keV per ADC channel, shape (32, 12)
    adc_edges : the 31 ADC edges per (detector, pixel), shape (32, 12, 31)
    """

    name: str
    offset: NDArray[np.float64]
    gain: NDArray[np.float64]
    adc_edges: NDArray[np.float64]


def read_elut(path: Path) -> Elut:
    """Read an ``elut_table_*.csv`` (384 rows of offset, gain, pixel, detector, ADC edges)."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 35 and parts[2].isdigit() and parts[3].isdigit():
            rows.append([float(p) for p in parts[:35]])
    table = np.asarray(rows, dtype=np.float64)
    if table.shape != (384, 35):
        raise ProductBuildError(f"ELUT {path} has {len(rows)} rows, expected 384")
    det, pix = table[:, 3].astype(int), table[:, 2].astype(int)
    offset = np.zeros((32, 12))
    gain = np.zeros((32, 12))
    edges = np.zeros((32, 12, 31))
    offset[det, pix] = table[:, 0]
    gain[det, pix] = table[:, 1]
    edges[det, pix] = table[:, 4:]
    return Elut(path.name, offset, gain, edges)
