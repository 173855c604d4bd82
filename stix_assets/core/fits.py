"""The one FITS writer of stix_assets: product tables through fitsio, written atomically.

Writing is the cost that decides pipeline speed (docs ARCHITECTURE section 5: ~1.6 ms per small
three-HDU file through fitsio/CFITSIO against ~22 ms through ``astropy.io.fits``), so products are
written here with fitsio, while reading, merging and tests use astropy. `build_hdulist` builds
the same file with astropy; a test proves both writers give the same HDUs, columns, formats,
units, shapes and keywords.

A file is described by plain values: primary header cards ``(keyword, value, comment)`` and
`TableHdu` objects holding a numpy structured array. Unsigned integer columns use the FITS
``TZERO`` convention, ``bool`` becomes ``L``, ``S<n>`` becomes ``<n>A`` and a sub-array column
gets ``TDIM`` (as astropy writes it). A string sub-array (``S<n>`` of shape ``(a, b)``) is one
``<n*a*b>A`` field whose ``TDIM`` starts with the string width, ``(n,b,a)``: astropy, fitsio and
STIXCore's files read that as an ``(a, b)`` array of strings (the FITS ``TDIM`` rule for
character arrays: the first axis is the string length).

Determinism: CFITSIO stamps its own checksum cards with the wall clock, so checksums are computed
here (FITS checksum convention, Seaman et al. 2002, as CFITSIO and astropy implement it) with a
comment the caller chooses. Same inputs and the same comment give byte-identical files.

Every write goes to a temporary file in the target directory, is flushed to disk and then
renamed over the target with `os.replace`: a reader sees the old file or the new one, never half
of one, and a crash leaves at most a ``.tmp`` file (never under the final name). Inside a
`stix_assets.core.atomic.StagedWrites` block the rename waits for the block's commit (the files of
a level-day are renamed together). A full disk raises `DiskFullError`, also where CFITSIO only
says "tried to move past end of file".
"""

import functools
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import fitsio
import numpy as np
from numpy.typing import NDArray

from stix_assets.core.atomic import atomic_path, remove_stale_temporaries
from stix_assets.core.errors import DiskFullError
from stix_assets.core.filesystem import free_bytes, is_disk_full
from stix_assets.core.fits_cards import header_values
from stix_assets.core.fits_handover import identity, recall, remember
from stix_assets.core.steps import timed

if TYPE_CHECKING:  # imported where used: astropy.io.fits costs ~0.4 s and writing needs it rarely
    from astropy.io import fits

__all__ = [
    "Card",
    "FitsContent",
    "TableHdu",
    "atomic_path",
    "build_hdulist",
    "content_digest",
    "read_fits",
    "remove_stale_temporaries",
    "write_fits",
]

logger = logging.getLogger(__name__)

Card = tuple[str, object, str]  # (keyword, value, comment); COMMENT/HISTORY take the text as value

_BLOCK = 2880
_CARD = 80
_CHECKSUM_ZERO = "0000000000000000"
_COMMENTARY = ("COMMENT", "HISTORY")
_EXCLUDE = frozenset(range(0x3A, 0x41)) | frozenset(range(0x5B, 0x61))


@dataclass(frozen=True, slots=True)
class TableHdu:
    """One binary-table extension.

    Attributes
    ----------
    name : ``EXTNAME``
    data : structured array, one field per column (native or big-endian dtypes)
    units : column name -> ``TUNIT`` value (columns without an entry get none)
    cards : extra header cards written after the column definitions
    tscal : also write ``TSCALn = 1`` next to each ``TZEROn`` (STIXCore does this from L0 on, for
        IDL ``mrdfits``; its LB files have no ``TSCAL``)
    """

    name: str
    data: NDArray[np.void]
    units: Mapping[str, str] = field(default_factory=dict)
    cards: tuple[Card, ...] = ()
    tscal: bool = False


