"""The fast header parser gives astropy's values for every card it parses."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import assume, given
from hypothesis import strategies as st

from stix_assets.core.fits import TableHdu, _header_blocks, read_fits, write_fits
from stix_assets.core.fits_cards import header_values, primary_values


def _astropy_values(block: str) -> dict[str, object]:
    header = fits.Header.fromstring(block)
    return {k: header[k] for k in header if k not in ("COMMENT", "HISTORY", "")}


def _assert_same(block: str) -> None:
    ours, theirs = header_values(block), _astropy_values(block)
    assert ours == theirs
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}


@pytest.mark.realdata
def test_every_card_of_the_reference_products(reference_root: Path):
    """STIXCore's own products (astropy-written): every header, every valued card."""
    files = sorted(reference_root.rglob("*.fits"))
    assert files
    for path in files:
        for block in _header_blocks(path.read_bytes()):
            _assert_same(block)
        assert primary_values(path) == header_values(_header_blocks(path.read_bytes())[0])


_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=150)


@given(
    text=_TEXT,
    number=st.integers(-(2**62), 2**62),
    real=st.floats(allow_nan=False, allow_infinity=False),
    flag=st.booleans(),
)
def test_values_as_astropy_writes_them(text: str, number: int, real: float, flag: bool):
    """Quotes, long strings over CONTINUE, big integers, reals and logicals.

    Not ``'/`` in a string: astropy's parser takes the ``''/`` it becomes on the card for the end
    of the string and a comment (``'''/'`` reads as ``'``); ours reads the escaped quote.
    """
    assume("'/" not in text)
    header = fits.Header()
    header["TEXT"] = text
    header["NOTE"] = ("it's", "a comment / with a slash")
    header["NUMBER"] = number
    header["REAL"] = real
    header["FLAG"] = flag
    header["COMMENT"] = "not a value"
    header["AFTER"] = "x'"
    _assert_same(header.tostring())


def test_units_of_a_file_we_write(tmp_path: Path):
    """`read_fits` gives each table's units from the fast parse, as astropy reads them."""
    table = np.zeros(3, dtype=[("time", "f8"), ("counts", "u4", (2, 3)), ("name", "S5")])
    path = tmp_path / "t.fits"
    write_fits(
        path,
        [("DATE-BEG", "2021-01-01T00:00:00.000", "start"), ("OBT_BEG", 1.5, "")],
        [TableHdu("DATA", table, units={"time": "s", "counts": "ct"})],
        checksum_comment="",
    )
    content = read_fits(path)
    with fits.open(path) as hdul:
        cols = hdul["DATA"].columns
        expected = {c.name: c.unit for c in cols if c.unit}
    assert content.units["DATA"] == expected == {"time": "s", "counts": "ct"}
    assert primary_values(path)["OBT_BEG"] == 1.5


def test_not_fits(tmp_path: Path):
    path = tmp_path / "x.fits"
    path.write_bytes(b"hello" * 1000)
    with pytest.raises(ValueError, match="not a FITS file"):
        primary_values(path)
