"""L0 framework on small synthetic inputs: day split, stacking, naming, writing, bad packets."""

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.fits import read_fits
from stix_assets.core.idb import ParameterTable
from stix_assets.core.products.l0 import (
    BuilderEntry,
    L0Product,
    LbInput,
    concat_products,
    merge_tables,
    run_builder,
    scet_split,
    split_by_day,
)
from stix_assets.core.products.l0_writer import l0_file_name, write_l0
from stix_assets.core.products.registry import product_by_key
from stix_assets.core.tmtc import PacketBatch
from stix_assets.core.tmtc.headers import HEADER_DTYPE

DAY0 = 659318400  # SCET day start of 2020-11-22
CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _product(times: list[float], timedel: float = 4.0, key: str = "ql_variance") -> L0Product:
    n = len(times)
    control = {
        "scet_coarse": np.array([int(times[0])], dtype=np.uint32),
        "index": np.array([0], dtype=np.uint8),
        "raw_file": np.array([b"tm.xml"]),
    }
    data = {
        "time": np.array(times, dtype=np.float64),
        "timedel": np.full(n, timedel),
        "control_index": np.zeros(n, dtype=np.uint8),
        "value": np.arange(n, dtype=np.uint64),
    }
    return L0Product(
        spec=product_by_key(key),
        control=control,
        data=data,
        idb_versions=(("2.26.34", float(times[0]), float(times[0])),),
        parents=("lb.fits",),
        raw_files=("tm.xml",),
    )


def test_split_by_day_uses_bin_centres():
    # the bin of the last sample starts before midnight but is centred after it
    prod = _product([DAY0 + 86400 - 10.0, DAY0 + 86400 - 2.0, DAY0 + 86400 + 2.0])
    parts = split_by_day(prod)
    assert [p.scet_day for p in parts] == [date(2020, 11, 22), date(2020, 11, 23)]
    assert [p.n_rows for p in parts] == [2, 1]
    assert parts[1].data["control_index"].tolist() == [0]
    assert parts[1].control["index"].tolist() == [0]


def test_concat_keeps_first_of_equal_centisecond_times_and_reindexes():
    a = _product([DAY0 + 10.0, DAY0 + 14.0])
    b = _product([DAY0 + 14.001, DAY0 + 18.0])  # 14.001 s and 14.0 s share a centisecond
    c = _product([DAY0 + 14.0, DAY0 + 22.0])
    out = concat_products([a, b, c])
    times = np.round((out.data["time"] - DAY0) * 100).astype(int).tolist()
    assert times == sorted(set(times))
    assert len(out.control["index"]) == 3
    assert set(out.data["control_index"].tolist()) == {0, 1, 2}


def test_file_names_daily_and_bsd():
    prod = split_by_day(_product([DAY0 + 100.0]))[0]
    assert l0_file_name(prod) == "solo_L0_stix-ql-variance_0659318400_V02U.fits"
    cal = split_by_day(_product([DAY0 + 100.0], key="cal_energy"))[0]
    assert l0_file_name(cal).endswith("_V03U.fits")
    spec = L0Product(
        spec=product_by_key("xray_spec"),
        control={"index": np.array([0])},
        data={"time": np.array([641563728.6, 641564388.1]), "timedel": np.array([1.0, 1.0])},
        request_id=(52373, 83036480),
    )
    assert (
        l0_file_name(spec)
        == "solo_L0_stix-sci-xray-spec_0641563728-0641564388_V04_0083036480-52373.fits"
    )


def test_daily_product_without_day_is_an_error():
    with pytest.raises(ProductBuildError, match="without a SCET day"):
        l0_file_name(_product([DAY0 + 1.0]))


def test_write_l0_header_and_time_encoding(tmp_path: Path):
    prod = split_by_day(_product([DAY0 + 10.0 + 8 / 65536, DAY0 + 14.0 + 8 / 65536]))[0]
    (res,) = write_l0([prod], tmp_path, created=CREATED, software_version="1.0")
    assert res.path == tmp_path / "L0/21/6/33" / "solo_L0_stix-ql-variance_0659318400_V02U.fits"
    content = read_fits(res.path)
    h = content.primary
    assert h["DATE-BEG"] == "0659318408:00008"
    assert h["DATE-END"] == "0659318416:00008"
    assert h["OBT_BEG"] == pytest.approx(659318408 + 8 / 65535, abs=1e-7)
    assert h["XPOSURE"] == 4.0
    assert list(content.tables) == ["CONTROL", "DATA", "IDB_VERSIONS"]
    assert content.tables["DATA"]["time"].tolist() == [200, 600]
    assert content.tables["DATA"]["timedel"].tolist() == [400, 400]
    again = write_l0([prod], tmp_path, created=CREATED, software_version="1.0")
    assert again[0].sha256 == res.sha256  # deterministic