class FitsContent:
    """A FITS file read back: the primary header and each table by ``EXTNAME``.

    The astropy headers (``primary``, ``headers``) are made on first use: most readers need only
    the tables, the column units and a few primary values (``primary_values``), which are parsed
    without astropy (`stix_assets.core.fits_cards`; astropy's card parsing was a tenth of a run).
    ``units`` holds each table's column units (``TUNIT``) by column name.
    """

    def __init__(
        self,
        primary_block: str,
        header_blocks: Mapping[str, str],
        tables: dict[str, NDArray[np.void]],
        units: dict[str, dict[str, str]],
    ) -> None:
        self._primary_block = primary_block
        self._header_blocks = dict(header_blocks)
        self.tables = tables
        self.units = units

    @functools.cached_property
    def primary(self) -> "fits.Header":
        """The primary header (astropy)."""
        from astropy.io import fits

        return fits.Header.fromstring(self._primary_block)

    @functools.cached_property
    def headers(self) -> dict[str, "fits.Header"]:
        """Each table's header (astropy), by ``EXTNAME``."""
        from astropy.io import fits

        return {name: fits.Header.fromstring(b) for name, b in self._header_blocks.items()}

    @functools.cached_property
    def primary_values(self) -> dict[str, object]:
        """Keyword -> value of the primary header (no ``COMMENT``/``HISTORY``), as astropy."""
        return header_values(self._primary_block)


