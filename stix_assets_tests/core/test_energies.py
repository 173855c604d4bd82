"""One reader of the STIX-CONF science channel tables for L0 and L1 (`core.energies`)."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.energies import check_channel_index, energies_for_mask, energies_table
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.time import nominal_scet, nominal_utc


def _conf(root: Path) -> Path:
    """Two periods: channels 4..35 keV until 2021-01-01, then every edge shifted by 100 keV."""
    det = root / "detector"
    det.mkdir(parents=True)
    (det / "science_echan_index.csv").write_text(
        "index, start_date, end_date, sci_chan_file\n"
        "0, 2019-06-15T00:00:00, 2021-01-01T00:00:00, a.csv\n"
        "1, 2021-01-01T00:00:00, none, b.csv\n"
    )
    for name, shift in (("a.csv", 0), ("b.csv", 100)):
        rows = ["Channel Number,Channel Edge,Energy Edge ,Elower,Eupper ,BinWidth,dE/E,QL channel"]
        rows += [f"{i},{i},{i},{4 + i + shift},{5 + i + shift},1,0.1,0" for i in range(31)]
        rows.append(f"31,31,150,{150 + shift},maxADC,n/a,n/a,n/a")
        (det / name).write_text("\n".join(rows) + "\n")
    return root


def test_l0_reads_the_table_at_the_scet_start_taken_as_utc(tmp_path: Path):
    conf = _conf(tmp_path)
    switch = nominal_scet(datetime(2021, 1, 1, tzinfo=UTC))
    assert energies_table(conf, switch - 0.5)["e_low"][0] == 4.0
    assert energies_table(conf, switch)["e_low"][0] == 104.0
    mask = np.zeros(33, np.uint8)
    mask[[1, 7, 12]] = 1
    for scet in (switch - 86400.0, switch + 3.7):
        l0 = energies_table(conf, scet, mask)
        l1 = energies_for_mask(conf, nominal_utc(int(scet)), mask)
        assert all(np.array_equal(l0[k], l1[k]) and l0[k].dtype == l1[k].dtype for k in l0)


@pytest.mark.parametrize("edges", [[], [5]])
def test_a_mask_with_fewer_than_two_edges_gives_no_channel(tmp_path: Path, edges: list[int]):
    # as STIXCore's _get_energies_from_mask (L1 raised here before L0 and L1 shared the reader)
    mask = np.zeros(33, np.uint8)
    mask[edges] = 1
    table = energies_table(_conf(tmp_path), 700_000_000.0, mask)
    assert [len(v) for v in table.values()] == [0, 0, 0]
    assert table["channel"].dtype == np.uint8


def test_missing_channel_index_names_the_folder(tmp_path: Path):
    with pytest.raises(ProductBuildError, match=r"energy channels not found: .*is missing"):
        check_channel_index(tmp_path)
    assert check_channel_index(_conf(tmp_path / "conf")).name == "science_echan_index.csv"


def test_an_undefined_channel_is_an_error(tmp_path: Path):
    conf = _conf(tmp_path)
    table = conf / "detector" / "a.csv"
    table.write_text("\n".join(table.read_text().splitlines()[:-1]) + "\n")  # drop channel 31
    with pytest.raises(ProductBuildError, match="does not define all 32 channels"):
        energies_table(conf, 640_000_000.0)
