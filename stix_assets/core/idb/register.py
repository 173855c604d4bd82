"""Register a new IDB: validate the SQLite file, install it, and extend the version history.

Rolling out an IDB used to be about ten manual steps (copy, rename, edit ``idbVersionHistory.json``
by hand, compute the OBT of the switch-over with SPICE, ...). `add_idb` does them in one call:

1. `check_idb` validates the file: it is SQLite, it has every table and column `Idb` reads, its
   version label is known (the file's own ``IDB`` table, else the caller's label; the two must
   agree), and it defines the packets of the STIX APIDs (`STIX_APIDS`): PID rows for each APID,
   PLF rows for each fixed packet, VPD rows for each variable one, and a PCF row for every
   parameter these name.
2. The file is copied to ``<idb_dir>/<version>/idb.sqlite`` through `atomic_path`. A different
   file already installed under the same version is refused; the same file (same sha256) is kept.
3. The history gets a new last entry from ``valid_from`` (UTC) to the open end of the previous last
   entry; that entry is closed at ``valid_from``. The OBT bounds come from the UTC time through the
   SPICE SCLK conversion (`stix_assets.core.time.utc_to_scet`), the same way the existing entries'
   UTC/OBT pairs relate. The file is rewritten atomically.

`stix_assets.core.idb.days` then says which SCET days changed IDB (the days to reprocess).
"""

import hashlib
import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from astropy.time import Time

from stix_assets.core.atomic import atomic_path
from stix_assets.core.errors import IDBVersionError
from stix_assets.core.idb.store import HISTORY_FILE, read_idb_label
from stix_assets.core.time import HasSclk, SclkModel, utc_to_scet

__all__ = [
    "OPEN_END_OBT",
    "OPEN_END_UTC",
    "REQUIRED_COLUMNS",
    "STIX_APIDS",
    "IdbAddition",
    "IdbCheck",
    "add_idb",
    "check_idb",
    "extend_history",
    "file_sha256",
]

STIX_APIDS = (1441, 1444, 1447, 1448, 1449, 1468, 1500)
"""APIDs whose packets the pipeline decodes (TC verification, HK, events, 236-239, memory,
science, quick-look); each must have packet definitions in a new IDB."""

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "PIC": ("PIC_TYPE", "PIC_STYPE", "PIC_PI1_OFF", "PIC_PI1_WID"),
    "PID": ("PID_TYPE", "PID_STYPE", "PID_APID", "PID_PI1_VAL", "PID_SPID", "PID_DESCR", "PID_TPSD"),
    "PLF": ("PLF_NAME", "PLF_SPID", "PLF_OFFBY", "PLF_OFFBI"),
    "VPD": ("VPD_TPSD", "VPD_POS", "VPD_NAME", "VPD_GRPSIZE", "VPD_OFFSET"),
    "PCF": (
        "PCF_NAME", "PCF_DESCR", "PCF_WIDTH", "PCF_PTC", "PCF_PFC", "PCF_CATEG", "PCF_CURTX",
        "PCF_UNIT",
    ),
    "tblConfigS2KParameterTypes": ("PTC", "PFC_LB", "PFC_UB", "S2K_TYPE"),
    "TXP": ("TXP_NUMBR", "TXP_FROM", "TXP_TO", "TXP_ALTXT"),
    "CAP": ("CAP_NUMBR", "CAP_XVALS", "CAP_YVALS"),
    "MCF": ("MCF_IDENT", "MCF_POL1", "MCF_POL2", "MCF_POL3", "MCF_POL4", "MCF_POL5"),
}  # fmt: skip
"""Tables and columns `stix_assets.core.idb.model.Idb` reads (its ``_QUERIES``)."""

OPEN_END_UTC = "2136-02-07T08:11:44.778+00:00"
OPEN_END_OBT = {"coarse": 4294967295, "fine": 0}
"""The open end of the last history entry (STIXCore: the end of the 32-bit clock)."""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_NAME = "idb.sqlite"


@dataclass(frozen=True, slots=True)
class IdbCheck:
    """A validated IDB file.

    Attributes
    ----------
    path : the file checked
    version : its version label
    sha256 : hex digest of the file
    packets_per_apid : number of PID rows per STIX APID
    n_parameters : number of PCF rows
    """

    path: Path
    version: str
    sha256: str
    packets_per_apid: dict[int, int]
    n_parameters: int


