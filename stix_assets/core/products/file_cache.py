"""A bounded cache of what was made from one input file, for the neighbouring days that reuse it.

A level-day reads its whole input window (`stix_assets.core.levels.windows`), so one LB or L0 file
feeds up to three days; decoding and building it again for each is most of the cost of a run.
The key is the file's identity (path, inode, size, modification time) and the identity of the
context objects that shaped the result (IDB store, loaded kernel set); the context objects are
kept alive with the entry so that their ids are never reused while it is cached. A rewritten
file gets a new inode (files are renamed into place), so a stale entry is never returned.
Cached values are shared: callers must not change them in place (the builders never do; the
order-invariance tests would show it).
"""

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["FileCache"]

_T = TypeVar("_T")


class FileCache(Generic[_T]):
    """Least-recently-used results per (file identity, context identity).

    Parameters
    ----------
    maxsize : entries kept (a few days of one level's files)
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple, tuple[_T, Sequence[object]]] = OrderedDict()

    @staticmethod
    def _key(path: Path, context: Sequence[object]) -> tuple:
        st = os.stat(path)
        return (str(path), st.st_ino, st.st_size, st.st_mtime_ns, *(id(c) for c in context))

    def __contains__(self, item: tuple[Path, Sequence[object]]) -> bool:
        """Whether ``(path, context)`` has a cached result (without touching its recency)."""
        path, context = item
        return self._key(path, context) in self._items

    def get(self, path: Path, context: Sequence[object], make: Callable[[], _T]) -> _T:
        """The cached result for ``path`` in ``context``, made by ``make()`` on a miss."""
        key = self._key(path, context)
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit[0]
        value = make()
        self._items[key] = (value, tuple(context))
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Drop every entry."""
        self._items.clear()
