"""One IDB version, loaded from its SQLite file into plain Python lookups.

The tables the pipeline needs are small (a few thousand rows in all: PIC, PID, PLF, VPD, PCF, the
S2K type table, TXP, CAP, MCF), so `Idb.open` reads them once through a read-only connection and
closes it. The object is then immutable, thread-safe and cheap to query. STIXCore's build of 2.26.34
stores SQL NULL as the text ``'NULL'``; every column goes through `_clean`, which maps that text to
``None``.
"""

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from stix_assets.core.errors import IDBVersionError
from stix_assets.core.idb.layout import compile_layout, leading_fields
from stix_assets.core.idb.rows import PacketType, ParameterDef

__all__ = ["Idb"]

logger = logging.getLogger(__name__)


def _clean(value: object) -> object:
    """Map SQL NULL, and the text 'NULL' of STIXCore's 2.26.34 build, to ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return None if text in ("", "NULL") else text
    return value


def _int(value: object) -> int | None:
    v = _clean(value)
    return None if v is None else int(v)  # type: ignore[call-overload]


class Idb:
    """One IDB version in memory. Build with `Idb.open` (file) or `Idb.from_connection`."""

    def __init__(self, version: str, path: Path, tables: dict[str, list[tuple]]) -> None:
        self.version = version
        self.path = path
        self._pic = {
            (int(t), int(s)): (int(off), int(wid))
            for t, s, off, wid in tables["PIC"]
            if _int(off) is not None and int(off) >= 0
        }
        self._pid = [
            (int(t), int(s), _int(pi1), PacketType(int(spid), str(_clean(d) or ""), _int(tp) or -1))
            for t, s, pi1, spid, d, tp in tables["PID"]
        ]
        self._services = {(t, s) for t, s, _, _ in self._pid}
        self._apids: dict[tuple[int, int], frozenset[int]] | None = None
        if tables.get("PID_APID"):
            apids: dict[tuple[int, int], set[int]] = {}
            for t, s, apid in tables["PID_APID"]:
                apids.setdefault((int(t), int(s)), set()).add(int(apid))
            self._apids = {k: frozenset(v) for k, v in apids.items()}
        self._plf: dict[int, list[tuple[str, int, int]]] = {}
        for name, spid, offby, offbi in tables["PLF"]:
            self._plf.setdefault(int(spid), []).append((str(name), int(offby), _int(offbi) or 0))
        for rows in self._plf.values():
            rows.sort(key=lambda r: (r[1], r[2]))
        self._vpd: dict[int, list[tuple[int, str, int, int]]] = {}
        for tpsd, pos, name, grp, off in tables["VPD"]:
            self._vpd.setdefault(int(tpsd), []).append(
                (int(pos), str(name), _int(grp) or 0, _int(off) or 0)
            )
        for rows in self._vpd.values():
            rows.sort()
        s2k = [(int(p), int(lb), _int(ub), _clean(t)) for p, lb, ub, t in tables["S2K"]]
        self._params = {
            str(n): ParameterDef(
                name=str(n),
                description=str(_clean(d) or ""),
                width=_int(w),
                ptc=int(ptc),
                pfc=int(pfc),
                s2k_type=_s2k_type(s2k, int(ptc), int(pfc)),
                categ=_clean(cat),  # type: ignore[arg-type]
                curtx=_clean(cur),  # type: ignore[arg-type]
                unit=_clean(unit),  # type: ignore[arg-type]
            )
            for n, d, w, ptc, pfc, cat, cur, unit in tables["PCF"]
        }
        self._txp: dict[str, list[tuple[str, str, str]]] = {}
        for num, lo, hi, txt in tables["TXP"]:
            self._txp.setdefault(str(num), []).append((str(lo), str(hi), str(txt)))
        self._cap: dict[str, list[tuple[str, str]]] = {}
        for num, x, y in tables["CAP"]:
            self._cap.setdefault(str(num), []).append((str(x), str(y)))
        self._mcf = {str(r[0]): tuple(_clean(v) for v in r[1:]) for r in tables["MCF"]}
        self._layouts: dict[int, object] = {}
        self._lock = threading.Lock()

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, *, version: str) -> "Idb":
        """Read an ``idb.sqlite`` file (read-only) into memory."""
        path = Path(path)
        try:
            con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as err:
            raise IDBVersionError(f"cannot open IDB {path}: {err}") from err
        try:
            return cls.from_connection(con, version=version, path=path)
        finally:
            con.close()

    @classmethod
    def from_connection(
        cls, con: sqlite3.Connection, *, version: str, path: Path | None = None
    ) -> "Idb":
        """Load from an open connection (tests build small in-memory IDBs this way).

        Raises
        ------
        IDBVersionError
            If a required table (PIC, PID, PCF) is missing.
        """
        present = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        tables: dict[str, list[tuple]] = {}
        for key, (table, sql) in _QUERIES.items():
            if table in present:
                try:
                    tables[key] = list(con.execute(sql))
                except sqlite3.Error as err:
                    if key in _OPTIONAL_QUERIES:  # an older or hand-made table without the column
                        tables[key] = []
                        continue
                    raise IDBVersionError(f"IDB table {table} unreadable: {err}") from err
            elif key in ("PIC", "PID", "PCF"):
                raise IDBVersionError(f"IDB {path or version} has no table {table}")
            else:
                tables[key] = []
        return cls(version, Path(path) if path is not None else Path(":memory:"), tables)

    # -- queries ---------------------------------------------------------------------------
    def pic(self) -> dict[tuple[int, int], tuple[int, int]]:
        """``(type, subtype) -> (PI1 byte offset from packet start, PI1 width in bits)``."""
        return dict(self._pic)

    def packet_type(self, service: int, subtype: int, pi1: int | None) -> PacketType | None:
        """PID row for a packet kind; ``pi1=None`` (or negative) means the type has no PI1."""
        use_pi1 = pi1 is not None and pi1 >= 0 and (service, subtype) in self._pic
        for t, s, p, ptype in self._pid:
            if t == service and s == subtype and (not use_pi1 or p == pi1):
                return ptype
        return None

    def has_service(self, service: int, subtype: int) -> bool:
        """True when the PID table lists the (service, subtype) pair (with any PI1)."""
        return (service, subtype) in self._services

    def apids(self) -> frozenset[int] | None:
        """Every APID of the PID table (``PID_APID``); ``None`` when the IDB lacks the column."""
        if self._apids is None:
            return None
        return frozenset(a for v in self._apids.values() for a in v)

    def apids_for(self, service: int, subtype: int) -> frozenset[int] | None:
        """APIDs the PID table lists for a (service, subtype); ``None`` without ``PID_APID``."""
        if self._apids is None:
            return None
        return self._apids.get((service, subtype), frozenset())

    def packet_types(self) -> list[tuple[int, int, int | None, PacketType]]:
        """All PID rows as ``(type, subtype, pi1 value, PacketType)``."""
        return list(self._pid)

    def parameter(self, name: str) -> ParameterDef | None:
        """PCF definition of a parameter."""
        return self._params.get(name)

    def plf_rows(self, spid: int) -> list[tuple[str, int, int]]:
        """``(name, OFFBY, OFFBI)`` of a fixed packet, by position."""
        return list(self._plf.get(spid, []))

    def vpd_rows(self, tpsd: int) -> list[tuple[int, str, int, int]]:
        """``(POS, name, GRPSIZE, OFFSET)`` of a variable packet, by position."""
        return list(self._vpd.get(tpsd, []))

    def textual(self, curtx: str) -> list[tuple[str, str, str]]:
        """TXP rows ``(from, to, text)`` of a textual calibration."""
        return list(self._txp.get(curtx, []))

    def curve(self, curtx: str) -> list[tuple[str, str]]:
        """CAP points ``(x, y)`` of a numerical calibration."""
        return list(self._cap.get(curtx, []))

    def polynomial(self, curtx: str) -> tuple[object, ...] | None:
        """MCF POL1..POL5 (``None`` for empty) of a polynomial calibration."""
        return self._mcf.get(curtx)

    def cached(self, key: int, build: "Callable[[], object]") -> object:
        """Per-IDB cache used for compiled layouts."""
        with self._lock:
            if key not in self._layouts:
                self._layouts[key] = build()
            return self._layouts[key]

    def leading_fields(self, spid: int) -> dict[str, tuple[int, int]]:
        """Parameters at fixed positions: ``name -> (bit offset from packet start, width)``.

        All PLF parameters of a fixed packet; for a VPD packet the parameters before the first
        repeater (counter) group, following the cursor arithmetic including negative offsets.
        """
        return leading_fields(compile_layout(self, spid))

    def __repr__(self) -> str:
        return f"Idb(version={self.version!r}, path={str(self.path)!r})"


def _s2k_type(rows: list[tuple[int, int, int | None, object]], ptc: int, pfc: int) -> str | None:
    for p, lb, ub, t in rows:
        if p == ptc and lb <= pfc <= (ub if ub is not None else lb):
            return None if t is None else str(t)
    return None


_QUERIES: dict[str, tuple[str, str]] = {
    "PIC": ("PIC", "select PIC_TYPE, PIC_STYPE, PIC_PI1_OFF, PIC_PI1_WID from PIC"),
    "PID": (
        "PID",
        "select PID_TYPE, PID_STYPE, PID_PI1_VAL, PID_SPID, PID_DESCR, PID_TPSD from PID "
        "order by rowid",
    ),
    "PID_APID": ("PID", "select PID_TYPE, PID_STYPE, PID_APID from PID"),
    "PLF": ("PLF", "select PLF_NAME, PLF_SPID, PLF_OFFBY, PLF_OFFBI from PLF"),
    "VPD": ("VPD", "select VPD_TPSD, VPD_POS, VPD_NAME, VPD_GRPSIZE, VPD_OFFSET from VPD"),
    "PCF": (
        "PCF",
        "select PCF_NAME, PCF_DESCR, PCF_WIDTH, PCF_PTC, PCF_PFC, PCF_CATEG, PCF_CURTX, PCF_UNIT "
        "from PCF",
    ),
    "S2K": (
        "tblConfigS2KParameterTypes",
        "select PTC, PFC_LB, PFC_UB, S2K_TYPE from tblConfigS2KParameterTypes",
    ),
    "TXP": ("TXP", "select TXP_NUMBR, TXP_FROM, TXP_TO, TXP_ALTXT from TXP order by rowid"),
    "CAP": ("CAP", "select CAP_NUMBR, CAP_XVALS, CAP_YVALS from CAP order by rowid"),
    "MCF": (
        "MCF",
        "select MCF_IDENT, MCF_POL1, MCF_POL2, MCF_POL3, MCF_POL4, MCF_POL5 from MCF",
    ),
}
_OPTIONAL_QUERIES = frozenset({"PID_APID"})
"""Queries of columns a hand-made or older IDB may lack (no APID gate then)."""
