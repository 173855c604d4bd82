"""Write the demo mission's IDB: a small SQLite file in the schema of the real STIX IDB files.

The rows come from `stix_assets.demo.idb_subset` (a literal subset of IDB 2.26.34 for the packet
kinds the demo emits). Table and column names, declared column types and the ``IDB`` version row
are those of the real files, so `stix_assets.core.idb.IdbStore` reads the result like any other
IDB. The file is written deterministically (same rows, same order), so two runs give the same
bytes.
"""

import json
import logging
import os
import sqlite3
from pathlib import Path

from stix_assets.demo import idb_subset

__all__ = ["DEMO_IDB_VERSION", "write_demo_history", "write_demo_idb"]

logger = logging.getLogger(__name__)

DEMO_IDB_VERSION: str = idb_subset.IDB_VERSION
_MAX_COARSE = 4294967295


def _create_sql(table: str, columns: tuple[tuple[str, str], ...]) -> str:
    cols = ",\n".join(f"  `{name}` {decl}" for name, decl in columns)
    return f"CREATE TABLE `{table}`\n (\n{cols}\n)"


def _table_rows(table: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """All columns of a subset table and its full rows (constants filled in)."""
    names = [name for name, _ in idb_subset.SCHEMA[table]]
    const = idb_subset.CONSTANTS[table]
    stored = idb_subset.COLUMNS[table]
    rows = []
    for row in idb_subset.ROWS[table]:
        values = dict(zip(stored, row, strict=True))
        rows.append(tuple(values[n] if n in values else const.get(n) for n in names))
    return names, rows


def write_demo_idb(path: Path) -> Path:
    """Create the demo IDB SQLite file at ``path`` (replacing any file there).

    Parameters
    ----------
    path : target file, normally ``<idb root>/<DEMO_IDB_VERSION>/idb.sqlite``

    Returns
    -------
    The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        for table, columns in idb_subset.SCHEMA.items():
            con.execute(_create_sql(table, columns))
            names, rows = _table_rows(table)
            if rows:
                marks = ", ".join("?" for _ in names)
                con.executemany(f"INSERT INTO `{table}` VALUES ({marks})", rows)
        con.execute(
            "CREATE TABLE IDB(\ncreation_datetime  datetime,\nversion  varchar(64) not null\n)"
        )
        con.execute(
            "INSERT INTO IDB VALUES (?, ?)", (idb_subset.IDB_CREATION, idb_subset.IDB_VERSION)
        )
        con.commit()
    finally:
        con.close()
    os.replace(tmp, path)
    logger.info("demo idb written path=%s version=%s", path, DEMO_IDB_VERSION)
    return path


def write_demo_history(path: Path, *, version: str = DEMO_IDB_VERSION) -> Path:
    """Write an ``idbVersionHistory.json`` that maps all on-board time to ``version``.

    Same format as STIXCore's history file (``version``, ``aswVersion``, ``validityPeriodUTC``,
    ``validityPeriodOBT``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "version": version,
        "aswVersion": 0,
        "validityPeriodUTC": [["2000-01-01T00:00:00.000+00:00", "2136-02-07T06:28:15.000+00:00"]],
        "validityPeriodOBT": [{"coarse": 0, "fine": 0}, {"coarse": _MAX_COARSE, "fine": 0}],
    }
    path.write_text(json.dumps([entry], indent=4) + "\n")
    return path
