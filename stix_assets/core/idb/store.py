"""IDB SQLite files on disk and the choice of version per packet.

An `IdbStore` owns a folder ``<root>/<version>/idb.sqlite`` plus ``<root>/idbVersionHistory.json``
(STIXCore layout without the ``v`` prefix). `IdbStore.versions_for` says which installed IDB is used
for each packet:

1. a forced version (a label under ``root`` or the path of any ``idb.sqlite``) wins for every packet;
2. otherwise the history version of the packet's SCET, if installed;
3. otherwise ``fallback_version``: for a history version that is not installed (STIXCore's
   documented behaviour, which its reference products followed) and for a SCET outside every
   history interval (STIXCore raises there, quirk 5; we fall back and record why).

`IdbStore.resolutions_for` returns these decisions as data (`VersionResolution`) so a caller can
record "history said X, used Y because Z".
"""

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.errors import IDBVersionError
from stix_assets.core.idb.history import VersionHistory, read_version_history
from stix_assets.core.idb.model import Idb

__all__ = ["HISTORY_FILE", "IdbStore", "VersionResolution", "read_idb_label"]

logger = logging.getLogger(__name__)

HISTORY_FILE = "idbVersionHistory.json"
_SQLITE_NAME = "idb.sqlite"
_FORCED_KEY = "__forced__"


@dataclass(frozen=True, slots=True)
class VersionResolution:
    """Why a packet group got the IDB it got.

    Attributes
    ----------
    history : the version the history names for the time (``None``: outside every interval)
    used : the installed version actually used
    reason : ``"history"``, ``"forced"``, ``"not installed"`` or ``"outside history"``
    """

    history: str | None
    used: str
    reason: str

    def as_metadata(self) -> dict[str, str | None]:
        """Plain values for metadata."""
        return {"history": self.history, "used": self.used, "reason": self.reason}


def read_idb_label(path: Path) -> str | None:
    """Read the ``version`` of a file's ``IDB`` table; ``None`` if the table is absent."""
    try:
        con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise IDBVersionError(f"cannot open IDB {path}: {err}") from err
    try:
        has = con.execute(
            "select count(*) from sqlite_master where type='table' and name='IDB'"
        ).fetchone()[0]
        if not has:
            return None
        row = con.execute("select version from IDB").fetchone()
        return None if row is None else str(row[0])
    except sqlite3.Error as err:
        raise IDBVersionError(f"not an IDB sqlite file {path}: {err}") from err
    finally:
        con.close()


def _label_matches(label: str, stored: str | None) -> bool:
    """Tell whether a folder label fits the stored version (``2.26.35_alpha`` fits ``2.26.35``)."""
    return stored is None or label == stored or label.startswith(f"{stored}_")


