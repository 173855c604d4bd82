"""Which IDB applies to each SCET day: the per-day data version of ``idb/versions``.

A SCET day ``d`` covers the coarse seconds ``[scet_day_start(d), scet_day_start(d) + 86400)``.
Its IDB data version lists every installed version the store uses for some time of that day
(history, forced or fallback, as `IdbStore.versions_for` decides), each with the start of its
file's sha256, for example ``"2.26.34@1f0c3a9e2b7d"`` or, on a switch-over day,
``"2.26.33@...+2.26.34@..."``. A new IDB or a new history entry therefore changes the data
version of exactly the days whose decoding can change, and only those L0 days become stale.
"""

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from stix_assets.core.idb.history import scet_key
from stix_assets.core.idb.register import file_sha256
from stix_assets.core.idb.store import IdbStore
from stix_assets.core.time import SECONDS_PER_DAY, day_index, scet_day_start

__all__ = ["changed_days", "day_data_versions"]

_SHA_CHARS = 12
_FINE = 65535  # scet_key's divisor


def _sha_of(store: IdbStore, version: str, cache: dict[str, str]) -> str:
    if version not in cache:
        path: Path = store.installed_path(version)
        cache[version] = file_sha256(path)[:_SHA_CHARS] if path.is_file() else "missing"
    return cache[version]


def day_data_versions(store: IdbStore, first: date, last: date) -> dict[date, str]:
    """Return the IDB data version of every SCET day from ``first`` to ``last`` (inclusive).

    Parameters
    ----------
    store : the installed IDBs and their history
    first, last : SCET days

    Returns
    -------
    ``{scet_day: "version@sha[+version@sha...]"}`` in day order.
    """
    n_days = (last - first).days + 1
    if n_days <= 0:
        return {}
    base = day_index(first)
    starts = np.array([scet_day_start(first) + i * SECONDS_PER_DAY for i in range(n_days)])
    coarse, fine, owner = [starts], [np.zeros(n_days, np.int64)], [np.arange(n_days)]
    # history bounds inside a day add the version that starts there to that day
    for e in store.history.entries:
        for c, f in ((e.start_coarse, e.start_fine), (e.end_coarse, e.end_fine)):
            i = c // SECONDS_PER_DAY - base
            if 0 <= i < n_days and scet_key(c, f) > scet_key(starts[i], 0):
                coarse.append(np.array([c]))
                fine.append(np.array([f]))
                owner.append(np.array([i]))
    used = store.versions_for(np.concatenate(coarse), np.concatenate(fine))
    per_day: list[set[str]] = [set() for _ in range(n_days)]
    for i, v in zip(np.concatenate(owner).tolist(), used.tolist(), strict=True):
        per_day[i].add(str(v))
    shas: dict[str, str] = {}
    return {
        first + timedelta(days=i): "+".join(f"{v}@{_sha_of(store, v, shas)}" for v in sorted(vs))
        for i, vs in enumerate(per_day)
    }


def changed_days(before: Mapping[date, str], after: Mapping[date, str]) -> list[date]:
    """Days whose data version differs (or exists on one side only), sorted."""
    return sorted(d for d in set(before) | set(after) if before.get(d) != after.get(d))