def test_scet_split_carries_fine_overflow():
    assert scet_split(10 + 65535.7 / 65536) == (11, 0)


def _table(rows: list[int], values: dict[str, list[list[int]]], version: str) -> ParameterTable:
    return ParameterTable(
        version=version,
        spid=1,
        rows=np.array(rows, dtype=np.int64),
        values={
            k: np.array([x for pkt in v for x in pkt], dtype=np.int64) for k, v in values.items()
        },
        counts={k: np.array([len(pkt) for pkt in v], dtype=np.int64) for k, v in values.items()},
        end_bits=np.zeros(len(rows), dtype=np.int64),
        length_bits=np.zeros(len(rows), dtype=np.int64),
    )


def test_merge_tables_restores_packet_order():
    a = _table([0, 2], {"A": [[1, 2], [5]]}, "2.26.34")
    b = _table([1], {"A": [[3, 4]], "B": [[9]]}, "2.26.35")
    m = merge_tables([a, b])
    assert m.rows.tolist() == [0, 1, 2]
    assert m.values["A"].tolist() == [1, 2, 3, 4, 5]
    assert m.counts["A"].tolist() == [2, 2, 1]
    assert m.counts["B"].tolist() == [0, 1, 0]


def _input(params: ParameterTable) -> LbInput:
    n = int(params.rows.max()) + 1
    headers = np.zeros(n, dtype=HEADER_DTYPE)
    headers["scet_coarse"] = DAY0 + 1000  # sent after the data, on the data's day (time check)
    batch = PacketBatch(
        headers=headers,
        pi1=np.full(n, 33),
        offset=np.zeros(n, dtype=np.int64),
        length=np.zeros(n, dtype=np.int64),
        packet_id=np.arange(n, dtype=np.int64),
        file_index=np.zeros(n, dtype=np.int32),
        buffer=np.zeros(0, dtype=np.uint8),
        files=("tm.xml",),
    )
    return LbInput(
        spec=product_by_key("ql_variance"),
        batch=batch,
        params=params,
        versions=np.full(n, "2.26.34", dtype=object),
        raw_file=np.full(n, b"tm.xml"),
        packet=np.arange(n, dtype=np.int64) + 100,
        parent="lb.fits",
        request_id=None,
        conf_dir=Path("."),
        idb_versions=(),
    )


def _builder(inp: LbInput) -> list[L0Product]:
    n_sam = inp.params.first("N")
    vals = inp.params.values["V"]
    if int(n_sam.sum()) != len(vals):
        raise ProductBuildError("samples do not match values")
    times = np.repeat(inp.params.first("T").astype(float), n_sam) + np.concatenate(
        [np.arange(k) * 4.0 + 2.0 for k in n_sam]
    )
    return [_product(times.tolist())]


def test_one_bad_packet_does_not_cost_the_file():
    params = _table(
        [0, 1, 2],
        {
            "T": [[DAY0 + 0], [DAY0 + 100], [DAY0 + 200]],
            "N": [[2], [3], [1]],  # packet 1 says 3 samples but sends 2
            "V": [[1, 2], [3, 4], [5]],
        },
        "2.26.34",
    )
    products, issues, _waiting = run_builder(BuilderEntry(_builder), _input(params))
    assert len(issues) == 1
    assert issues[0].packet_index == 1
    assert issues[0].packet_id == 101
    assert "samples do not match" in issues[0].reason
    merged = concat_products(products)
    assert merged.n_rows == 3


def test_packet_with_an_impossible_data_time_is_left_out():
    """A flipped bit in a payload time: after the packet was sent, or days from its SCET day."""
    params = _table(
        [0, 1, 2, 3],
        {
            "T": [[DAY0], [DAY0 + 2**30], [DAY0 - 5 * 86400], [DAY0 + 300]],
            "N": [[1], [1], [1], [1]],
            "V": [[1], [2], [3], [4]],
        },
        "2.26.34",
    )
    products, issues, _waiting = run_builder(BuilderEntry(_builder), _input(params))
    reasons = {i.packet_index: i.reason for i in issues}
    assert sorted(reasons) == [1, 2]
    assert "data time 2054-12-" in reasons[1]
    assert "is after its packets were sent (2020-11-22)" in reasons[1]
    assert "data time 2020-11-17 is more than a day from its packets' SCET day" in reasons[2]
    assert concat_products(products).n_rows == 2


def test_bsd_builder_without_retry_reports_the_file():
    params = _table([0, 1], {"T": [[DAY0], [DAY0]], "N": [[1], [2]], "V": [[1], [2]]}, "x")
    products, issues, _waiting = run_builder(
        BuilderEntry(_builder, per_packet_retry=False), _input(params)
    )
    assert products == []
    assert issues[0].packet_index is None
    assert issues[0].file == "lb.fits"
