"""Files this process has just written, handed to the next level without reading them back.

A run writes LB files and then builds L0 from them, writes L0 and builds L1: reading back what it
has just written cost a tenth of a run (FITS parse, table conversion). `write_fits` leaves the
content of each file here, in the form `read_fits` returns, keyed by the file's identity on disk
(device, inode, size, modification time); `read_fits` takes it from here when the file it is
asked for is still that very file. A file replaced since (by another process, or by this one) has
a new inode, so it is read from disk; so is every file of an earlier run. The level-day function
stays the same for every route: it reads its inputs through the catalog and `read_fits`, and
only the cost differs.

Most files a run writes are never read by it (the last level, an LB-only run), so an entry is
built on its first `recall` from what `write_fits` left (`remember` takes a builder, not the
content). The entries are bounded (`MAX_ENTRIES`, `MAX_BYTES`, oldest dropped first) and their
arrays are read-only, since every reader of the file shares them. A forked worker process
inherits the entries of its parent (the LB files for the L0 workers); what a worker writes stays
in it.
"""

import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class _Content(Protocol):
    """What is kept: `stix_assets.core.fits.FitsContent` (named by shape: fits imports this)."""

    tables: Mapping[str, np.ndarray]


__all__ = ["MAX_BYTES", "MAX_ENTRIES", "forget_all", "identity", "recall", "remember"]

MAX_ENTRIES = 1024
"""Files kept (three days of products are about 300)."""

MAX_BYTES = 512 * 2**20
"""Table bytes kept; beyond this the oldest files are dropped (they are read from disk)."""

_Key = tuple[int, int, int, int]
_ENTRIES: "OrderedDict[_Key, Any]" = OrderedDict()
_SIZES: dict[_Key, int] = {}


def identity(path: Path | str) -> _Key:
    """(device, inode, size, modification time in ns) of a file: unchanged by a rename."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _Later:
    """The builder of an entry not asked for yet."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[], _Content]) -> None:
        self.build = build


def remember(key: _Key, build: Callable[[], _Content], nbytes: int) -> None:
    """Keep the means to give what the file with identity ``key`` holds, ``nbytes`` of tables.

    ``build`` runs on the first `recall` of the file, if any; its arrays are made read-only.
    """
    _ENTRIES.pop(key, None)
    _ENTRIES[key] = _Later(build)
    _SIZES[key] = nbytes
    total = sum(_SIZES.values())
    while _ENTRIES and (len(_ENTRIES) > MAX_ENTRIES or total > MAX_BYTES):
        old, _ = _ENTRIES.popitem(last=False)
        total -= _SIZES.pop(old)


def recall(path: Path | str) -> Any:
    """The `FitsContent` left by `remember` if ``path`` is still the file written, else None."""
    if not _ENTRIES:
        return None
    try:
        key = identity(path)
    except OSError:
        return None
    entry = _ENTRIES.get(key)
    if isinstance(entry, _Later):
        entry = entry.build()
        for table in entry.tables.values():
            table.flags.writeable = False
        _ENTRIES[key] = entry
    return entry


def forget_all() -> None:
    """Drop every entry (tests; a long-lived process between runs)."""
    _ENTRIES.clear()
    _SIZES.clear()
