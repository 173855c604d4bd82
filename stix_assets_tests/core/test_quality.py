"""Quality computations: synthetic arrays, the kit's real LB files and the demo mission's L0."""

import dataclasses
import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stix_assets.core import quality as q
from stix_assets.core.catalog import Catalog, ProductFileRecord
from stix_assets.core.compression import compress, decompress
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products.l0 import build_l0_day
from stix_assets.core.products.l0_writer import write_l0
from stix_assets.core.products.lb import write_lb
from stix_assets.demo import build_demo_root

CREATED = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
FLARE_DAY = dt.date(2024, 5, 15)  # second demo day: the flare and the BSD requests


# ---------------------------------------------------------------- sequence counts (synthetic)


def test_roll_over_is_not_a_loss():
    stats = q.count_sequence_gaps([7] * 4, [16382, 16383, 0, 1], [10, 11, 12, 13], [0] * 4)
    assert (stats[7].n_lost, stats[7].n_duplicated, stats[7].n_backward) == (0, 0, 0)


def test_gap_across_roll_over_counts_the_missing_packets():
    stats = q.count_sequence_gaps([7] * 3, [16380, 16383, 3], [10, 11, 12], [0] * 3)
    assert stats[7].n_lost == 2 + 3  # 16381, 16382 and 0, 1, 2
    assert stats[7].gaps == ((16380, 16383, 2, 11), (16383, 3, 3, 12))


def test_duplicates_backward_jumps_and_interleaved_apids():
    # two APIDs interleaved and given out of time order; APID 9 repeats 41 and later restarts at 0
    apid = [9, 5, 9, 5, 9, 9, 5]
    count = [40, 100, 41, 101, 41, 0, 103]
    coarse = [1, 2, 3, 4, 5, 6, 7]
    order = [6, 2, 0, 4, 1, 5, 3]
    stats = q.count_sequence_gaps(
        np.take(apid, order), np.take(count, order), np.take(coarse, order), [0] * 7
    )
    assert (stats[9].n_packets, stats[9].n_duplicated, stats[9].n_backward) == (4, 1, 1)
    assert stats[9].n_lost == 0
    assert stats[9].duplicates == ((41, 5),)
    assert (stats[5].n_lost, stats[5].n_duplicated) == (1, 0)


@given(
    start=st.integers(0, 16383),
    n=st.integers(2, 300),
    drop=st.sets(st.integers(1, 298), max_size=20),
)
def test_lost_equals_dropped_packets(start, n, drop):
    counts = (start + np.arange(n)) % 16384
    keep = np.array([i not in drop or i == n - 1 for i in range(n)])
    stats = q.count_sequence_gaps(
        np.ones(keep.sum()), counts[keep], np.arange(n)[keep], np.zeros(keep.sum())
    )
    assert stats[1].n_lost == n - keep.sum()
    assert stats[1].n_duplicated == 0


# ---------------------------------------------------------------- time axis (synthetic)


def test_time_gaps_with_day_window():
    t = np.concatenate([np.arange(2, 400, 4), np.arange(1002, 2000, 4)])
    gaps = q.find_time_gaps(t, 4.0, max_gap_s=120, window=(0.0, 2400.0))
    assert gaps.n_gaps == 2
    assert gaps.gaps == ((400.0, 1000.0), (2000.0, 2400.0))
    assert gaps.longest_s == 600.0
    assert q.find_time_gaps(t, 4.0, max_gap_s=700).n_gaps == 0


def test_overlapping_bins_leave_no_gap():
    # a long bin covering the next short ones must not create a negative or false gap
    gaps = q.find_time_gaps([50, 20, 90], [100, 4, 4], max_gap_s=1)
    assert gaps.n_gaps == 0


def test_non_monotonic_times():
    out = q.non_monotonic_times([0, 4, 8, 8, 6, 12])
    assert (out["backward"], out["repeated"], out["first_rows"]) == (1, 1, [3, 4])
    assert q.non_monotonic_times(np.arange(10.0))["backward"] == 0


# ---------------------------------------------------------------- compression overflow


