"""Vectorised big-endian bit-field extraction from a byte buffer."""

import numpy as np
from numpy.typing import NDArray

__all__ = ["FAST_WIDTH", "extract_bits", "pack_bits"]

FAST_WIDTH = 57  # 8 bytes read at any bit offset (0..7) hold any field up to 57 bits


def _words(buffer: NDArray[np.uint8]) -> NDArray:
    """Big-endian 64-bit words starting at every byte of ``buffer`` (a strided view, no copy)."""
    buffer = np.ascontiguousarray(buffer)
    if len(buffer) < 8:
        buffer = np.concatenate([buffer, np.zeros(8 - len(buffer), dtype=np.uint8)])
    return np.ndarray(
        shape=(len(buffer) - 7,), dtype=np.dtype(">u8"), buffer=buffer.data, strides=(1,)
    )


def _extract_fast(
    buffer: NDArray[np.uint8], bitpos: NDArray[np.int64], width: int | NDArray[np.int64]
) -> NDArray[np.uint64]:
    """Read fields of at most 57 bits: the 8 bytes holding the field, shifted and truncated.

    Near the end of the buffer the word is taken from the last 8 bytes and the shift grows
    accordingly, so no padding copy is needed. ``bitpos`` must be >= 0.
    """
    words = _words(buffer)
    last = len(words) - 1
    byte = bitpos >> 3
    shift = bitpos.view(np.uint64) & np.uint64(7)
    over = byte > last
    if np.any(over):
        shift[over] += ((byte[over] - last) * 8).astype(np.uint64)
        byte[over] = last
    w = words[byte]
    w.byteswap(inplace=True)
    w = w.view(np.uint64)
    w <<= shift
    if np.ndim(width) == 0:
        w >>= np.uint64(64 - int(width))
    else:
        w >>= np.uint64(64) - np.asarray(width).astype(np.uint64)
    return w


def extract_bits(
    buffer: NDArray[np.uint8],
    bitpos: NDArray[np.integer],
    width: int | NDArray[np.integer],
    *,
    signed: bool | NDArray[np.bool_] = False,
) -> NDArray:
    """Read big-endian bit fields from ``buffer``.

    Parameters
    ----------
    buffer : uint8 array
    bitpos : int array, bit position of each field's most significant bit (0 = MSB of byte 0)
    width : field width in bits (scalar or array broadcastable to ``bitpos``)
    signed : two's complement fields (scalar or array like ``width``)

    Returns
    -------
    int64 array for widths up to 57 bits (and signed fields up to 64), uint64 for unsigned fields
    of 58-64 bits, object array of Python ints for wider fields. Callers must make sure every field
    lies inside ``buffer``; bytes past its end read as a copy of the last byte.
    """
    bitpos = np.ascontiguousarray(bitpos, dtype=np.int64)
    if bitpos.size == 0:
        return np.zeros(bitpos.shape, dtype=np.int64)
    if np.ndim(width) == 0 and np.ndim(signed) == 0:
        return _extract_uniform(buffer, bitpos, int(width), bool(signed))
    width_a = np.broadcast_to(np.asarray(width, dtype=np.int64), bitpos.shape)
    signed_a = np.broadcast_to(np.asarray(signed, dtype=bool), bitpos.shape)
    wmax = int(width_a.max())
    if wmax <= FAST_WIDTH:
        raw = _extract_fast(buffer, bitpos, width_a).view(np.int64)  # < 2**57: same bits
    elif wmax <= 64:
        raw = _extract_64(buffer, bitpos, width_a)
        if not np.any(signed_a) and wmax > 63:
            return raw
        raw = raw.view(np.int64)
    else:
        return _extract_wide(buffer, bitpos, width_a, signed_a)
    if np.any(signed_a):
        neg = signed_a & (width_a < 64) & (((raw >> (width_a - 1)) & 1) == 1)
        raw = np.where(neg, raw - (np.int64(1) << np.minimum(width_a, 63)), raw)
    return raw


def _extract_uniform(
    buffer: NDArray[np.uint8], bitpos: NDArray[np.int64], width: int, signed: bool
) -> NDArray:
    """One width and signedness for all fields (the common case, with scalar arithmetic)."""
    if width > 64:
        shape = bitpos.shape
        return _extract_wide(
            buffer, bitpos, np.full(shape, width, np.int64), np.full(shape, signed, bool)
        )
    if width > FAST_WIDTH:
        raw = _extract_64(buffer, bitpos, np.full(bitpos.shape, width, np.int64))
        if not signed and width > 63:
            return raw
        raw = raw.view(np.int64)
    else:
        raw = _extract_fast(buffer, bitpos, width).view(np.int64)
    if signed and width < 64:
        raw = np.where(raw >= (1 << (width - 1)), raw - (1 << width), raw)
    return raw


def _extract_64(
    buffer: NDArray[np.uint8], bitpos: NDArray[np.int64], width: NDArray[np.int64]
) -> NDArray[np.uint64]:
    """Fields of up to 64 bits as two reads (high part, then the low 32 bits)."""
    hi_w = np.maximum(width - 32, 1)
    hi = _extract_fast(buffer, bitpos, hi_w)
    lo_w = np.maximum(width - hi_w, 1)
    lo = _extract_fast(buffer, bitpos + hi_w, lo_w)
    raw = (hi << lo_w.astype(np.uint64)) | lo
    small = width <= 32
    if np.any(small):
        raw[small] = _extract_fast(buffer, bitpos[small], width[small])
    return raw


def _extract_wide(
    buffer: NDArray[np.uint8],
    bitpos: NDArray[np.int64],
    width: NDArray[np.int64],
    signed: NDArray[np.bool_],
) -> NDArray[np.object_]:
    """Fields wider than 64 bits as exact Python ints, read in vectorised 32-bit pieces."""
    flat_pos, flat_w, flat_s = bitpos.ravel(), width.ravel(), signed.ravel()
    values = [0] * len(flat_pos)
    done = np.zeros(len(flat_pos), dtype=np.int64)
    while np.any(done < flat_w):
        step = np.clip(flat_w - done, 0, 32)
        live = np.flatnonzero(step > 0)
        part = _extract_fast(buffer, flat_pos[live] + done[live], step[live]).tolist()
        for i, p, st in zip(live.tolist(), part, step[live].tolist(), strict=True):
            values[i] = (values[i] << st) | p
        done += step
    for i, (w, sg) in enumerate(zip(flat_w.tolist(), flat_s.tolist(), strict=True)):
        if sg and values[i] >> (w - 1):
            values[i] -= 1 << w
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(bitpos.shape)


def pack_bits(fields: list[tuple[int, int]]) -> bytes:
    """Pack ``(value, width)`` pairs big-endian into bytes, zero padded to a whole byte.

    The inverse of `extract_bits` for consecutive fields; used by tests and tools to build packets.
    Negative values are written in two's complement.
    """
    acc = 0
    nbits = 0
    for value, width in fields:
        acc = (acc << width) | (int(value) & ((1 << width) - 1))
        nbits += width
    pad = (-nbits) % 8
    acc <<= pad
    return acc.to_bytes((nbits + pad) // 8, "big") if nbits else b""
