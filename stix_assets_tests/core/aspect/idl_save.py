"""A minimal writer of IDL save files (double arrays only), to give the loader real save files.

The record layout (signature ``SR\\0\\4``, VARIABLE records with a type and array descriptor, an
END_MARKER) is the one `scipy.io.readsav` reads; IDL stores variable names in upper case.
"""

import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["write_idl_save"]

_VARIABLE, _END = 2, 6
_DOUBLE, _ARRAY_FLAG = 5, 4


def _string(text: str) -> bytes:
    raw = text.encode("latin1")
    return struct.pack(">l", len(raw)) + raw + b"\0" * (-len(raw) % 4)


def _variable(name: str, values: np.ndarray) -> bytes:
    data = np.ascontiguousarray(np.atleast_1d(values), dtype=">f8").ravel()
    dims = [data.size] + [0] * 7
    array_desc = struct.pack(">l4xlll8xl", 8, data.nbytes, data.size, 1, 8)
    array_desc += struct.pack(">8l", *dims)
    body = _string(name.upper()) + struct.pack(">ll", _DOUBLE, _ARRAY_FLAG) + array_desc
    return body + struct.pack(">l", 7) + data.tobytes()


def write_idl_save(path: Path, variables: Mapping[str, np.ndarray]) -> Path:
    """Write ``variables`` (name -> 1-D numbers) as an uncompressed IDL save file."""
    out = bytearray(b"SR\x00\x04")
    for name, values in variables.items():
        body = _variable(name, np.asarray(values, np.float64))
        nextrec = len(out) + 16 + len(body)
        out += struct.pack(">lII4x", _VARIABLE, nextrec, 0) + body
    out += struct.pack(">lII4x", _END, len(out) + 16, 0)
    path.write_bytes(bytes(out))
    return path