@pytest.mark.parametrize(
    ("s", "k", "m"),
    [
        (0, 5, 3),  # QL light-curve counts
        (0, 4, 4),
        (1, 3, 4),  # signed (visibilities)
        (0, 0, 7),  # uncompressed 7 bits
    ],
)
def test_max_value_is_the_top_byte(s, k, m):
    top = int(decompress((1 << (k + m)) - 1, s=s, k=k, m=m)[0])
    assert q.skm_max_value(s, k, m) == abs(top)
    below = int(decompress((1 << (k + m)) - 2, s=s, k=k, m=m)[0])
    mask = q.saturated_mask([[top, below]], [[s, k, m]])
    assert mask.tolist() == [[True, False]]


def test_saturated_mask_per_row_scheme_and_skips():
    top = q.skm_max_value(0, 5, 3)
    values = np.array([[top, 3], [127, 1], [127, 0], [5, 5]])
    skm = np.array([[0, 5, 3], [0, 0, 7], [0, 4, 4], [0, 0, 0]])
    assert q.saturated_mask(values, skm).sum() == 2  # row 0 and the (0, 0, 7) row
    assert q.saturated_mask(values, skm, skip=[(0, 0, 7)]).sum() == 1
    # what compress says is the largest value still maps to the top byte
    assert compress(top, s=0, k=5, m=3) == 255


# ---------------------------------------------------------------- BSD sequences, kernels, staleness


def test_sequences_waiting_and_overdue():
    # FIRST MIDDLE LAST complete; FIRST MIDDLE (waiting); FIRST (overdue: 10 days old)
    flags = [1, 0, 2, 1, 0, 1]
    counts = [10, 11, 12, 20, 21, 30]
    day = 86400
    coarse = [0, 0, 0, 9 * day, 9 * day, 0]
    out = q.summarise_sequences(flags, counts, coarse, now_scet=10 * day, max_age_days=7)
    assert out == {
        "sequences": 3,
        "complete": 1,
        "waiting": 1,
        "overdue": 1,
        "first_overdue": [[0, 1]],
    }


def test_sequence_with_lost_middle_packet_is_incomplete():
    out = q.summarise_sequences([1, 0, 2], [10, 11, 13], [0, 0, 0], now_scet=0, max_age_days=7)
    assert (out["complete"], out["waiting"]) == (0, 1)


@pytest.mark.parametrize(
    ("spice_mk", "expected"),
    [
        ("solo_ANC_soc-pred-mk_V1_20240601_001.tm, solo_ANC_soc-flown-mk_V1_20240601_001.tm", "flown"),
        ("solo_ANC_soc-pred-mk_V1_20240601_001.tm, solo_ANC_soc-flown-mk_V1_20240520_001.tm", "predicted"),
        ("solo_ANC_soc-pred-mk_V1_20240601_001.tm", "predicted"),
        ("solo_ANC_soc-flown-mk_V1_20240525_001.tm", "predicted"),  # the day of the kernel itself
        ("", None),
    ],
)  # fmt: skip
def test_orbit_kind(spice_mk, expected):
    assert q.orbit_kind(spice_mk, dt.date(2024, 5, 25)) == expected


def test_find_stale_products():
    t0 = dt.datetime(2024, 5, 1, 12)  # noqa: DTZ001 (the catalog keeps naive UTC)
    products = [
        q.ProductTimes("a.fits", t0, {"tm1": t0 - dt.timedelta(hours=1)}),
        q.ProductTimes("b.fits", t0, {"tm1": t0, "tm2": t0 + dt.timedelta(minutes=5), "x": None}),
    ]
    out = q.find_stale_products(products)
    assert out["stale"] == [{"file": "b.fits", "newer_inputs": ["tm2"]}]
    assert out["unknown_inputs"] == ["x"]


# ---------------------------------------------------------------- the kit's real LB files


@pytest.fixture(scope="module")
def kit_lb(testdata: Path, tmp_path_factory: pytest.TempPathFactory):
    store = IdbStore(testdata / "idb")
    inputs = sorted((testdata / "reference" / "stixcore" / "input").glob("*.xml"))
    indexes = [index_tm_file(p, store) for p in inputs]
    root = tmp_path_factory.mktemp("kit_lb")
    results = write_lb(indexes, root, created=CREATED, software_version="test")
    by_day: dict = {}
    for r in results:
        by_day.setdefault(r.scet_day, []).append(r)
    return by_day


