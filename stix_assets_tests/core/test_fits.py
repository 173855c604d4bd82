"""The fitsio writer against the astropy twin, checksums, determinism and atomic writes."""

import os
from pathlib import Path

import fitsio
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning
from hypothesis import given, settings
from hypothesis import strategies as st

from stix_assets.core import fits as stix_fits
from stix_assets.core.fits import TableHdu, build_hdulist, read_fits, write_fits

PRIMARY = [
    # a 68-character value fills its card: astropy drops the comment, as in STIXCore's files
    ("FILENAME", "solo_LB_stix-21-6-21_0000000000-9999999999_V02_1267045904-51759.fits", "name"),
    ("SCI_TCC", "", "empty string"),
    ("STYPE", 21, "Service Type"),
    ("BLANK", 4294967295, "Value marking undefined pixels (before the application of BSCALE)"),
    ("XPOSURE", 0.5, "[s] exposure"),
    ("HISTORY", "Processed by stix-assets LB", ""),
]


def _tables(tscal: bool = False) -> list[TableHdu]:
    control = np.zeros(
        3,
        dtype=[
            ("index", np.int64),
            ("scet_coarse", np.uint32),
            ("counts", np.uint16),
            ("rate", np.float32),
            ("raw_file", "S12"),
            ("request_id", np.int64, (2,)),
            ("grid", np.uint8, (2, 3)),
            ("time_sync", np.bool_),
            ("gain", "S8", (4,)),  # string sub-arrays: TDIM starts with the string width
            ("raw_files", "S12", (1,)),
            ("labels", "S3", (2, 3)),
        ],
    )
    control["index"] = [0, 1, 2]
    control["scet_coarse"] = [660096003, 2743939585, 0xFFFFFFFF]  # > int32 max: TZERO needed
    control["counts"] = [0, 40000, 65535]
    control["rate"] = [0.5, 1.25, -3.0]
    control["raw_file"] = b"PktTmRaw.xml"
    control["request_id"] = [[51759, 1267045904], [0, 0], [1, 2]]
    control["grid"] = np.arange(18).reshape(3, 2, 3)
    control["time_sync"] = [True, False, True]
    control["gain"] = [[b"ACDB_400", b"10pA", b"", b"Detpic"]] * 3
    control["raw_files"] = [[b"PktTmRaw.xml"], [b"a.xml"], [b""]]
    control["labels"] = np.array([f"{i:03d}".encode() for i in range(18)]).reshape(3, 2, 3)
    data = np.zeros(2, dtype=[("control_index", np.int64), ("data", "S10")])
    data["data"] = [b"0da4c53a00", b"0dbc99"]
    return [
        TableHdu("CONTROL", control, units={"rate": "ct / s"}, tscal=tscal),
        TableHdu("DATA", data, cards=(("EXTRA", "x", "an extension keyword"),)),
    ]


@pytest.mark.parametrize("tscal", [False, True])
def test_fitsio_and_astropy_writers_agree(tmp_path: Path, tscal: bool) -> None:
    fast = tmp_path / "fast.fits"
    slow = tmp_path / "slow.fits"
    write_fits(fast, PRIMARY, _tables(tscal), checksum_comment="2025-01-01T00:00:00")
    build_hdulist(PRIMARY, _tables(tscal)).writeto(slow, checksum=True)
    with fits.open(fast, checksum=True) as a, fits.open(slow, checksum=True) as b:
        assert [h.name for h in a] == [h.name for h in b] == ["PRIMARY", "CONTROL", "DATA"]
        for ha, hb in zip(a, b, strict=True):
            assert _keywords(ha.header) == _keywords(hb.header)
        for name in ("CONTROL", "DATA"):
            ca, cb = a[name].columns, b[name].columns
            for attr in ("name", "format", "unit", "dim", "bzero", "bscale"):
                assert [getattr(c, attr) for c in ca] == [getattr(c, attr) for c in cb], attr
            for col in ca.names:
                va, vb = np.asarray(a[name].data[col]), np.asarray(b[name].data[col])
                assert va.dtype == vb.dtype
                assert va.shape == vb.shape
                np.testing.assert_array_equal(va, vb)


def _keywords(header: fits.Header) -> list[tuple[str, object]]:
    """Keyword values without comments, checksums and the formatting-only COMMENT lines."""
    skip = {"CHECKSUM", "DATASUM", "COMMENT"}
    return sorted((k, str(v)) for k, v in header.items() if k not in skip)


