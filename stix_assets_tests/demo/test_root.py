import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from stix_assets.core.compression import decompress
from stix_assets.core.idb import IdbStore
from stix_assets.core.idb.calibration import calibrate
from stix_assets.core.idb.decode import decode_batch
from stix_assets.core.tmtc import PacketBatch, decode_tm_file, split_sequences
from stix_assets.demo import DemoRoot, DemoRootError, build_demo_root, expected_parameters
from stix_assets.demo.encoder import read_layouts
from stix_assets.demo.kernels import scet_from_utc
from stix_assets.demo.model import ATT_IN_RATE
from stix_assets.demo.simulator import SimConfig, simulate
from stix_assets_tests.demo.conftest import DEMO_START


@pytest.fixture(scope="module")
def demo_batch(demo_root: DemoRoot) -> PacketBatch:
    batches = []
    for path in sorted(demo_root.incoming.glob("*PktTmRaw*.xml")):
        tm, batch, report = decode_tm_file(path)
        assert tm.kind == "TM"
        assert not report.quarantined, report.counts_by_reason()
        assert not report.warnings
        batches.append(batch)
    return PacketBatch.concat(batches)


@pytest.fixture(scope="module")
def demo_tables(demo_root: DemoRoot, demo_batch: PacketBatch):
    tables, report = decode_batch(demo_batch, IdbStore(demo_root.idb_root))
    assert not report.quarantined, report.counts_by_reason()
    assert not report.warnings  # every packet's IDB version comes from the demo history
    return tables


def test_root_layout(demo_root: DemoRoot) -> None:
    root = demo_root.root
    assert (root / ".stix-demo").is_file()
    assert (root / "idb" / "2.26.34" / "idb.sqlite").is_file()
    assert (root / "idb" / "idbVersionHistory.json").is_file()
    assert demo_root.meta_kernel.name == "solo_ANC_soc-flown-mk_V01_20240515_001.tm"
    config = demo_root.config.read_text()
    assert 'tm_inbox = "incoming"' in config
    assert 'meta_kernel = "spice/kernels/mk/solo_ANC_soc-flown-mk_V01_20240515_001.tm"' in config
    names = [p.name for p in demo_root.tm_files]
    assert len(names) >= 6  # several downlinks per day
    assert all(n.startswith("TM_BatchRequest.PktTmRaw.SOL.0.2024.") for n in names)


def test_every_packet_decodes_with_headers_consistent(demo_root: DemoRoot, demo_batch) -> None:
    h = demo_batch.headers
    assert len(demo_batch) == demo_root.n_packets
    assert np.all(h["data_length"].astype(np.int64) + 7 == demo_batch.length)
    assert np.all(h["time_sync"])
    assert set(np.unique(h["apid"]).tolist()) == {1444, 1468, 1500}
    t = h["scet_coarse"].astype(np.float64) + h["scet_fine"] / 65536
    assert np.all(np.diff(t) >= 0)  # files and packets in generation order
    for apid in (1444, 1468, 1500):
        counts = h["sequence_count"][h["apid"] == apid].astype(np.int64)
        assert np.all(np.diff(counts) % 16384 == 1), apid
    assert np.any(np.diff(h["sequence_count"][h["apid"] == 1444].astype(np.int64)) < 0)  # wraps
    start = scet_from_utc(datetime.combine(DEMO_START, datetime.min.time(), UTC))
    assert start <= t[0] < start + 3600
    assert t[-1] < start + 2 * 86400 + 3600


def test_decoded_values_are_the_simulated_ones(demo_root: DemoRoot, demo_tables) -> None:
    sim = simulate(SimConfig(start=DEMO_START, days=2))
    order = sorted(range(len(sim.packets)), key=lambda i: (sim.packets[i].scet, i))
    layouts = read_layouts(demo_root.idb_root / "2.26.34" / "idb.sqlite")
    by_row = {}
    for (_, spid), table in demo_tables.items():
        for k, row in enumerate(table.rows.tolist()):
            by_row[row] = (spid, table, k)
    assert len(by_row) == demo_root.n_packets
    checked = {}
    for row, i in enumerate(order):
        pkt = sim.packets[i]
        spid, table, k = by_row[row]
        assert spid == pkt.spid
        if spid in (54101, 54102) and checked.get(spid, 0) >= 40:
            continue  # HK is large in number; 40 reports per kind are enough
        checked[spid] = checked.get(spid, 0) + 1
        decoded = {
            n: [int(v) for v in table.packet_values(n, k)]
            for n in table.names
            if table.counts[n][k]
        }
        assert decoded == expected_parameters(layouts[spid], pkt.values), (row, spid)
    assert set(checked) == {54101, 54102, 54115, 54118, 54119, 54120, 54121, 54122, 54143}


