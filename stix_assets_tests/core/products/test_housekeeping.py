import numpy as np

from stix_assets.core.idb import ParameterTable
from stix_assets.core.products.housekeeping import build_housekeeping


class _Param:
    def __init__(self, description, curtx):
        self.description, self.curtx = description, curtx


class _Idb:
    names = {
        "NIX00020": ("SID", None),
        "NIXG0033": ("HW/SW status 1", None),
        "NIXD0002": ("CPU load", None),
        "NIXD0166": ("Autonomous ASW boot stat", "CIXT0001"),
        "NIXD0003": ("Archive Memory usage", "CIXP0002"),
    }

    def parameter(self, name):
        return _Param(*self.names[name])

    def plf_rows(self, spid):
        return [("NIX00020", 16, 0), ("NIXG0033", 30, 0), ("NIXD0002", 31, 0),
                ("NIXD0166", 31, 5), ("NIXD0003", 31, 7)]  # fmt: skip


def test_hk_skips_sid_and_global_words_and_orders_like_stixcore():
    names = list(_Idb.names)
    t = ParameterTable(
        version="v",
        spid=54101,
        rows=np.arange(2),
        values={n: np.array([i, i + 1]) for i, n in enumerate(names)},
        counts={n: np.ones(2, np.int64) for n in names},
        end_bits=np.zeros(2, np.int64),
        length_bits=np.zeros(2, np.int64),
    )
    out = build_housekeeping([t], {"v": _Idb()}, np.array([5, 6]), np.array([0, 0]))
    # PLF byte offset, then parameter name: NIXD0003 before NIXD0166 at byte 31
    assert list(out.data) == [
        "time", "timedel", "cpu_load", "archive_memory_usage", "autonomous_asw_boot_stat",
        "control_index",
    ]  # fmt: skip
    assert out.data["archive_memory_usage"].meta == {"NIXS": "NIXD0003", "PCF_CURTX": "CIXP0002"}
    assert out.control["index"].values.dtype == np.int64
    assert out.data["cpu_load"].values.dtype == np.int64
