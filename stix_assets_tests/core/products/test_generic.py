import numpy as np

from stix_assets.core.idb import ParameterTable
from stix_assets.core.products.generic import (
    build_generic,
    column_name,
    generic_product_name,
    min_uint,
)


class _Param:
    def __init__(self, description, curtx=None):
        self.description, self.curtx = description, curtx


class _Idb:
    def __init__(self, names):
        self.names = names

    def parameter(self, name):
        return _Param(self.names[name])

    def plf_rows(self, spid):
        return []


def _table(values, counts):
    n = len(next(iter(counts.values())))
    return ParameterTable(
        version="v",
        spid=1,
        rows=np.arange(n),
        values={k: np.asarray(v, dtype=np.int64) for k, v in values.items()},
        counts={k: np.asarray(v, dtype=np.int64) for k, v in counts.items()},
        end_bits=np.zeros(n, np.int64),
        length_bits=np.zeros(n, np.int64),
    )


def test_names():
    assert column_name("Mean - ASIC ch") == "mean-asic_ch"
    assert column_name("TC(20,128) seq cnt") == "tc(20,128)_seq_cnt"
    assert generic_product_name("events", 5, 1, 33) == "events-1-33"
    assert generic_product_name("tc-verify", 1, 1, -1) == "tc-verify-1"
    # quirk 11: a service without a name is named by its number
    assert generic_product_name(None, 42, 7, None) == "42-7"
    assert min_uint(255) == np.uint8
    assert min_uint(256) == np.uint16


def test_scalar_parameters_one_column_each():
    idb = _Idb({"NIX1": "Event ID", "NIX2": "Actual mode"})
    t = _table({"NIX1": [33, 34], "NIX2": [2, 3]}, {"NIX1": [1, 1], "NIX2": [1, 1]})
    out = build_generic([t], {"v": idb}, np.array([10, 11]), np.array([0, 32768]))
    assert list(out.data) == ["time", "timedel", "event_id", "actual_mode", "control_index"]
    assert out.data["event_id"].values.tolist() == [33, 34]
    assert out.data["event_id"].meta["NIXS"] == "NIX1"
    np.testing.assert_allclose(out.time_s, [10.0, 11.5])
    assert out.control["index"].values.dtype == np.uint8


def test_structures_reshape_per_packet_and_pad_ragged_rows():
    idb = _Idb({"NIX00103": "Number of structures", "NIX9": "Detector number"})
    t = _table(
        {"NIX00103": [3, 2], "NIX9": [1, 2, 3, 4, 5]},
        {"NIX00103": [1, 1], "NIX9": [3, 2]},
    )
    out = build_generic([t], {"v": idb}, np.array([1, 2]), np.array([0, 0]))
    assert out.data["number_of_structures"].values.shape == (2, 1)
    assert out.data["detector_number"].values.tolist() == [[1, 2, 3], [4, 5, 0]]
    assert any("padded" in n for n in out.notes)


def test_empty_group_gives_no_column_and_same_name_keeps_later_values():
    idb = _Idb({"A": "Register mask", "B": "Register mask", "C": "Unused"})
    t = _table({"A": [7], "B": [5], "C": []}, {"A": [1], "B": [1], "C": [0]})
    out = build_generic([t], {"v": idb}, np.array([1]), np.array([0]))
    assert list(out.data) == ["time", "timedel", "register_mask", "control_index"]
    assert out.data["register_mask"].values.tolist() == [5]