# -- writing with fitsio --------------------------------------------------------------------------
@timed("write")
def write_fits(
    path: Path | str,
    primary: Sequence[Card],
    tables: Sequence[TableHdu],
    *,
    checksum_comment: str,
) -> str:
    """Write PRIMARY (header only) plus binary tables atomically; return the file's sha256.

    Parameters
    ----------
    path : target file; its directory is created
    primary : primary header cards in order (``SIMPLE``/``BITPIX``/``NAXIS``/``EXTEND`` are added)
    tables : the extensions, in order
    checksum_comment : suffix of the ``CHECKSUM``/``DATASUM`` comments (e.g. the creation time),
        so that the same inputs give the same bytes

    Returns
    -------
    str
        Hex sha256 of the bytes written.

    Raises
    ------
    ArchiveWriteError
        If the file system refuses the file: `DiskFullError` (also when CFITSIO reports a full
        disk as a failed write), `ArchiveReadOnlyError`, or a missing folder or permission.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        head = _primary_bytes(primary, checksum_comment)
        tmp.write_bytes(head)
        try:
            with fitsio.FITS(str(tmp), "rw") as f:
                for table in tables:
                    _append_table(f, table, checksum_comment)
        except OSError as err:
            # CFITSIO names no errno: a full disk is status 106/107 ("error writing to FITS
            # file", "tried to move past end of file"); tell it by the space left
            needed = len(head) + sum(t.data.nbytes + 2 * _BLOCK for t in tables)
            if err.errno is None and is_disk_full(tmp.parent, needed_bytes=needed):
                raise DiskFullError(path=path, free_bytes=free_bytes(tmp.parent)) from err
            raise
        raw = bytearray(tmp.read_bytes())
        _fill_checksums(raw)
        tmp.write_bytes(bytes(raw))
        # a copy: the caller may reuse its arrays; what is handed over stays what was written
        written = [(t.name, np.array(t.data, order="C")) for t in tables]
        remember(  # a rename keeps the identity
            identity(tmp),
            functools.partial(_content_written, _header_blocks(raw), written),
            sum(d.nbytes for _, d in written),
        )
    logger.debug("fits written file=%s bytes=%d", path.name, len(raw))
    return hashlib.sha256(raw).hexdigest()


def _content_written(
    blocks: Sequence[str], tables: Sequence[tuple[str, NDArray[np.void]]]
) -> FitsContent:
    """What `read_fits` would return for a file just written.

    From its header blocks (primary first) and the tables written; built on the first `recall`.
    """
    values = [header_values(block) for block in blocks[1:]]
    return FitsContent(
        blocks[0],
        {name: block for (name, _), block in zip(tables, blocks[1:], strict=True)},
        {name: _as_read(data) for name, data in tables},
        {name: column_units(v) for (name, _), v in zip(tables, values, strict=True)},
    )


def _as_read(data: NDArray[np.void]) -> NDArray[np.void]:
    """A written table as `read_fits` gives it back.

    Native byte order and the same shapes; strings as narrow as their longest value (the width
    `np.char.encode` gives fitsio's text on reading).
    """
    columns = []
    for name in data.dtype.names or ():
        col = data[name]
        if col.dtype.kind == "S":
            col = np.char.encode(col.astype(f"U{col.dtype.itemsize}"), "ascii")
        else:
            col = col.astype(col.dtype.newbyteorder("="), copy=False)
        columns.append((name, col))
    out = np.empty(len(data), dtype=[(n, c.dtype, c.shape[1:]) for n, c in columns])
    for name, col in columns:
        out[name] = col
    return out


def _checksum_cards(comment: str) -> list[Card]:
    return [
        ("CHECKSUM", _CHECKSUM_ZERO, f"HDU checksum updated {comment}"),
        ("DATASUM", "0", f"data unit checksum updated {comment}"),
    ]


def _with_checksum_cards(cards: Sequence[Card], comment: str) -> list[Card]:
    """Insert the checksum placeholders before the trailing COMMENT/HISTORY cards (as astropy)."""
    cards = list(cards)
    cut = len(cards)
    while cut > 0 and cards[cut - 1][0] in _COMMENTARY:
        cut -= 1
    return cards[:cut] + _checksum_cards(comment) + cards[cut:]


def _value_width(value: object) -> int:
    """Columns a fixed-format card uses up to the end of its value (``KEY     = value``)."""
    if isinstance(value, str):
        quoted = "'" + value.replace("'", "''").ljust(8) + "'"
        return 10 + max(20, len(quoted))
    return 30


def _fit_comment(key: str, value: object, comment: str) -> str:
    """Cut a comment to what fits on its card (astropy would warn, CFITSIO cuts silently)."""
    width = _value_width(value)
    if not comment or width > _CARD:  # a long string goes to CONTINUE cards, comment on the last
        return comment
    room = _CARD - width - 3
    return comment[:room] if room > 0 else ""


def _fill_header(header: "fits.Header", cards: Sequence[Card]) -> None:
    for key, value, text in cards:
        if key == "HISTORY":
            header.add_history(str(value))
        elif key == "COMMENT":
            header.add_comment(str(value))
        else:
            header.append((key, value, _fit_comment(key, value, text)), end=True)


_PRIMARY_START: tuple[Card, ...] = (
    ("SIMPLE", True, "conforms to FITS standard"),
    ("BITPIX", 8, "array data type"),
    ("NAXIS", 0, "number of array dimensions"),
    ("EXTEND", True, ""),
)


def _card_bytes(key: str, value: object, comment: str) -> bytes:
    """One header card in FITS fixed format (long strings go through astropy's CONTINUE)."""
    if key in _COMMENTARY:
        text = str(value)
        return b"".join(
            f"{key:<8}{text[i : i + 72]}".ljust(_CARD).encode("ascii")
            for i in range(0, max(len(text), 1), 72)
        )
    if isinstance(value, str):
        field = "'" + value.replace("'", "''").ljust(8) + "'"
        if len(field) > _CARD - 10:
            return _long_string_cards(key, value, comment)
        field = f"{field:<20}"
    elif isinstance(value, bool | np.bool_):
        field = f"{'T' if value else 'F':>20}"
    elif isinstance(value, float | np.floating):
        text = repr(float(value)).upper()
        field = f"{text if ('.' in text or 'E' in text) else text + '.':>20}"
    else:
        field = f"{int(value):>20}"  # type: ignore[call-overload]
    card = f"{key:<8}= {field}"
    if comment:
        card += f" / {_fit_comment(key, value, comment)}"
    return card[:_CARD].ljust(_CARD).encode("ascii")


_LONG_VALUE = 67
"""Characters of a value piece on one long-string card: 80 - 10 (key, ``= ``) - 2 quotes - ``&``."""
_LONG_COMMENT = 64
"""Characters of a comment piece on one ``CONTINUE  '&' / `` card."""


def _long_string_cards(key: str, value: str, comment: str) -> bytes:
    """A string too long for one card, in the FITS long-string convention (FITS 4.0, 4.2.1.2).

    The value goes in pieces on ``KEY = '...&'`` and ``CONTINUE  '...&'`` cards (the ``&`` of the
    last piece is left off unless a comment follows); a comment follows on ``CONTINUE  '&' / ...``
    cards, its last one ``CONTINUE  '' / ...``. A value piece never splits a doubled quote; a
    comment is cut at blanks, because readers (astropy) join its pieces with one blank.
    """
    cards = []
    pieces = _escaped_pieces(value, _LONG_VALUE)
    if not comment and pieces[-1].rstrip().endswith("&"):
        pieces.append("")  # else a reader takes the value's own last '&' for a continuation
    for i, piece in enumerate(pieces):
        head = f"{key:<8}= " if i == 0 else "CONTINUE  "
        more = "&" if comment or i < len(pieces) - 1 else ""
        cards.append(f"{head}'{piece}{more}'")
    notes = _word_pieces(comment, _LONG_COMMENT)
    for i, note in enumerate(notes):
        cards.append(f"CONTINUE  '{'&' if i < len(notes) - 1 else ''}' / {note}")
    return "".join(card.ljust(_CARD) for card in cards).encode("ascii")


def _word_pieces(text: str, width: int) -> list[str]:
    """``text`` cut at blanks into pieces of at most ``width`` characters (a longer word is cut)."""
    pieces = []
    text = text.strip()
    while len(text) > width:
        cut = text.rfind(" ", 0, width + 1)
        cut = width if cut <= 0 else cut
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _escaped_pieces(value: str, width: int) -> list[str]:
    """``value`` with its quotes doubled, cut into pieces of at most ``width`` characters."""
    pieces, current = [], ""
    for ch in value:
        escaped = "''" if ch == "'" else ch
        if len(current) + len(escaped) > width:
            pieces.append(current)
            current = ""
        current += escaped
    pieces.append(current)
    return pieces


def _primary_bytes(primary: Sequence[Card], comment: str) -> bytes:
    cards = [*_PRIMARY_START, *_with_checksum_cards(primary, comment)]
    header = b"".join(_card_bytes(*card) for card in cards) + b"END".ljust(_CARD)
    return header.ljust(-(-len(header) // _BLOCK) * _BLOCK)


def _append_table(f: fitsio.FITS, table: TableHdu, comment: str) -> None:
    data = np.ascontiguousarray(table.data)
    names = list(data.dtype.names or ())
    units = [table.units.get(n, "") for n in names]
    f.write_table(data, extname=table.name, units=units if any(units) else None)
    hdu = f[-1]
    for i, name in enumerate(names, start=1):
        sub = data.dtype[name]
        tdim = _tdim(sub)
        if tdim is not None:
            hdu.write_key(f"TDIM{i}", tdim)
        if not table.tscal and _is_unsigned(sub):
            hdu.delete_key(f"TSCAL{i}")
    for key, value, text in _with_checksum_cards(table.cards, comment):
        if key == "HISTORY":
            hdu.write_history(str(value))
        elif key == "COMMENT":
            hdu.write_comment(str(value))
        else:
            hdu.write_key(key, value, _fit_comment(key, value, text))


def _tdim(sub: np.dtype) -> str | None:
    """``TDIM`` of a sub-array column, or None for a scalar column.

    Numbers: the numpy shape reversed (FITS lists the fastest axis first). Strings: the string
    width first, then the shape reversed, so that ``S8`` of shape ``(32,)`` is ``'(8,32)'`` and
    ``S28`` of shape ``(1,)`` is ``'(28,1)'`` (fitsio alone writes no ``TDIM`` for the latter).
    """
    if sub.subdtype is None:
        return None
    base, shape = sub.subdtype
    dims = [base.itemsize] if base.kind == "S" else []
    dims.extend(reversed(shape))
    return "(" + ",".join(str(d) for d in dims) + ")"


def _base(sub: np.dtype) -> np.dtype:
    return sub.subdtype[0] if sub.subdtype is not None else sub


def _is_unsigned(sub: np.dtype) -> bool:
    base = _base(sub)
    return base.kind == "u" and base.itemsize > 1


# -- checksums (FITS checksum convention) ---------------------------------------------------------
def _ones_complement_sum(buf: bytes | bytearray | memoryview, start: int = 0) -> int:
    """32-bit one's-complement sum of big-endian words (length a multiple of 4)."""
    words = np.frombuffer(buf, dtype=">u4").astype(np.uint64)
    hi = int((words >> np.uint64(16)).sum()) + (start >> 16)
    lo = int((words & np.uint64(0xFFFF)).sum()) + (start & 0xFFFF)
    while (hi >> 16) or (lo >> 16):
        hi, lo = (hi & 0xFFFF) + (lo >> 16), (lo & 0xFFFF) + (hi >> 16)
    return (hi << 16) | lo


def _encode_checksum(value: int) -> str:
    """Encode a 32-bit checksum (complemented by the caller) as 16 ASCII characters."""
    out = [0] * 16
    for i in range(4):
        byte = (value >> (24 - 8 * i)) & 0xFF
        quotient, remainder = byte // 4 + 0x30, byte % 4
        ch = [quotient + remainder, quotient, quotient, quotient]
        changed = True
        while changed:
            changed = False
            for j in (0, 2):
                while ch[j] in _EXCLUDE or ch[j + 1] in _EXCLUDE:
                    ch[j] += 1
                    ch[j + 1] -= 1
                    changed = True
        for j in range(4):
            out[4 * j + i] = ch[j]
    text = bytes(out)
    return (text[-1:] + text[:-1]).decode("ascii")


def _string_card(key: str, value: str, comment: str) -> bytes:
    quoted = "'" + value.ljust(8) + "'"
    return f"{key:<8}= {quoted:<20} / {comment}"[:_CARD].ljust(_CARD).encode("ascii")


def _header_end(raw: bytearray, start: int) -> int:
    """Offset just past the header block that starts at ``start``."""
    pos = start
    while raw[pos : pos + 3] != b"END" or raw[pos + 3 : pos + _CARD].strip(b" "):
        pos += _CARD
    return start + ((pos - start) // _BLOCK + 1) * _BLOCK


def _data_size(header: bytes) -> int:
    """Bytes of the data unit after a header (padded to whole blocks).

    Only the mandatory keywords that open every header are read (``SIMPLE``/``XTENSION``,
    ``BITPIX``, ``NAXIS``, ``NAXISn``, ``PCOUNT``, ``GCOUNT``, in this order by the standard).
    """
    values: dict[str, int] = {}
    for k in range(0, len(header), _CARD):
        key = header[k : k + 8].decode("ascii").strip()
        if key in ("SIMPLE", "XTENSION", "GCOUNT"):
            continue
        if not (key in ("BITPIX", "NAXIS", "PCOUNT") or key.startswith("NAXIS")):
            break
        values[key] = int(header[k + 10 : k + _CARD].decode("ascii").split("/")[0])
    if values.get("NAXIS", 0) == 0:
        return 0
    size = abs(values["BITPIX"]) // 8
    for axis in range(1, values["NAXIS"] + 1):
        size *= values[f"NAXIS{axis}"]
    size += values.get("PCOUNT", 0)
    return -(-size // _BLOCK) * _BLOCK


def _card_offset(header: str, key: str) -> int | None:
    """Offset of the card of ``key`` (padded to 8) in a header's text, else None."""
    pos = header.find(key)
    while pos >= 0:
        if pos % _CARD == 0:
            return pos
        pos = header.find(key, pos + 1)
    return None


def _fill_checksums(raw: bytearray) -> None:
    """Replace the ``CHECKSUM``/``DATASUM`` placeholders of every HDU in place."""
    start = 0
    while start < len(raw):
        data_start = _header_end(raw, start)
        header = bytes(raw[start:data_start])
        data_end = data_start + _data_size(header)
        text = header.decode("ascii")
        ck, dk = _card_offset(text, "CHECKSUM"), _card_offset(text, "DATASUM ")
        if ck is not None and dk is not None:
            ck_comment = text[ck : ck + _CARD].split(" / ", 1)[1].rstrip()
            dk_comment = text[dk : dk + _CARD].split(" / ", 1)[1].rstrip()
            ck, dk = ck + start, dk + start
            datasum = _ones_complement_sum(raw[data_start:data_end])
            raw[dk : dk + _CARD] = _string_card("DATASUM", str(datasum), dk_comment)
            raw[ck : ck + _CARD] = _string_card("CHECKSUM", _CHECKSUM_ZERO, ck_comment)
            total = _ones_complement_sum(raw[start:data_start], datasum)
            encoded = _encode_checksum(~total & 0xFFFFFFFF)
            raw[ck : ck + _CARD] = _string_card("CHECKSUM", encoded, ck_comment)
        start = data_end


_VOLATILE = (b"DATE    ", b"CHECKSUM", b"DATASUM ")


def content_digest(path: Path | str) -> str:
    """sha256 of a FITS file without the keywords that change with every write.

    ``DATE`` (creation time) and the checksums differ between two writes of the same content;
    every other card and every data byte count. Used for content-derived data versions, so an
    identical re-run gives an identical version.
    """
    raw = bytearray(Path(path).read_bytes())
    digest = hashlib.sha256()
    start = 0
    while start < len(raw):
        data_start = _header_end(raw, start)
        data_end = data_start + _data_size(bytes(raw[start:data_start]))
        for k in range(start, data_start, _CARD):
            if raw[k : k + 8] not in _VOLATILE:
                digest.update(raw[k : k + _CARD])
        digest.update(raw[data_start:data_end])
        start = data_end
    return digest.hexdigest()


# -- the astropy twin (tests, reference) ----------------------------------------------------------
def build_hdulist(primary: Sequence[Card], tables: Sequence[TableHdu]) -> "fits.HDUList":
    """Build the same file content as `write_fits` with ``astropy.io.fits`` (slow path)."""
    from astropy.io import fits

    hdu0 = fits.PrimaryHDU()
    _fill_header(hdu0.header, primary)
    hdus: list[fits.PrimaryHDU | fits.BinTableHDU] = [hdu0]
    for table in tables:
        cols = []
        for name in table.data.dtype.names or ():
            col = fits.Column(
                name=name,
                format=_astropy_format(table.data.dtype[name]),
                unit=table.units.get(name) or None,
                array=table.data[name],
                dim=_tdim(table.data.dtype[name]),
            )
            if _is_unsigned(table.data.dtype[name]):
                col.bzero = _TZERO[_base(table.data.dtype[name]).itemsize]
                if table.tscal:
                    col.bscale = 1
            cols.append(col)
        hdu = fits.BinTableHDU.from_columns(cols, name=table.name)
        _fill_header(hdu.header, table.cards)
        hdus.append(hdu)
    return fits.HDUList(hdus)


_TZERO = {2: 1 << 15, 4: 1 << 31, 8: 1 << 63}
_FORMATS = {
    ("i", 2): "I",
    ("i", 4): "J",
    ("i", 8): "K",
    ("u", 1): "B",
    ("u", 2): "I",
    ("u", 4): "J",
    ("u", 8): "K",
    ("f", 4): "E",
    ("f", 8): "D",
    ("b", 1): "L",
    ("i", 1): "B",
}


def _astropy_format(sub: np.dtype) -> str:
    base, shape = (sub.subdtype[0], sub.subdtype[1]) if sub.subdtype is not None else (sub, ())
    repeat = int(np.prod(shape)) if shape else 1
    if base.kind == "S":
        return f"{base.itemsize * repeat}A"
    code = _FORMATS[(base.kind, base.itemsize)]
    return f"{repeat}{code}" if repeat != 1 else code


# -- reading --------------------------------------------------------------------------------------
@timed("read")
def read_fits(path: Path | str) -> FitsContent:
    """Read a product file: primary header plus every table as a numpy array.

    Unsigned (``TZERO``) and logical columns come back as unsigned ints and bools, strings as
    bytes, sub-arrays in their ``TDIM`` shape. Tables are read with fitsio (CFITSIO; about 3x
    faster than astropy, which decides the speed of L0 and L1) and headers are parsed by astropy
    from the file's own header blocks; a file fitsio cannot read (a string sub-array whose
    ``TDIM`` lacks the string width, as stix-assets wrote them before 2026-12-02) falls back to
    astropy. Both paths give identical arrays (tested).
    """
    handed = recall(path)
    if handed is not None:
        return handed
    raw = Path(path).read_bytes()
    headers_raw = _header_blocks(raw)
    values = [header_values(block) for block in headers_raw[1:]]
    try:
        with fitsio.FITS(str(path)) as f:
            tables = {
                hdu.get_extname(): _fitsio_table(hdu.read(), cards)
                for hdu, cards in zip(f[1:], values, strict=True)
            }
    except ValueError:  # fitsio rejects a malformed string TDIM; astropy reads it
        return _read_fits_astropy(path)
    blocks = dict(zip(tables, headers_raw[1:], strict=True))
    units = {name: column_units(cards) for name, cards in zip(tables, values, strict=True)}
    return FitsContent(headers_raw[0], blocks, tables, units)


def _header_blocks(raw: bytes) -> list[str]:
    """The header text of every HDU, in order."""
    blocks = []
    start = 0
    buf = bytearray(raw)
    while start < len(buf):
        data_start = _header_end(buf, start)
        header = bytes(buf[start:data_start])
        blocks.append(header.decode("ascii"))
        start = data_start + _data_size(header)
    return blocks


def column_units(header: Mapping[str, object]) -> dict[str, str]:
    """Column name -> unit (``TUNIT``) of a table header's values; columns without one left out."""
    out = {}
    for i in range(1, int(header.get("TFIELDS", 0)) + 1):  # type: ignore[call-overload]
        unit = str(header.get(f"TUNIT{i}", "")).strip()
        if unit:
            out[str(header[f"TTYPE{i}"])] = unit
    return out


def _fitsio_table(raw: NDArray[np.void], header: Mapping[str, object]) -> NDArray[np.void]:
    """Fitsio's record array in the shapes and dtypes `_read_fits_astropy` gives."""
    columns = []
    for i, name in enumerate(raw.dtype.names or (), start=1):
        col = np.asarray(raw[name])
        if col.dtype.kind == "U":
            col = np.char.encode(col, "ascii")
        tdim = header.get(f"TDIM{i}")
        dims = tuple(int(d) for d in tdim.strip("() ").split(",") if d.strip()) if tdim else ()
        if col.dtype.kind == "S":
            shape = tuple(reversed(dims[1:]))
        elif dims:
            shape = tuple(reversed(dims))
        else:
            digits = "".join(ch for ch in str(header[f"TFORM{i}"]) if ch.isdigit())
            repeat = int(digits) if digits else 1
            shape = (repeat,) if repeat > 1 else ()
        col = col.reshape((len(raw), *shape))
        if col.dtype.kind != "S":
            col = col.astype(col.dtype.newbyteorder("="), copy=False)
        columns.append((name, col))
    out = np.empty(len(raw), dtype=[(n, c.dtype, c.shape[1:]) for n, c in columns])
    for name, col in columns:
        out[name] = col
    return out


def _read_fits_astropy(path: Path | str) -> FitsContent:
    """`read_fits` through astropy only (the reference reader of the tests)."""
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdul:
        primary = hdul[0].header.copy()
        headers: dict[str, fits.Header] = {}
        tables: dict[str, NDArray[np.void]] = {}
        for hdu in hdul[1:]:
            headers[hdu.name] = hdu.header.copy()
            tables[hdu.name] = _plain_array(hdu.data)
    units = {name: column_units(header) for name, header in headers.items()}
    blocks = {name: header.tostring() for name, header in headers.items()}
    return FitsContent(primary.tostring(), blocks, tables, units)


def _plain_array(data: "fits.FITS_rec") -> NDArray[np.void]:
    names = list(data.dtype.names or ())
    columns = [np.asarray(data[n]) for n in names]
    columns = [np.char.encode(c, "ascii") if c.dtype.kind == "U" else c for c in columns]
    dtype = [
        (n, c.dtype.newbyteorder("=") if c.dtype.kind != "S" else c.dtype, c.shape[1:])
        for n, c in zip(names, columns, strict=True)
    ]
    out = np.empty(len(data), dtype=dtype)
    for n, c in zip(names, columns, strict=True):
        out[n] = c
    return out
