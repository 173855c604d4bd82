"""Segmented packet sequences (domain doc 1.7).

A multi-packet product is sent as FIRST (1), MIDDLE (0)..., LAST (2) packets; STANDALONE (3)
packets are complete on their own. Packets must already be in time order (LB files are sorted by
SCET and sequence count). A sequence is complete when it starts with FIRST and ends with LAST, and
the sequence counts (with 14-bit roll-over) account for every packet in between.

Difference from STIXCore (docs/decisions.md, quirk 4): STIXCore's count check tolerates missing
packets (``span >= n - 1``); we require ``span == n`` for FIRST..LAST so a sequence with a lost
middle packet waits for later TM instead of producing a short product.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FIRST", "LAST", "MIDDLE", "STANDALONE", "SequenceSplit", "split_sequences"]

MIDDLE, FIRST, LAST, STANDALONE = 0, 1, 2, 3
_COUNT_MODULO = 1 << 14


@dataclass(frozen=True, slots=True)
class SequenceSplit:
    """One sequence: row indices into the input, and whether it is complete."""

    rows: NDArray[np.int64]
    complete: bool


def _is_complete(flags: NDArray[np.integer], counts: NDArray[np.integer]) -> bool:
    if len(flags) == 1 and flags[0] == STANDALONE:
        return True
    if len(flags) < 2 or flags[0] != FIRST or flags[-1] != LAST:
        return False
    if np.any(flags[1:-1] != MIDDLE):
        return False
    span = (int(counts[-1]) - int(counts[0])) % _COUNT_MODULO + 1
    return span == len(flags)


def split_sequences(flags: NDArray[np.integer], counts: NDArray[np.integer]) -> list[SequenceSplit]:
    """Cut time-ordered packets into sequences and mark each complete or not."""
    flags = np.asarray(flags)
    counts = np.asarray(counts)
    out: list[SequenceSplit] = []
    current: list[int] = []

    def close() -> None:
        if current:
            rows = np.asarray(current, dtype=np.int64)
            out.append(SequenceSplit(rows, _is_complete(flags[rows], counts[rows])))
            current.clear()

    for i, flag in enumerate(flags.tolist()):
        if flag == STANDALONE:
            close()
            current.append(i)
            close()
        elif flag == FIRST:
            close()
            current.append(i)
        elif flag == MIDDLE:
            current.append(i)
        else:  # LAST
            current.append(i)
            close()
    close()
    return out
