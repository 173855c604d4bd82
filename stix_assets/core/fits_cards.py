"""Keyword values of a FITS header block, parsed without astropy.

Reading a product back (L0 from LB, L1 from L0, the manifest's time ranges) needs a handful of
values from each header: ``TTYPE``/``TFORM``/``TDIM``/``TUNIT`` of every column and the time
keywords of the primary header. astropy parses a card's value on first access through general
regular expressions (about 30 us per card), which made header values a tenth of an L1 run. The
headers read here are ones FITS writers produce in fixed format (ours via CFITSIO, STIXCore's via
astropy), so one pass over the 80-character cards is enough: strings (``''`` escapes, trailing
blanks dropped, ``CONTINUE`` long strings joined), logicals, integers and reals, as astropy gives
them (`stix_assets_tests/core/test_fits_cards.py` compares every card of the kit's products).
"""

from collections.abc import Iterator
from pathlib import Path

__all__ = ["header_values", "primary_values"]

_CARD = 80
_BLOCK = 2880
_SKIPPED = frozenset({"COMMENT", "HISTORY", "", "END"})


def _cards(block: str) -> Iterator[str]:
    for start in range(0, len(block), _CARD):
        card = block[start : start + _CARD]
        if card.startswith("END") and not card[3:].strip():
            return
        yield card


def _string(text: str) -> tuple[str, str]:
    """The quoted string at the start of ``text`` (``''`` unescaped) and what follows it."""
    pieces = []
    start = 1
    while True:
        end = text.find("'", start)
        if end < 0:  # no closing quote: the rest of the card
            pieces.append(text[start:])
            return "".join(pieces), ""
        if text.startswith("'", end + 1):  # an escaped quote
            pieces.append(text[start : end + 1])
            start = end + 2
            continue
        pieces.append(text[start:end])
        return "".join(pieces), text[end + 1 :]


def _scalar(text: str) -> object:
    """A logical, integer or real value (the text before any ``/`` comment)."""
    word = text.split("/", 1)[0].strip()
    if word == "T":
        return True
    if word == "F":
        return False
    if word == "":
        return None
    try:
        return int(word)
    except ValueError:
        return float(word.replace("D", "E").replace("d", "e"))


def header_values(block: str) -> dict[str, object]:
    """Keyword -> value of every valued card of one header block (first occurrence wins).

    ``COMMENT``, ``HISTORY`` and blank cards are left out; string values lose trailing blanks
    (the FITS standard makes them insignificant) and long strings are joined over ``CONTINUE``.
    """
    out: dict[str, object] = {}
    pending: str | None = None  # keyword of a string that continues on the next card
    for card in _cards(block):
        key = card[:8].rstrip()
        if key == "CONTINUE" and pending is not None:
            piece, _ = _string(card[8:].lstrip())
            joined = str(out[pending])[:-1] + piece
            if piece.endswith("&"):
                out[pending] = joined
            else:  # the last piece: trailing blanks of the whole value are insignificant
                out[pending] = joined.rstrip()
                pending = None
            continue
        pending = None
        if key in _SKIPPED or card[8:10] != "= " or key in out:
            continue
        text = card[10:].lstrip()
        if text.startswith("'"):
            value, _ = _string(text)
            value = value.rstrip()
            out[key] = value
            pending = key if value.endswith("&") else None
        else:
            out[key] = _scalar(text)
    return out


def primary_values(path: Path | str) -> dict[str, object]:
    """`header_values` of a FITS file's primary header, reading only its header blocks.

    Raises
    ------
    OSError
        If the file cannot be read; ValueError if it does not start with a FITS header.
    """
    chunks = []
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            if len(block) < _BLOCK:
                raise ValueError(f"{path}: no END card in the primary header")
            text = block.decode("ascii")
            chunks.append(text)
            if len(chunks) == 1 and not text.startswith("SIMPLE  ="):
                raise ValueError(f"{path}: not a FITS file")
            if any(
                text[i : i + 3] == "END" and not text[i + 3 : i + _CARD].strip()
                for i in range(0, _BLOCK, _CARD)
            ):
                return header_values("".join(chunks))
