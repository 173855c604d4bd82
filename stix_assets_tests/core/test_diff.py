"""`stix_assets.core.diff` on the kit's STIXCore reference products and modified copies."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from stix_assets.core.diff import diff_files, format_diff

pytestmark = pytest.mark.realdata

# a QL light curve: uint columns stored with BZERO, a 2-D counts column, IDB_VERSIONS and ENERGIES
_L1_LC = "L1/pkttmraw/2020/11/22/QL/solo_L1_stix-ql-lightcurve_20201122_V02U.fits"


@pytest.fixture
def product(reference_root: Path, tmp_path: Path) -> Path:
    """A private copy of a reference L1 product."""
    return Path(shutil.copy(reference_root / _L1_LC, tmp_path / "a.fits"))


def _modified(src: Path, dst: Path, edit) -> Path:
    with fits.open(src) as hdul:
        edit(hdul)
        hdul.writeto(dst)
    return dst


def test_equal_files(product):
    d = diff_files(product, product)
    assert d.is_equal
    assert format_diff(d).endswith("equal")
    assert d.as_dict()["equal"] is True


def test_date_and_checksums_ignored_unless_all_keywords(product, tmp_path):
    def touch(hdul):
        hdul[0].header["DATE"] = "2030-01-01T00:00:00.000"

    b = _modified(product, tmp_path / "b.fits", touch)
    assert diff_files(product, b).is_equal
    d = diff_files(product, b, all_keywords=True)
    assert [(k.keyword, k.b) for k in d.keywords] == [("DATE", "2030-01-01T00:00:00.000")]


def test_changed_added_removed_keyword(product, tmp_path):
    def edit(hdul):
        hdul[0].header["VERS_SW"] = "9.9.9"
        hdul[0].header["NEWKEY"] = (1, "added")
        del hdul["DATA"].header["EXTNAME"]  # keeps the name: astropy re-adds it on write
        del hdul[0].header["TARGET"]

    b = _modified(product, tmp_path / "b.fits", edit)
    d = diff_files(product, b)
    out = d.as_dict()
    assert out["keywords_changed"] == [
        {"hdu": "PRIMARY", "keyword": "VERS_SW", "a": "2.0.0", "b": "9.9.9"}
    ]
    assert [k["keyword"] for k in out["keywords_added"]] == ["NEWKEY"]
    assert [k["keyword"] for k in out["keywords_removed"]] == ["TARGET"]
    assert d.lineage == {"code_version": ("2.0.0", "9.9.9")}
    assert not d.is_equal


def test_changed_column_values_largest_first(product, tmp_path):
    def edit(hdul):
        counts = hdul["DATA"].data["counts"]
        counts[3, 1] += 7
        counts[10, 0] += 100
        counts[10, 4] += 1

    b = _modified(product, tmp_path / "b.fits", edit)
    d = diff_files(product, b)
    assert not d.keywords
    (col,) = d.columns_changed
    assert (col.hdu, col.column) == ("DATA", "counts")
    assert (col.n_rows_differ, col.n_values_differ) == (2, 3)
    assert [(row, delta) for row, _, _, delta in col.largest] == [(10, 100.0), (3, 7.0)]
    assert "row 10" in format_diff(d)


def test_added_column_and_hdu(product, tmp_path):
    def edit(hdul):
        # ENERGIES (B, E, E): ColDefs arithmetic would lose the BZERO of DATA's uint64 columns
        energies = hdul["ENERGIES"]
        extra = fits.Column(name="extra", format="E", array=np.zeros(len(energies.data)))
        hdul["ENERGIES"] = fits.BinTableHDU.from_columns(
            energies.columns + extra, header=energies.header, name="ENERGIES"
        )
        hdul.append(fits.BinTableHDU(Table({"extra": [1.0]}), name="MORE"))

    b = _modified(product, tmp_path / "b.fits", edit)
    d = diff_files(product, b)
    assert d.columns_added == {
        "CONTROL": [],
        "DATA": [],
        "IDB_VERSIONS": [],
        "ENERGIES": ["extra"],
    }
    assert d.hdus_added == ["MORE"]
    assert not d.columns_changed  # the existing columns keep their values
    assert diff_files(b, product).columns_removed["ENERGIES"] == ["extra"]


def test_changed_idb_versions_is_lineage(product, tmp_path):
    def edit(hdul):
        hdul["IDB_VERSIONS"].data[hdul["IDB_VERSIONS"].columns.names[0]][0] = "2.26.35"

    b = _modified(product, tmp_path / "b.fits", edit)
    d = diff_files(product, b)
    assert d.lineage["idb_versions"] == (["2.26.34"], ["2.26.35"])