@dataclass(frozen=True, slots=True)
class IdbAddition:
    """What `add_idb` did (or would do with ``dry_run``).

    Attributes
    ----------
    check : the validated file
    target : ``<idb_dir>/<version>/idb.sqlite``
    copied : the file was (or would be) copied; ``False`` if the same file was already installed
    history_before, history_after : the history entries (STIXCore JSON) before and after
    dry_run : nothing was written
    """

    check: IdbCheck
    target: Path
    copied: bool
    history_before: list[dict[str, Any]]
    history_after: list[dict[str, Any]]
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def new_entry(self) -> dict[str, Any]:
        """The history entry added for the new version."""
        return self.history_after[-1]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_readonly(path: Path) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise IDBVersionError(f"IDB file {path} does not exist")
    with path.open("rb") as fh:
        if fh.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            raise IDBVersionError(f"IDB file {path} is not an SQLite database")
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise IDBVersionError(f"cannot open IDB file {path}: {err}") from err


def _check_schema(con: sqlite3.Connection, path: Path) -> None:
    tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    problems = []
    for table, columns in REQUIRED_COLUMNS.items():
        if table not in tables:
            problems.append(f"table {table} missing")
            continue
        have = {r[1] for r in con.execute(f"pragma table_info('{table}')")}
        missing = [c for c in columns if c not in have]
        if missing:
            problems.append(f"table {table} lacks {', '.join(missing)}")
    if problems:
        raise IDBVersionError(
            f"IDB file {path} cannot be read by the pipeline: {'; '.join(problems)}"
        )


def _check_packets(con: sqlite3.Connection, path: Path, apids: tuple[int, ...]) -> dict[int, int]:
    marks = ",".join("?" * len(apids))
    rows = con.execute(
        f"select PID_APID, PID_SPID, PID_TPSD from PID where PID_APID in ({marks})", apids
    ).fetchall()
    per_apid = {a: 0 for a in apids}
    for apid, _, _ in rows:
        per_apid[int(apid)] += 1
    absent = [a for a, n in per_apid.items() if n == 0]
    if absent:
        raise IDBVersionError(
            f"IDB file {path} defines no packets for STIX APID(s) {', '.join(map(str, absent))}"
        )
    pcf = {str(r[0]).strip() for r in con.execute("select PCF_NAME from PCF")}
    plf: dict[int, set[str]] = {}
    for name, spid in con.execute("select PLF_NAME, PLF_SPID from PLF"):
        plf.setdefault(int(spid), set()).add(str(name).strip())
    vpd: dict[int, set[str]] = {}
    for name, tpsd in con.execute("select VPD_NAME, VPD_TPSD from VPD"):
        vpd.setdefault(int(tpsd), set()).add(str(name).strip())
    # a packet may have no parameters (17/2 connection test); an APID without any may not
    defined = {a: 0 for a in apids}
    unknown: set[str] = set()
    for apid, spid, raw_tpsd in rows:
        tpsd = int(raw_tpsd) if str(raw_tpsd).strip() not in ("", "None", "NULL") else -1
        names = vpd.get(tpsd, set()) if tpsd > 0 else plf.get(int(spid), set())
        defined[int(apid)] += bool(names)
        unknown |= names - pcf
    empty = [a for a, n in defined.items() if n == 0]
    if empty:
        raise IDBVersionError(
            f"IDB file {path} has no PLF/VPD packet definitions for STIX APID(s) "
            f"{', '.join(map(str, empty))}"
        )
    if unknown:
        raise IDBVersionError(
            f"IDB file {path} lacks PCF rows for parameter(s) {', '.join(sorted(unknown)[:10])}"
        )
    return per_apid


def check_idb(
    path: Path, *, version: str | None = None, apids: tuple[int, ...] = STIX_APIDS
) -> IdbCheck:
    """Validate an IDB SQLite file for use by the pipeline.

    Parameters
    ----------
    path : the ``idb.sqlite`` file
    version : the label to install it under; required when the file has no ``IDB`` table, and
        must fit the table's label otherwise (``2.26.35_alpha`` fits ``2.26.35``)
    apids : the APIDs that must have packet definitions

    Raises
    ------
    IDBVersionError
        With the file's path in the message, for every failed check.
    """
    path = Path(path)
    con = _open_readonly(path)
    try:
        try:
            _check_schema(con, path)
            per_apid = _check_packets(con, path, apids)
            n_params = int(con.execute("select count(*) from PCF").fetchone()[0])
        except sqlite3.Error as err:
            raise IDBVersionError(f"IDB file {path} is not a readable IDB: {err}") from err
    finally:
        con.close()
    stored = read_idb_label(path)
    if stored is None and version is None:
        raise IDBVersionError(f"IDB file {path} has no IDB version table; give the version label")
    if (
        stored is not None
        and version is not None
        and not (version == stored or version.startswith(f"{stored}_"))
    ):
        raise IDBVersionError(f"IDB file {path} holds version {stored}, not {version}")
    label = version or stored
    if not label or "/" in label or label.startswith("."):
        raise IDBVersionError(f"IDB file {path}: unusable version label {label!r}")
    return IdbCheck(path, label, file_sha256(path), per_apid, n_params)


