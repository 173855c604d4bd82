import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products import l0_writer
from stix_assets.core.products.l0_decode import decode_lb_file
from stix_assets.core.products.lb import write_lb
from stix_assets.core.products.science import (
    _substructures_overlap,
    build_science_l0,
    plan_sequences,
    spectrogram_bins,
)
from stix_assets.core.tmtc.sequences import FIRST, LAST, MIDDLE, STANDALONE

CREATED = datetime(2025, 1, 2, tzinfo=UTC)


def test_plan_sequences_waits_for_a_missing_middle_packet():
    flags = np.array([FIRST, MIDDLE, LAST, FIRST, LAST, STANDALONE])
    counts = np.array([10, 11, 12, 20, 22, 30])  # 21 missing
    complete, waiting = plan_sequences(flags, counts)
    assert [c.tolist() for c in complete] == [[0, 1, 2], [5]]
    assert [w.tolist() for w in waiting] == [[3, 4]]
    # the missing packet arrives: the same request now completes
    flags2 = np.array([FIRST, MIDDLE, LAST])
    complete2, waiting2 = plan_sequences(flags2, np.array([20, 21, 22]))
    assert len(complete2) == 1
    assert waiting2 == []


@pytest.mark.parametrize(
    ("delta_s", "closing_s", "samples", "timedel_s", "overlap"),
    [
        # request 0083036480's shape: the same interval twice, 40 s and 20 s bins, each
        # sub-structure closed by its own offset (STIXCore: the first ran back to 0, -80 s)
        ([0.1, 40.1, 80.1, 0.1, 20.1], [20.0, 10.0], [3, 2], [40, 40, 20, 20, 10], True),
        # sub-structures one after the other: closing offsets close the gaps
        ([0.0, 10.0, 20.0, 30.0], [10.0, 5.0], [2, 2], [10, 10, 10, 5], False),
        # one sub-structure, no closing offset: a last bin of no duration (as sent)
        ([0.0, 19.4, 39.2], [0.0], [3], [19.4, 19.8, 0.0], False),
    ],
)
def test_spectrogram_bins_close_each_substructure(delta_s, closing_s, samples, timedel_s, overlap):
    delta, samples = np.array(delta_s), np.array(samples)
    starts, timedel = spectrogram_bins(delta, np.array(closing_s), samples)
    np.testing.assert_array_equal(starts, delta)
    np.testing.assert_allclose(timedel, timedel_s)
    assert np.all(timedel >= 0)
    assert _substructures_overlap(starts, starts + timedel, samples) is overlap


class _WithIdbs:
    def __init__(self, inp, idbs):
        self._inp, self.idbs = inp, idbs

    def __getattr__(self, name):
        return getattr(self._inp, name)


def _bsd_inputs(testdata: Path, tmp_path: Path, rid: str):
    store = IdbStore(testdata / "idb")
    index = index_tm_file(testdata / "reference/stixcore/input/solo_hexpackets_PktTmRaw.xml", store)
    lb = write_lb(index, tmp_path, created=CREATED, software_version="test")
    path = next(r.path for r in lb if rid in r.path.name)
    inp, _ = decode_lb_file(path, store, testdata / "conf")
    return _WithIdbs(inp, {v: store.get(v) for v in set(inp.versions.tolist())})


@pytest.mark.realdata
def test_incomplete_bsd_sequence_waits_and_completes(testdata: Path, tmp_path: Path):
    # a lone LAST packet of a spectrogram-like request: the CPD fragment 1267045904
    inp = _bsd_inputs(testdata, tmp_path, "1267045904-51759")
    built = build_science_l0(inp)
    assert built.products == []
    assert len(built.waiting) == 1
    assert built.waiting[0].reason == "incomplete sequence"
    # the same packet seen as a complete (standalone) sequence builds a product
    headers = inp.batch.headers.copy()
    headers["sequence_flag"] = STANDALONE
    done = _WithIdbs(
        dataclasses.replace(inp._inp, batch=dataclasses.replace(inp.batch, headers=headers)),
        inp.idbs,
    )
    built = build_science_l0(done)
    assert built.waiting == []
    (prod,) = built.products
    assert prod.request_id == (51759, 1267045904)
    assert prod.data["counts"].ndim == 4  # time x detector x pixel x energy
    assert prod.control["energy_bin_edge_mask"].shape == (1, 33)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "rid",
    [
        "0094014977-52620",  # raw pixel data (ssid 20), continuation-bit counts
        "0000000000-00000",  # aspect burst (ssid 42), no request id in the IDB
    ],
)
def test_every_bsd_family_builds_from_a_real_fragment(testdata: Path, tmp_path: Path, rid):
    inp = _bsd_inputs(testdata, tmp_path, rid)
    headers = inp.batch.headers.copy()
    headers["sequence_flag"] = STANDALONE
    done = _WithIdbs(
        dataclasses.replace(inp._inp, batch=dataclasses.replace(inp.batch, headers=headers)),
        inp.idbs,
    )
    (prod,) = build_science_l0(done).products
    assert prod.n_rows > 0
    assert np.all(np.isfinite(prod.data["time"]))
    written = l0_writer.write_l0([prod], tmp_path / "out", created=CREATED, software_version="test")
    assert len(written) == 1
