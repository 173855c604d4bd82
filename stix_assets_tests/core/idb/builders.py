"""Tiny IDB SQLite files and packet batches built in place for the IDB tests."""

import sqlite3
from pathlib import Path

import numpy as np

from stix_assets.core.tmtc import PacketBatch, decode_headers, encode_header

_SCHEMA = {
    "PIC": "PIC_TYPE int, PIC_STYPE int, PIC_PI1_OFF int, PIC_PI1_WID int",
    "PID": "PID_TYPE int, PID_STYPE int, PID_PI1_VAL int, PID_SPID int, PID_DESCR text, PID_TPSD int",
    "PLF": "PLF_NAME text, PLF_SPID int, PLF_OFFBY int, PLF_OFFBI int",
    "VPD": "VPD_TPSD int, VPD_POS int, VPD_NAME text, VPD_GRPSIZE int, VPD_OFFSET int",
    "PCF": (
        "PCF_NAME text, PCF_DESCR text, PCF_WIDTH int, PCF_PTC int, PCF_PFC int, "
        "PCF_CATEG text, PCF_CURTX text, PCF_UNIT text"
    ),
    "tblConfigS2KParameterTypes": "PTC int, PFC_LB int, PFC_UB int, S2K_TYPE text",
    "TXP": "TXP_NUMBR text, TXP_FROM text, TXP_TO text, TXP_ALTXT text",
    "CAP": "CAP_NUMBR text, CAP_XVALS text, CAP_YVALS text",
    "MCF": "MCF_IDENT text, MCF_POL1 text, MCF_POL2 text, MCF_POL3 text, MCF_POL4 text, MCF_POL5 text",
}

# PTC/PFC -> S2K type rows as in the real table (subset): 3 = unsigned, 4 = signed, 5 = real
S2K_ROWS = [
    (1, 0, 0, "U"),
    (2, 1, 32, "U"),
    (3, 0, 16, "U"),
    (4, 0, 16, "I"),
    (5, 1, 2, "R"),
    (7, 1, 99999, "O"),
    (9, 17, 17, "T"),
]


def pcf(
    name: str,
    width: int,
    *,
    signed: bool = False,
    ptc: int | None = None,
    pfc: int = 4,
    categ: str = "N",
    curtx: str | None = None,
    unit: str | None = None,
) -> tuple:
    """One PCF row; PTC 3 (unsigned) or 4 (signed) unless given."""
    return (name, f"{name} descr", width, ptc or (4 if signed else 3), pfc, categ, curtx, unit)


def write_idb(
    path: Path,
    *,
    version: str | None,
    pid: list[tuple] = (),
    pcf_rows: list[tuple] = (),
    plf: list[tuple] = (),
    vpd: list[tuple] = (),
    txp: list[tuple] = (),
    cap: list[tuple] = (),
    mcf: list[tuple] = (),
    pic: list[tuple] = ((3, 25, 16, 8), (21, 6, 16, 8), (1, 1, -1, 0)),
) -> Path:
    """Write an ``idb.sqlite`` with only the given rows (``version=None``: no IDB table)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("pragma synchronous = off")  # test files: no fsync
    con.execute("pragma journal_mode = memory")
    with con:
        for table, cols in _SCHEMA.items():
            con.execute(f"create table {table} ({cols})")
        rows = {
            "PIC": pic,
            "PID": pid,
            "PLF": plf,
            "VPD": vpd,
            "PCF": pcf_rows,
            "tblConfigS2KParameterTypes": S2K_ROWS,
            "TXP": txp,
            "CAP": cap,
            "MCF": mcf,
        }
        for table, data in rows.items():
            for row in data:
                marks = ",".join("?" * len(row))
                con.execute(f"insert into {table} values ({marks})", row)
        if version is not None:
            con.execute("create table IDB (creation_datetime datetime, version varchar(64))")
            con.execute("insert into IDB values ('2024-01-01', ?)", (version,))
    con.close()
    return path


def packet(
    service: int,
    subtype: int,
    payload: bytes,
    *,
    coarse: int = 700_000_000,
    fine: int = 0,
    seq: int = 0,
) -> bytes:
    """A complete TM packet: 16 header bytes plus ``payload``."""
    head = encode_header(
        apid=1500,
        sequence_flag=3,
        sequence_count=seq,
        data_length=len(payload) + 16 - 7,
        service_type=service,
        service_subtype=subtype,
        scet_coarse=coarse,
        scet_fine=fine,
    )
    return head + payload


def batch_of(packets: list[bytes], name: str = "test.bin") -> PacketBatch:
    """A PacketBatch over the given packets (one file)."""
    buffer = np.frombuffer(b"".join(packets), dtype=np.uint8).copy()
    length = np.array([len(p) for p in packets], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
    head = (
        buffer[offset[:, None] + np.arange(16)[None, :]]
        if len(packets)
        else np.zeros((0, 16), np.uint8)
    )
    return PacketBatch(
        headers=decode_headers(head),
        pi1=np.full(len(packets), -1, dtype=np.int64),
        offset=offset,
        length=length,
        packet_id=np.arange(1, len(packets) + 1, dtype=np.int64),
        file_index=np.zeros(len(packets), dtype=np.int32),
        buffer=buffer,
        files=(name,),
    )