@pytest.mark.realdata
def test_kit_hk_day_has_no_loss(kit_lb):
    # PktTmRaw.xml: 9 consecutive HK maxi packets on 2020-12-01
    day = dt.date(2020, 12, 1)
    files = [r.path for r in kit_lb[day]]
    hk = [r.path for r in kit_lb[day] if r.product_key == "hk_maxi"]
    result = q.check_no_lost_packets(hk, files, scet_day=day)
    assert result.passed
    assert result.metadata["apids"][0]["packets"] == 9
    assert q.check_no_duplicate_packets(hk, files, scet_day=day).passed


@pytest.mark.realdata
def test_kit_ql_extract_reports_the_packets_between(kit_lb):
    # the kit keeps one packet per QL kind of 2020-11-22 out of a continuous stream: the check
    # must count every count not present between the first and last packet of APID 1500
    day = dt.date(2020, 11, 22)
    files = [r.path for r in kit_lb[day]]
    lc = [r.path for r in kit_lb[day] if r.product_key == "ql_lightcurve"]
    packets = q.read_lb_packets(files)
    counts = np.sort(packets.sequence_count[packets.apid == 1500])
    assert counts[-1] - counts[0] < 8192  # no roll-over in this extract
    expected = int(counts[-1] - counts[0] + 1 - len(counts))
    result = q.check_no_lost_packets(lc, files, scet_day=day)
    assert not result.passed
    assert result.severity == "WARN"
    assert result.metadata["lost"] == expected > 0


@pytest.mark.realdata
def test_kit_bsd_single_packet_request_is_overdue(kit_lb):
    bsd = [r.path for r in kit_lb[None] if r.product_key == "xray_cpd"]
    result = q.check_sequences_complete(bsd, now=CREATED, max_age_days=7)
    assert result.metadata["overdue"] >= 1
    assert not result.passed
    # the same files seen right after they were sent are only waiting
    young = q.check_sequences_complete(bsd, now=dt.datetime(2020, 12, 1, tzinfo=dt.UTC))
    assert young.passed or young.metadata["waiting"] >= 1


# ---------------------------------------------------------------- the demo mission (L0)