def _utc_text(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds")


def extend_history(
    entries: list[dict[str, Any]],
    *,
    version: str,
    valid_from: datetime,
    valid_from_obt: tuple[int, int],
    asw_version: int | None = None,
) -> list[dict[str, Any]]:
    """Return the history with a new open-ended last entry from ``valid_from``.

    The previous last entry is closed at ``valid_from``; the new entry takes its open end (or
    `OPEN_END_UTC`/`OPEN_END_OBT` for an empty history) and, unless given, its ``aswVersion``.

    Raises
    ------
    IDBVersionError
        If ``valid_from`` does not fall after the start of the previous last entry.
    """
    out = [dict(e) for e in entries]
    start_utc = _utc_text(valid_from)
    start_obt = {"coarse": int(valid_from_obt[0]), "fine": int(valid_from_obt[1])}
    end_utc, end_obt, asw = OPEN_END_UTC, dict(OPEN_END_OBT), asw_version
    if out:
        last = out[-1]
        (last_start, last_end), (obt0, obt1) = (
            last["validityPeriodUTC"][0],
            last["validityPeriodOBT"],
        )
        if (start_obt["coarse"], start_obt["fine"]) <= (int(obt0["coarse"]), int(obt0["fine"])):
            raise IDBVersionError(
                f"IDB {version} valid from {start_utc} does not start after the current last "
                f"entry {last['version']} (valid from {last_start})"
            )
        end_utc, end_obt = last_end, dict(obt1)
        asw = asw_version if asw_version is not None else last.get("aswVersion")
        out[-1] = {**last, "validityPeriodUTC": [[last_start, start_utc]],
                   "validityPeriodOBT": [dict(obt0), dict(start_obt)]}  # fmt: skip
    out.append(
        {
            "version": version,
            "aswVersion": asw,
            "validityPeriodUTC": [[start_utc, end_utc]],
            "validityPeriodOBT": [start_obt, end_obt],
        }
    )
    return out


def _read_raw_history(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise IDBVersionError(f"cannot read IDB version history {path}: {err}") from err
    if not isinstance(raw, list):
        raise IDBVersionError(f"IDB version history {path} is not a list of entries")
    return raw


def _install(check: IdbCheck, target: Path) -> bool:
    """Copy the file to ``target`` unless the same file is there; refuse a different one."""
    if target.is_file():
        if file_sha256(target) != check.sha256:
            raise IDBVersionError(
                f"IDB version {check.version} is already installed at {target} with different "
                f"content than {check.path}; refusing to overwrite"
            )
        return False
    return True


def add_idb(
    path: Path,
    idb_dir: Path,
    *,
    valid_from: datetime,
    kernels: HasSclk | SclkModel,
    version: str | None = None,
    asw_version: int | None = None,
    dry_run: bool = False,
) -> IdbAddition:
    """Validate, install and register an IDB file (module docstring: the three steps).

    Parameters
    ----------
    path : the new ``idb.sqlite``
    idb_dir : folder with ``<version>/idb.sqlite`` and ``idbVersionHistory.json``
    valid_from : first UTC time (timezone-aware) at which the new IDB applies
    kernels : loaded SPICE kernels (or their `SclkModel`) for the UTC -> OBT conversion
    version : label when the file has no ``IDB`` table, or a suffixed label (``2.26.39_rc1``)
    asw_version : flight software version of the entry (default: the previous entry's)
    dry_run : validate and compute, write nothing

    Raises
    ------
    IDBVersionError
        If the file fails `check_idb`, a different file of that version is installed, or
        ``valid_from`` is not after the start of the current last history entry.
    SpiceCoverageError
        If ``valid_from`` is outside the spacecraft clock's range.
    """
    if valid_from.tzinfo is None:
        raise IDBVersionError(f"valid-from time {valid_from} for {path} has no time zone")
    check = check_idb(path, version=version)
    idb_dir = Path(idb_dir)
    target = idb_dir / check.version / _SQLITE_NAME
    copy = _install(check, target)
    coarse, fine = utc_to_scet(Time(valid_from.astimezone(UTC)), kernels, warn=False)
    hist_path = idb_dir / HISTORY_FILE
    before = _read_raw_history(hist_path)
    after = extend_history(
        before,
        version=check.version,
        valid_from=valid_from,
        valid_from_obt=(int(coarse), int(fine)),
        asw_version=asw_version,
    )
    if not dry_run:
        if copy:
            with atomic_path(target) as tmp:
                shutil.copyfile(check.path, tmp)
        with atomic_path(hist_path) as tmp:
            tmp.write_text(json.dumps(after, indent=4) + "\n")
    return IdbAddition(check, target, copy, before, after, dry_run=dry_run)
