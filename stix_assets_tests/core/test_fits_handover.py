"""Files handed to the next level in memory are exactly what reading them back gives."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.fits import FitsContent, TableHdu, read_fits, write_fits
from stix_assets.core.fits_cards import header_values
from stix_assets.core.fits_handover import forget_all, recall
from stix_assets_tests.kit_archive import build_kit_archive


@pytest.fixture(autouse=True)
def _empty_handover():
    forget_all()
    yield
    forget_all()


def _assert_same(handed: FitsContent, disk: FitsContent, name: str) -> None:
    assert header_values(handed.primary.tostring()) == header_values(disk.primary.tostring()), name
    assert handed.headers.keys() == disk.headers.keys() == handed.tables.keys(), name
    for ext in disk.tables:
        assert handed.headers[ext].tostring() == disk.headers[ext].tostring(), (name, ext)
        assert handed.tables[ext].dtype == disk.tables[ext].dtype, (name, ext)
        assert handed.tables[ext].tobytes() == disk.tables[ext].tobytes(), (name, ext)
    assert handed.units == disk.units, name


@pytest.mark.realdata
def test_every_product_of_a_kit_run_is_handed_over_as_it_reads_back(tmp_path: Path, testdata):
    """LB, L0 and L1 of the kit's reference inputs, each file compared with its read-back."""
    root = tmp_path / "archive"
    build_kit_archive(testdata, root)
    files = sorted(root.rglob("*.fits"))
    assert {p.relative_to(root).parts[0] for p in files} == {"LB", "L0", "L1"}
    handed = {p: recall(p) for p in files}
    assert all(content is not None for content in handed.values())
    forget_all()
    for path, content in handed.items():
        _assert_same(content, read_fits(path), path.name)


def test_a_replaced_file_is_read_from_disk(tmp_path: Path):
    table = np.zeros(4, dtype=[("time", ">f8"), ("counts", "u2", (3,)), ("flag", "?")])
    path = tmp_path / "f.fits"
    write_fits(path, [("OBT_BEG", 1.0, "")], [TableHdu("DATA", table)], checksum_comment="")
    assert recall(path) is not None
    copy = tmp_path / "copy.fits"
    shutil.copy(path, copy)  # the same bytes under a new inode, renamed over the original
    copy.replace(path)
    assert recall(path) is None
    content = read_fits(path)
    assert content.tables["DATA"].dtype.names == ("time", "counts", "flag")


def test_handed_arrays_are_read_only(tmp_path: Path):
    table = np.zeros(3, dtype=[("x", "i4")])
    path = tmp_path / "f.fits"
    write_fits(path, [], [TableHdu("DATA", table)], checksum_comment="")
    with pytest.raises(ValueError, match="read-only"):
        read_fits(path).tables["DATA"]["x"][0] = 1


def test_a_file_is_converted_only_when_it_is_read(tmp_path: Path, monkeypatch):
    """Most files a run writes are never read by it: their hand-over costs no conversion."""
    from stix_assets.core import fits as fits_module

    built = []
    real = fits_module._content_written
    monkeypatch.setattr(fits_module, "_content_written", lambda *a: built.append(a) or real(*a))
    paths = [tmp_path / f"f{i}.fits" for i in range(3)]
    for i, path in enumerate(paths):
        table = np.full(2, i, dtype=[("x", ">i4")])
        write_fits(path, [], [TableHdu("DATA", table)], checksum_comment="")
    assert built == []
    assert read_fits(paths[1]).tables["DATA"]["x"].tolist() == [1, 1]
    assert read_fits(paths[1]) is read_fits(paths[1])  # built once, then kept
    assert len(built) == 1


def test_a_table_changed_after_writing_does_not_change_what_is_handed_over(tmp_path: Path):
    table = np.zeros(3, dtype=[("x", "i4")])
    write_fits(tmp_path / "f.fits", [], [TableHdu("DATA", table)], checksum_comment="")
    table["x"][0] = 1  # the caller reuses its array
    assert read_fits(tmp_path / "f.fits").tables["DATA"]["x"].tolist() == [0, 0, 0]