def _write_conf(root: Path) -> Path:
    """A minimal STIX-CONF: one science energy-channel table (keV edges 4..35 and 150)."""
    det = root / "detector"
    det.mkdir(parents=True, exist_ok=True)
    (det / "science_echan_index.csv").write_text(
        "index, start_date, end_date, sci_chan_file\n0, 2019-06-15T00:00:00, none, ch.csv\n"
    )
    rows = ["Channel Number,Channel Edge,Energy Edge ,Elower,Eupper ,BinWidth,dE/E,QL channel"]
    rows += [f"{i},{i},{i},{4 + i},{5 + i},1,0.1,0" for i in range(31)]
    rows.append("31,31,150,150,maxADC,n/a,n/a,n/a")
    (det / "ch.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("demo_quality")
    root = build_demo_root(base / "stix-demo", start=dt.date(2024, 5, 14), days=2)
    store = IdbStore(root.idb_root)
    return root, store, _write_conf(base / "conf")


def _l0_lightcurve(demo, tm_files, archive: Path) -> Path:
    # the last bins of a day come in the first packets of the next day: its TM files are needed
    root, store, conf = demo
    next_day = _day_files(root, FLARE_DAY + dt.timedelta(days=1))
    indexes = [index_tm_file(p, store) for p in [*tm_files, *next_day]]
    lb = write_lb(indexes, archive, created=CREATED, software_version="test")
    built = build_l0_day([r.path for r in lb], FLARE_DAY, store, conf, products={"ql_lightcurve"})
    (written,) = write_l0(built.products, archive, created=CREATED, software_version="test")
    return written.path


def _day_files(root, day: dt.date) -> list[Path]:
    tag = f".{day.year}.{day.timetuple().tm_yday:03d}."
    return [p for p in root.tm_files if tag in p.name.split("@")[0]]


def test_demo_light_curve_day_is_continuous(demo, tmp_path):
    root = demo[0]
    path = _l0_lightcurve(demo, _day_files(root, FLARE_DAY), tmp_path)
    result = q.check_time_gaps([path], max_gap_s=120, scet_day=FLARE_DAY)
    assert result.passed, result.metadata
    assert q.check_times_increasing([path]).passed
    overflow = q.check_decompression_overflow([path])
    assert overflow.passed
    assert set(overflow.metadata["files"][0]) == {"file", "counts", "triggers"}


def test_demo_day_missing_a_downlink_has_a_gap(demo, tmp_path):
    root = demo[0]
    files = _day_files(root, FLARE_DAY)
    assert len(files) == 3  # the demo splits a day into three overlapping downlinks
    path = _l0_lightcurve(demo, [files[0], files[2]], tmp_path)
    result = q.check_time_gaps([path], max_gap_s=120, scet_day=FLARE_DAY)
    assert not result.passed
    (entry,) = result.metadata["files"]
    assert entry["gaps"] == 1
    assert 6 * 3600 < entry["longest_gap_s"] < 9 * 3600  # one third of the day, minus overlaps


def test_demo_tampered_products_fail(demo, tmp_path):
    root, store, conf = demo
    indexes = [index_tm_file(p, store) for p in _day_files(root, FLARE_DAY)]
    lb = write_lb(indexes, tmp_path, created=CREATED, software_version="test")
    built = build_l0_day([r.path for r in lb], FLARE_DAY, store, conf, products={"ql_lightcurve"})
    (prod,) = built.products
    data = dict(prod.data)
    time = data["time"].copy()
    time[100], time[101] = time[101], time[100]  # two bins swapped
    counts = data["counts"].copy()
    skm = prod.control["compression_scheme_counts_skm"][0]
    counts[5:8, 0] = q.skm_max_value(*(int(x) for x in skm))  # three saturated values
    data.update(time=time, counts=counts)
    bad = dataclasses.replace(prod, data=data)
    (written,) = write_l0([bad], tmp_path / "bad", created=CREATED, software_version="test")
    order = q.check_times_increasing([written.path])
    assert (order.passed, order.severity) == (False, "ERROR")
    assert order.metadata["files"][0]["backward"] == 1
    overflow = q.check_decompression_overflow([written.path])
    assert not overflow.passed
    assert overflow.metadata["files"][0]["counts"] == 3


def test_demo_stale_lb_and_partition_files(demo, tmp_path):
    root, store, _ = demo
    files = _day_files(root, FLARE_DAY)
    indexes = [index_tm_file(p, store) for p in files]
    lb = write_lb(indexes, tmp_path, created=CREATED, software_version="test")
    cat = Catalog(tmp_path / "catalog.duckdb")
    for index in indexes:
        cat.record_tm_index(index)
    cat.record_products(
        [
            ProductFileRecord(
                r.path, "LB", r.product_key, r.scet_day, 2, r.sha256, CREATED,
                inputs=r.raw_files, request_id=r.request_id[1] if r.request_id else None,
            )
            for r in lb
        ]
    )  # fmt: skip
    day_files = q.partition_files(cat, "LB", FLARE_DAY)
    # per-request files (no partition day) belong to the day their TM files touched
    assert {"xray_cpd", "xray_spec", "ql_lightcurve", "hk_maxi"} <= set(day_files)
    assert q.partition_files(cat, "lb", FLARE_DAY, ["hk_mini"]).keys() == {"hk_mini"}
    lc = day_files["ql_lightcurve"]
    # the demo TM files were written just now, after the LB files' recorded time (CREATED)
    stale = q.check_no_stale_products(cat, lc)
    assert not stale.passed
    assert stale.metadata["stale"][0]["file"] == lc[0].name
    # TM files dated before the product: fresh
    old = (CREATED - dt.timedelta(days=1)).timestamp()
    for p in files:
        os.utime(p, (old, old))
    assert q.check_no_stale_products(cat, lc).passed
