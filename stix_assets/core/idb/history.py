"""IDB version history: which IDB applies to which on-board time.

The history file (``idbVersionHistory.json``, STIXCore format) lists entries with ``version`` and
``validityPeriodOBT`` = ``[{coarse, fine}, {coarse, fine}]``. Each entry is a half-open interval
``[start, end)`` of SCET. STIXCore compares the float ``coarse + fine / 65535``; we compare the exact
integer key ``coarse * 65535 + fine``, which orders times identically without rounding.

The file is versioned data, not a clean partition: it is not monotonic (2.26.32 appears twice in
STIXCore HEAD) and test copies nest one interval inside another. Where intervals overlap, the one
that starts last (the innermost) wins.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.errors import IDBVersionError

__all__ = ["HistoryEntry", "VersionHistory", "read_version_history", "scet_key"]

logger = logging.getLogger(__name__)

_FINE_DIVISOR = 65535  # STIXCore's SCET float convention (quirk 1), kept for interval lookup only


def scet_key(
    coarse: NDArray[np.integer] | int, fine: NDArray[np.integer] | int
) -> NDArray[np.int64]:
    """Exact integer ordering key of SCET times, equal in order to ``coarse + fine / 65535``."""
    return np.asarray(coarse, dtype=np.int64) * _FINE_DIVISOR + np.asarray(fine, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One validity interval of the history file, ``[start, end)`` in SCET."""

    version: str
    start_coarse: int
    start_fine: int
    end_coarse: int
    end_fine: int
    asw_version: int | None = None


@dataclass(frozen=True, slots=True)
class VersionHistory:
    """The entries of a history file with a vectorised interval lookup."""

    entries: tuple[HistoryEntry, ...]

    def _bounds(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        start = np.array([scet_key(e.start_coarse, e.start_fine) for e in self.entries], np.int64)
        end = np.array([scet_key(e.end_coarse, e.end_fine) for e in self.entries], np.int64)
        return start, end

    def lookup(self, coarse: NDArray[np.integer], fine: NDArray[np.integer]) -> NDArray[np.object_]:
        """History version per time; ``None`` where no interval holds the time.

        Parameters
        ----------
        coarse, fine : array-like of int
            SCET coarse seconds (time-sync bit already masked) and fine ticks.

        Returns
        -------
        object array of ``str | None``, one per input time.
        """
        key = scet_key(np.atleast_1d(coarse), np.atleast_1d(fine))
        out = np.full(key.shape, None, dtype=object)
        if not self.entries:
            return out
        start, end = self._bounds()
        # innermost wins: process intervals by increasing start so later starts overwrite
        for i in np.argsort(start, kind="stable"):
            inside = (key >= start[i]) & (key < end[i])
            out[inside] = self.entries[i].version
        return out

    def version_at(self, coarse: int, fine: int) -> str | None:
        """History version of one SCET time, ``None`` outside every interval."""
        return self.lookup(np.array([coarse]), np.array([fine]))[0]


def read_version_history(path: Path) -> VersionHistory:
    """Read an ``idbVersionHistory.json`` file.

    Raises
    ------
    IDBVersionError
        If the file is missing or not in the STIXCore format.
    """
    try:
        raw = json.loads(Path(path).read_text())
        entries = tuple(
            HistoryEntry(
                version=str(item["version"]),
                start_coarse=int(item["validityPeriodOBT"][0]["coarse"]),
                start_fine=int(item["validityPeriodOBT"][0]["fine"]),
                end_coarse=int(item["validityPeriodOBT"][1]["coarse"]),
                end_fine=int(item["validityPeriodOBT"][1]["fine"]),
                asw_version=item.get("aswVersion"),
            )
            for item in raw
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise IDBVersionError(f"cannot read IDB version history {path}: {err}") from err
    logger.debug("idb history read path=%s entries=%d", path, len(entries))
    return VersionHistory(entries)