def test_string_sub_arrays_read_as_arrays_of_strings(tmp_path: Path) -> None:
    """astropy (HDU data and Table.read) and fitsio see the same string arrays as were written."""
    path = tmp_path / "a.fits"
    write_fits(path, PRIMARY, _tables(), checksum_comment="t")
    control = _tables()[0].data
    header = fits.getheader(path, "CONTROL")
    tdims = {header[f"TTYPE{i}"]: header.get(f"TDIM{i}") for i in range(1, header["TFIELDS"] + 1)}
    assert (tdims["gain"], tdims["raw_files"], tdims["labels"]) == ("(8,4)", "(12,1)", "(3,3,2)")
    with fits.open(path) as hdul:
        hdu_cols = {n: np.asarray(hdul["CONTROL"].data[n]) for n in ("gain", "raw_files", "labels")}
    table = Table.read(path, hdu="CONTROL")
    raw = fitsio.read(path, ext="CONTROL")
    for name, col in hdu_cols.items():
        expected = np.char.decode(control[name], "ascii")
        assert col.shape == table[name].shape == raw[name].shape == expected.shape, name
        np.testing.assert_array_equal(col.astype(str), expected)
        np.testing.assert_array_equal(np.asarray(table[name]).astype(str), expected)
        np.testing.assert_array_equal(np.asarray(raw[name]).astype(str), expected)
    np.testing.assert_array_equal(read_fits(path).tables["CONTROL"]["gain"], control["gain"])


def test_checksums_verify_in_astropy(tmp_path: Path) -> None:
    path = tmp_path / "a.fits"
    write_fits(path, PRIMARY, _tables(), checksum_comment="2025-01-01T00:00:00")
    with fits.open(path, checksum=True) as hdul:  # a bad checksum is a warning -> error in tests
        for hdu in hdul:
            assert hdu.header.comments["CHECKSUM"] == "HDU checksum updated 2025-01-01T00:00:00"
            assert hdu.verify_checksum() == 1
            assert hdu.verify_datasum() == 1
        assert hdul["CONTROL"].header["DATASUM"] != "0"
        data_start = hdul.fileinfo(1)["datLoc"]
    raw = bytearray(path.read_bytes())
    raw[data_start + 5] ^= 0xFF  # one byte of the CONTROL data
    (tmp_path / "bad.fits").write_bytes(bytes(raw))
    with (
        pytest.warns(AstropyUserWarning, match="(Checksum|Datasum) verification failed"),
        fits.open(tmp_path / "bad.fits", checksum=True),
    ):
        pass


def test_same_input_same_bytes(tmp_path: Path) -> None:
    a = write_fits(tmp_path / "a.fits", PRIMARY, _tables(), checksum_comment="t")
    b = write_fits(tmp_path / "b.fits", PRIMARY, _tables(), checksum_comment="t")
    assert a == b
    assert (tmp_path / "a.fits").read_bytes() == (tmp_path / "b.fits").read_bytes()


def test_read_fits_restores_dtypes(tmp_path: Path) -> None:
    path = tmp_path / "a.fits"
    write_fits(path, PRIMARY, _tables(), checksum_comment="t")
    content = read_fits(path)
    control = content.tables["CONTROL"]
    assert control["scet_coarse"].dtype == np.uint32
    assert control["scet_coarse"].tolist() == [660096003, 2743939585, 0xFFFFFFFF]
    assert control["time_sync"].dtype == np.bool_
    assert control["raw_file"].dtype.kind == "S"
    assert control["grid"].shape == (3, 2, 3)
    assert control["labels"].shape == (3, 2, 3)
    assert control.dtype["raw_files"] == np.dtype(("S12", (1,)))
    assert content.primary["SCI_TCC"] == ""
    assert content.headers["DATA"]["EXTRA"] == "x"


def test_crash_mid_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out" / "a.fits"
    write_fits(path, PRIMARY, _tables(), checksum_comment="old")
    before = path.read_bytes()

    def crash(raw: bytearray) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(stix_fits, "_fill_checksums", crash)
    with pytest.raises(OSError, match="simulated"):
        write_fits(path, PRIMARY, _tables(), checksum_comment="new")
    assert path.read_bytes() == before  # the old file is untouched
    assert os.listdir(path.parent) == ["a.fits"]  # no temp file left
    with pytest.raises(OSError, match="simulated"):
        write_fits(tmp_path / "out" / "b.fits", PRIMARY, _tables(), checksum_comment="new")
    assert os.listdir(path.parent) == ["a.fits"]  # a new file never appears half-written