def _lc(demo_tables):
    table = demo_tables[("2.26.34", 54118)]
    n_e = table.values["NIX00270"]
    assert np.all(n_e == 5)
    counts = decompress(table.values["NIX00272"], s=0, k=5, m=3)[0]
    per_packet = table.counts["NIX00276"]
    bands = []
    off = table.offsets("NIX00272")
    for i, n in enumerate(per_packet):
        bands.append(counts[off[i] : off[i + 1]].reshape(5, n).T)
    return np.concatenate(bands), table.values["NIX00276"]


def test_lightcurve_shows_flare_and_attenuator(demo_tables) -> None:
    lc, rcr = _lc(demo_tables)
    assert lc.shape == (2 * 86400 // 4, 5)
    quiet = np.median(lc, axis=0)
    peak_i = int(np.argmax(lc[:, 0]))
    assert lc[peak_i, 0] > 100 * quiet[0]  # M-class-like thermal peak in 4-10 keV
    assert lc[:, 3].max() > 10 * quiet[3]  # non-thermal bursts in 25-50 keV
    # attenuator: RCR 0 at quiet times, 1 for a stretch around the peak, back to 0 afterwards
    assert rcr[0] == 0
    assert rcr[-1] == 0
    inserted = np.flatnonzero(rcr == 1)
    assert len(inserted) > 20
    assert np.all(np.diff(inserted) == 1)  # one insertion, one removal
    assert inserted[0] < np.argmax(lc[:, 2]) + 150
    assert inserted[-1] > inserted[0]
    # low energies drop when the attenuator goes in
    i0 = inserted[0]
    assert lc[i0, 0] < 0.3 * lc[i0 - 1, 0]
    assert lc[i0 - 1, 0] > ATT_IN_RATE  # per 4 s bin: the rate threshold was passed


def test_bsd_requests_are_complete_sequences(demo_root: DemoRoot, demo_batch, demo_tables) -> None:
    h = demo_batch.headers
    for spid, ssid in ((54115, 21), (54143, 24)):
        table = demo_tables[("2.26.34", spid)]
        rows = table.rows
        flags = h["sequence_flag"][rows]
        splits = split_sequences(flags, h["sequence_count"][rows])
        assert len(splits) == 1, ssid
        assert splits[0].complete, ssid
        assert flags[0] == 1
        assert flags[-1] == 2
        assert set(table.values["NIX00037"].tolist()) == {demo_root.request_ids[ssid == 24]}
        assert len(set(table.values["NIX00002"].tolist())) == 1
    assert str(demo_root.request_ids[0]).startswith("240515")
    cpd = demo_tables[("2.26.34", 54115)]
    assert np.all(cpd.values["NIX00259"] == 360)  # 30 detectors x 12 pixels per energy group
    assert 1 in cpd.values["NIX00401"].tolist()  # the attenuator was in during the request


def test_hk_engineering_values_plausible(demo_root: DemoRoot, demo_batch) -> None:
    store = IdbStore(demo_root.idb_root)
    tables, _ = decode_batch(demo_batch, store)
    maxi = calibrate(tables[("2.26.34", 54102)], store.get("2.26.34"))
    temps = maxi.engineering["NIXD0025"].to_value("K")  # DPU PCB temperature
    assert np.all((temps > 250) & (temps < 320))  # kelvin
    att_flags = maxi.values["NIXD0069"]
    assert 0 in att_flags
    assert 1 in att_flags


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_rebuild_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    build_demo_root(root, start=date(2024, 3, 1), days=1)
    first = _digests(root)
    build_demo_root(root, start=date(2024, 3, 1), days=1)
    assert _digests(root) == first
    (root / "archive" / "something.fits").write_text("x")
    build_demo_root(root, start=date(2024, 3, 1), days=1, clean=True)
    assert _digests(root) == first
    assert json.loads((root / ".stix-demo").read_text())["days"] == 1


def test_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(DemoRootError, match="not empty and is not a stix-assets demo root"):
        build_demo_root(tmp_path, start=date(2024, 3, 1), days=1)
    with pytest.raises(DemoRootError, match="not empty"):
        build_demo_root(tmp_path, start=date(2024, 3, 1), days=1, clean=True)
    assert (tmp_path / "mine.txt").read_text() == "user data"
    with pytest.raises(DemoRootError, match="days must be at least 1"):
        build_demo_root(tmp_path / "new", start=date(2024, 3, 1), days=0)