class IdbStore:
    """The installed IDB versions, the history, and a per-process cache of opened IDBs.

    Parameters
    ----------
    root : folder with ``<version>/idb.sqlite`` and ``idbVersionHistory.json``
    force_version : a version label under ``root`` or a path to an ``idb.sqlite``; used for
        every packet when set
    fallback_version : installed version used where the history gives none that is installed

    Raises
    ------
    IDBVersionError
        If ``force_version`` is neither an installed label nor an IDB file, or if no forced version
        is set and ``fallback_version`` is not installed.
    """

    def __init__(
        self,
        root: Path,
        *,
        force_version: str | Path | None = None,
        fallback_version: str = "2.26.34",
    ) -> None:
        self.root = Path(root)
        self.fallback_version = fallback_version
        self._force_arg = force_version
        self._cache: dict[str, Idb] = {}
        self._lock = threading.Lock()
        hist = self.root / HISTORY_FILE
        self.history = read_version_history(hist) if hist.is_file() else VersionHistory(())
        self._forced: tuple[str, Path] | None = None
        if force_version is not None:
            self._forced = self._resolve_force(force_version)
        elif fallback_version not in self.available_versions():
            raise IDBVersionError(
                f"fallback IDB version {fallback_version} not installed under {self.root}"
            )

    def fresh(self) -> "IdbStore":
        """Return a new store with the same configuration and no open database.

        For a child process: SQLite connections must not cross a fork.
        """
        return IdbStore(
            self.root, force_version=self._force_arg, fallback_version=self.fallback_version
        )

    # -- discovery -------------------------------------------------------------------------
    def available_versions(self) -> list[str]:
        """Installed version labels (folders holding an ``idb.sqlite``), sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / _SQLITE_NAME).is_file())

    @property
    def forced_version(self) -> str | None:
        """The forced version label (the file's own label for a forced path), else ``None``."""
        return None if self._forced is None else self._forced[0]

    def _resolve_force(self, value: str | Path) -> tuple[str, Path]:
        path = Path(value)
        if isinstance(value, str) and value in self.available_versions():
            return value, self.root / value / _SQLITE_NAME
        if path.is_dir() and (path / _SQLITE_NAME).is_file():
            path = path / _SQLITE_NAME
        if path.is_file():
            label = read_idb_label(path)
            return (label or path.parent.name), path
        raise IDBVersionError(
            f"forced IDB version {value!r} is neither a version under {self.root} nor an IDB file"
        )

    def installed_path(self, version: str) -> Path:
        """Return the file used for a version label (the forced file when a version is forced)."""
        if self._forced is not None:
            return self._forced[1]
        return self.root / version / _SQLITE_NAME

    # -- per packet choice -----------------------------------------------------------------
    def history_version_for(self, scet_coarse: int, scet_fine: int) -> str | None:
        """Return what the history names for one SCET time (``None`` outside every interval)."""
        return self.history.version_at(int(scet_coarse), int(scet_fine))

    def _resolve_many(
        self, coarse: NDArray[np.integer], fine: NDArray[np.integer]
    ) -> tuple[NDArray[np.object_], NDArray[np.object_], NDArray[np.object_]]:
        hist = self.history.lookup(coarse, fine)
        if self._forced is not None:
            used = np.full(hist.shape, self._forced[0], dtype=object)
            return hist, used, np.full(hist.shape, "forced", dtype=object)
        installed = set(self.available_versions())
        used = np.empty(hist.shape, dtype=object)
        reason = np.empty(hist.shape, dtype=object)
        for h in set(hist.tolist()):
            sel = hist == h if h is not None else np.equal(hist, None)
            if h is None:
                used[sel], reason[sel] = self.fallback_version, "outside history"
            elif h in installed:
                used[sel], reason[sel] = h, "history"
            else:
                used[sel], reason[sel] = self.fallback_version, "not installed"
        return hist, used, reason

    def versions_for(
        self, coarse: NDArray[np.integer], fine: NDArray[np.integer]
    ) -> NDArray[np.object_]:
        """Return the installed version used for each packet (rules: module docstring)."""
        return self._resolve_many(np.atleast_1d(coarse), np.atleast_1d(fine))[1]

    def resolutions_for(
        self, coarse: NDArray[np.integer], fine: NDArray[np.integer]
    ) -> list[VersionResolution]:
        """Return the distinct (history, used, reason) decisions taken for these packets."""
        hist, used, reason = self._resolve_many(np.atleast_1d(coarse), np.atleast_1d(fine))
        seen = {
            VersionResolution(h, u, r)
            for h, u, r in zip(hist.tolist(), used.tolist(), reason.tolist(), strict=True)
        }
        return sorted(seen, key=lambda v: (v.used, v.history or "", v.reason))

    # -- opening ---------------------------------------------------------------------------
    def get(self, version: str) -> Idb:
        """Return the opened IDB of an installed version (cached; a forced version wins).

        Raises
        ------
        IDBVersionError
            If the version is not installed or the file's ``IDB`` table names another version.
        """
        if self._forced is not None:
            label, path = self._forced
            return self._open(_FORCED_KEY, label, path, check=False)
        path = self.root / version / _SQLITE_NAME
        if not path.is_file():
            raise IDBVersionError(f"IDB version {version} not installed under {self.root}")
        return self._open(version, version, path, check=True)

    def _open(self, key: str, label: str, path: Path, *, check: bool) -> Idb:
        with self._lock:
            idb = self._cache.get(key)
            if idb is None:
                if check:
                    stored = read_idb_label(path)
                    if not _label_matches(label, stored):
                        raise IDBVersionError(
                            f"IDB file {path} holds version {stored}, not {label}"
                        )
                idb = Idb.open(path, version=label)
                self._cache[key] = idb
                logger.info("idb opened version=%s path=%s", label, path)
            return idb
