"""QL builders on small synthetic parameter tables: spectra padding, trigger unscaling, rebinning."""

from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.compression import compress
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import ParameterTable
from stix_assets.core.products import quicklook
from stix_assets.core.products.l0 import LbInput, energies_table
from stix_assets.core.products.registry import product_by_key
from stix_assets.core.products.skm import decompress_parameter, unscale_triggers
from stix_assets.core.tmtc import PacketBatch
from stix_assets.core.tmtc.headers import HEADER_DTYPE

T0 = 659402030


def _conf(tmp_path: Path) -> Path:
    det = tmp_path / "detector"
    det.mkdir(exist_ok=True)
    (det / "science_echan_index.csv").write_text(
        "index, start_date, end_date, sci_chan_file\n0, 2019-06-15T00:00:00, none, ch.csv\n"
    )
    rows = ["Channel Number,Channel Edge,Energy Edge ,Elower,Eupper ,BinWidth,dE/E,QL channel"]
    rows += [f"{i},{i},{i},{4 + i},{5 + i},1,0.1,0" for i in range(31)]
    rows.append("31,31,150,150,maxADC,n/a,n/a,n/a")
    (det / "ch.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def _table(packets: list[dict[str, list[int]]]) -> ParameterTable:
    names = list(packets[0])
    n = len(packets)
    return ParameterTable(
        version="2.26.34",
        spid=54120,
        rows=np.arange(n, dtype=np.int64),
        values={k: np.array([v for p in packets for v in p[k]], dtype=np.int64) for k in names},
        counts={k: np.array([len(p[k]) for p in packets], dtype=np.int64) for k in names},
        end_bits=np.zeros(n, dtype=np.int64),
        length_bits=np.zeros(n, dtype=np.int64),
    )


def _input(params: ParameterTable, key: str, conf: Path) -> LbInput:
    n = len(params)
    return LbInput(
        spec=product_by_key(key),
        batch=PacketBatch(
            headers=np.zeros(n, dtype=HEADER_DTYPE),
            pi1=np.full(n, 32),
            offset=np.zeros(n, dtype=np.int64),
            length=np.zeros(n, dtype=np.int64),
            packet_id=np.arange(n, dtype=np.int64),
            file_index=np.zeros(n, dtype=np.int32),
            buffer=np.zeros(0, dtype=np.uint8),
            files=("tm.xml",),
        ),
        params=params,
        versions=np.full(n, "2.26.34", dtype=object),
        raw_file=np.full(n, b"tm.xml"),
        packet=np.arange(n, dtype=np.int64),
        parent="solo_LB_stix-21-6-32_0659318400_V02.fits",
        request_id=None,
        conf_dir=conf,
        idb_versions=(("2.26.34", float(T0), float(T0)),),
    )


def _spectra_packet(detectors: list[int], trig_skm: tuple[int, int, int] = (0, 5, 3)) -> dict:
    n = len(detectors)
    pkt = {
        "NIX00445": [T0],
        "NIX00446": [8],
        "NIX00405": [319],
        "NIXD0115": [0],
        "NIXD0116": [5],
        "NIXD0117": [3],
        "NIXD0112": [trig_skm[0]],
        "NIXD0113": [trig_skm[1]],
        "NIXD0114": [trig_skm[2]],
        "NIXD0407": [4095],
        "NIX00089": [n],
        "NIX00100": detectors,
    }
    for i in range(452, 484):
        pkt[f"NIX00{i}"] = [int(compress(d % 16, s=0, k=5, m=3)) for d in detectors]
    pkt["NIX00484"] = [3] * n
    pkt["NIX00485"] = [0] * n
    return pkt


def test_spectra_pads_incomplete_first_and_last_block(tmp_path: Path):
    # detectors 5..31 of one block then 0..3 of the next: padded to 2 x 32
    params = _table([_spectra_packet(list(range(5, 32)) + list(range(4)))])
    (prod,) = quicklook.build_spectra(_input(params, "ql_spectra", _conf(tmp_path)))
    assert prod.data["spectra"].shape == (2, 32, 32)
    assert prod.data["detector_index"][0, :6].tolist() == [5, 5, 5, 5, 5, 5]  # edge padding
    assert prod.data["spectra"][0, :5].sum() == 0  # zero padding
    assert prod.data["spectra"][0, 5, 0] == 5
    assert prod.data["detector_index"][1, 3:].tolist() == [3] * 29
    assert prod.energies is not None
    assert len(prod.energies["channel"]) == 32


def test_spectra_that_cannot_fill_blocks_raise(tmp_path: Path):
    params = _table([_spectra_packet([0, 1, 2, 5, 6])])  # 5 values, first 0, last 6
    with pytest.raises(ProductBuildError, match="blocks of 32"):
        quicklook.build_spectra(_input(params, "ql_spectra", _conf(tmp_path)))


def test_scaled_triggers_are_unscaled_with_the_background_detector(tmp_path: Path):
    params = _table([_spectra_packet(list(range(32)), trig_skm=(0, 0, 7))])
    (prod,) = quicklook.build_spectra(_input(params, "ql_spectra", _conf(tmp_path)))
    # one active group (detector index 9), n_int = 320, factor 30: 3 * 9600 + 4800
    assert prod.data["triggers"][0, 0] == 3 * 9600 + 4800
    assert prod.data["triggers_comp_err"][0, 0] == pytest.approx(4800.0)
    assert prod.header[0][0] == "TRIG_SCA"


def test_unscale_leaves_unscaled_packets_alone():
    t, v = unscale_triggers(
        np.array([5.0, 5.0]),
        np.array([1.0, 1.0]),
        scaled=np.array([False, True]),
        detector_mask=np.ones((2, 32)),
        int_time=np.array([10, 10]),
        ssid=30,
    )
    assert t.tolist() == [5.0, 5 * 4800 + 2400]
    assert v.tolist() == [1.0, 2400.0**2]


def test_bsd_triggers_use_count_scheme_before_fsw_fix():
    params = _table(
        [
            {
                "NIXD0007": [0], "NIXD0008": [5], "NIXD0009": [3],
                "NIXD0010": [0], "NIXD0011": [4], "NIXD0012": [4],
                "NIX00242": [92],
            }
        ]
    )  # fmt: skip
    old, _, skm_old = decompress_parameter(params, "NIX00242", 21, versions=np.array(["2.26.34"]))
    _, _, skm_new = decompress_parameter(params, "NIX00242", 21, versions=np.array(["2.26.35"]))
    assert skm_old.tolist() == [[0, 5, 3]]
    assert old[0] == 12799
    assert skm_new.tolist() == [[0, 4, 4]]


def test_rebin_proportional_keeps_totals():
    counts = np.array([[10.0, 20.0, 30.0]])
    out = quicklook.rebin_proportional(counts, np.array([0.0, 2.0, 4.0, 6.0]), np.arange(7.0))
    assert out.shape == (1, 6)
    assert out.sum() == pytest.approx(60.0)
    assert out[0].tolist() == [5.0, 5.0, 10.0, 10.0, 15.0, 15.0]


def test_energies_from_edge_mask(tmp_path: Path):
    mask = np.zeros(33, dtype=np.uint8)
    mask[[1, 7, 12]] = 1
    e = energies_table(_conf(tmp_path), float(T0), mask)
    assert e["e_low"].tolist() == [5.0, 11.0]
    assert e["e_high"].tolist() == [11.0, 16.0]
    full = energies_table(_conf(tmp_path), float(T0))
    assert np.isnan(full["e_high"][31])