def test_content_digest_ignores_only_the_creation_time_and_checksums(tmp_path):
    import datetime as dt

    from stix_assets.core.fits import content_digest

    data = np.zeros(3, dtype=[("a", ">i4")])
    paths = []
    for i, (when, value) in enumerate(
        [("2025-01-01T00:00:00", 1), ("2026-02-02T00:00:00", 1), ("2026-02-02T00:00:00", 2)]
    ):
        data["a"] = value
        path = tmp_path / f"f{i}.fits"
        write_fits(
            path,
            [("DATE", when, "creation"), ("LEVEL", "L0", "")],
            [TableHdu("DATA", data)],
            checksum_comment=f"HDU checksum updated {dt.date(2025, 1, 1)}",
        )
        paths.append(path)
    assert paths[0].read_bytes() != paths[1].read_bytes()
    assert content_digest(paths[0]) == content_digest(paths[1])
    assert content_digest(paths[1]) != content_digest(paths[2])


@pytest.mark.realdata
def test_fast_reader_equals_the_astropy_reader(testdata):
    # read_fits takes tables from fitsio (speed) and must give what astropy gives, dtypes,
    # shapes (TDIM sub-arrays, string arrays) and NaN included; STIXCore's own products too
    from stix_assets.core.fits import _read_fits_astropy

    files = sorted((testdata / "reference" / "stixcore").rglob("*.fits"))
    assert len(files) > 100
    for path in files:
        slow, fast = _read_fits_astropy(path), read_fits(path)
        assert fast.primary.tostring() == slow.primary.tostring(), path.name
        assert list(fast.tables) == list(slow.tables), path.name
        for name, table in slow.tables.items():
            assert fast.tables[name].dtype == table.dtype, (path.name, name)
            for col in table.dtype.names:
                np.testing.assert_array_equal(fast.tables[name][col], table[col], err_msg=col)
            assert fast.headers[name].tostring() == slow.headers[name].tostring()


_LONG = (
    "O'Brien's long value: " + "a quoted 'word', blanks and & signs " * 5,
    "x" * 200,  # one word longer than a card: cut inside it
    "solo_L1_stix-ql-lightcurve_20210116_V02.fits solo_L1_stix-ql-background_20210116_V02.fits",
)


@pytest.mark.parametrize("value", _LONG)
@pytest.mark.parametrize("comment", ["", "short", "a comment long enough to need " * 4])
def test_long_strings_read_back_in_astropy_fitsio_and_our_reader(tmp_path, value, comment):
    """Long strings are written in the CONTINUE convention without astropy (the LB route)."""
    path = tmp_path / "long.fits"
    write_fits(path, [("LONGSTR", value, comment)], _tables(), checksum_comment="t")
    with fits.open(path, checksum=True) as hdul:
        assert hdul[0].header["LONGSTR"] == value.rstrip()
        assert hdul[0].header.comments["LONGSTR"] == " ".join(comment.split())
    assert fitsio.read_header(str(path), ext=0)["LONGSTR"].rstrip() == value.rstrip()
    assert read_fits(path).primary_values["LONGSTR"] == value.rstrip()


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(st.sampled_from("ab '&=_-.#"), min_size=69, max_size=400),
    comment=st.lists(st.text(st.sampled_from("abc"), min_size=1, max_size=60), max_size=12).map(
        " ".join
    ),
)
def test_long_string_cards_read_as_astropy_reads_its_own(value, comment):
    """Whatever astropy's reader makes of its own long-string cards, it makes of ours.

    (Without ``/``: astropy's reader takes ``''/`` inside a piece for the end of the value, in its
    own cards as in ours. A value may end in ``&``, which CFITSIO reads with one ``&`` too many
    from ours; STIX header values never do.)
    """
    ours = stix_fits._card_bytes("LONGSTR", value, comment).decode("ascii")
    assert len(ours) % 80 == 0
    header = fits.Header.fromstring(ours + "END".ljust(80))
    assert header["LONGSTR"] == value.rstrip()
    assert header.comments["LONGSTR"] == " ".join(comment.split())
