"""LB files decoded together give each file what decoding it alone gives (real packets)."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products.l0_decode import decode_lb_files
from stix_assets.core.products.lb import write_lb

pytestmark = pytest.mark.realdata

_TM = (
    "reference/stixcore/input/solo_hexpackets_PktTmRaw.xml",  # BSD requests, QL, HK
    "reference/stixcore/input/PktTmRaw.xml",
    "tm/PktTmRaw.hk-20201201.xml",
    "tm/PktTmRaw.moc_test-20191127.xml",  # another IDB version
)


@pytest.fixture(scope="module")
def lb_files(testdata: Path, tmp_path_factory) -> tuple[IdbStore, Path, list[Path]]:
    store = IdbStore(testdata / "idb")
    root = tmp_path_factory.mktemp("lb")
    paths: list[Path] = []
    for name in _TM:
        written = write_lb(
            index_tm_file(testdata / name, store),
            root / Path(name).stem,
            created=datetime(2026, 1, 1, tzinfo=UTC),
            software_version="test",
        )
        paths.extend(r.path for r in written)
    assert len(paths) > 10
    return store, testdata / "conf", sorted(paths)


def _same_input(alone, together) -> None:
    (a, a_issues), (b, b_issues) = alone, together
    assert (a.spec, a.parent, a.request_id) == (b.spec, b.parent, b.request_id)
    assert a.idb_versions == b.idb_versions
    assert a_issues == b_issues
    np.testing.assert_array_equal(a.versions, b.versions)
    np.testing.assert_array_equal(a.raw_file, b.raw_file)
    np.testing.assert_array_equal(a.packet, b.packet)
    p, q = a.params, b.params
    assert (p.version, p.spid, p.files, p.rejected) == (q.version, q.spid, q.files, q.rejected)
    assert list(p.values) == list(q.values)
    for name in p.values:
        np.testing.assert_array_equal(p.values[name], q.values[name], err_msg=name)
        np.testing.assert_array_equal(p.counts[name], q.counts[name], err_msg=name)
    for field in ("rows", "end_bits", "length_bits"):
        np.testing.assert_array_equal(getattr(p, field), getattr(q, field), err_msg=field)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_files_decoded_together_equal_each_file_decoded_alone(lb_files, data):
    store, conf, paths = lb_files
    chosen = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=12, unique=True))
    chosen = data.draw(st.permutations(chosen))
    together = decode_lb_files(chosen, store, conf)
    assert set(together) == set(chosen)
    for path in chosen:
        _same_input(decode_lb_files([path], store, conf)[path], together[path])
