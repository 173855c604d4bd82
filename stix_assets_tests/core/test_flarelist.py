"""Flare detection on the demo light curves (one M-class-like flare on day 2) and the L3 file.

`make_demo_l1` copies the processed demo (TM -> L1 through the assets) and writes the L1 files of
both days again. The demo kernels carry an SPK but no frame kernel, which `ephemeris_header` cannot use; the L1
files are therefore built with a kernel set of the demo's LSK and SCLK only (``SPICE_ER = 1``),
as the brief describes. The flare model's peak is at 02:30:00 UTC on 2024-05-15
(`SimConfig.flare_peak_s`: days * 86400 / 2 + 9000 s after the start).
"""

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.core.flarelist import (
    FlareDetectionConfig,
    LightCurve,
    detect_flares,
    flarelist_file_name,
    read_lightcurve,
    write_flarelist,
)
from stix_assets.core.idb import IdbStore
from stix_assets.core.products.l1 import build_l1_day, write_l1
from stix_assets.core.spice import KernelStore, loaded_kernels
from stix_assets.demo.simulator import SimConfig
from stix_assets.demo_runner import DEMO_START, DemoResult
from stix_assets_tests.demo_copies import copy_demo_run

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
QUIET_DAY, FLARE_DAY = date(2024, 5, 14), date(2024, 5, 15)
_MK = """KPL/MK
\\begindata
PATH_VALUES = ( '..' )
PATH_SYMBOLS = ( 'KERNELS' )
KERNELS_TO_LOAD = ( '$KERNELS/lsk/{lsk}' '$KERNELS/sclk/{sclk}' )
\\begintext
"""


def time_only_kernels(demo_kernels: Path, target: Path) -> Path:
    """A kernel store with the demo's LSK and SCLK only (no SPK: ephemeris gives SPICE_ER)."""
    for sub in ("lsk", "sclk"):
        shutil.copytree(demo_kernels / sub, target / sub)
    (target / "mk").mkdir()
    lsk = next((target / "lsk").iterdir()).name
    sclk = next((target / "sclk").iterdir()).name
    (target / "mk" / "solo_ANC_soc-flown-mk_V01_20240515_001.tm").write_text(
        _MK.format(lsk=lsk, sclk=sclk)
    )
    return target


def make_demo_l1(demo: DemoResult, folder: Path) -> DemoResult:
    """Copy a processed demo into ``folder`` and write the L1 files of its two days there."""
    copied = copy_demo_run(demo, folder)
    root = copied.root
    kernels = time_only_kernels(root.spice_kernels, folder / "time_kernels")
    l0 = sorted((root.archive / "L0").rglob("*.fits"))
    store = IdbStore(root.idb_root)
    with loaded_kernels(KernelStore(kernels)) as loaded:
        for day in (QUIET_DAY, FLARE_DAY):
            built = build_l1_day(l0, day, store, loaded, root.conf_dir)
            write_l1(built.products, root.archive, created=CREATED, software_version="test")
    return copied


@pytest.fixture(scope="module")
def demo(demo_l1):
    return demo_l1.root  # read only


def _lc(root, day: date) -> Path:
    folder = root.archive / "L1" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / "QL"
    return next(folder.glob("solo_L1_stix-ql-lightcurve_*.fits"))


def _simulated_peak() -> datetime:
    seconds = SimConfig(start=DEMO_START, days=2).flare_peak_s
    return datetime(2024, 5, 14, tzinfo=UTC) + np.timedelta64(int(seconds), "s").item()


def test_flare_day_has_one_flare_at_the_simulated_peak(demo):
    flares = detect_flares(read_lightcurve(_lc(demo, FLARE_DAY)))
    assert len(flares) == 1
    flare = flares[0]
    peak = _simulated_peak()
    assert abs((flare.peak - peak).total_seconds()) <= 60
    # Gaussian rise (sigma 5 min) and exponential decay (40 min) from 1.5e5 ct/s to ~60 ct/s
    assert 0 < (peak - flare.start).total_seconds() <= 40 * 60
    assert 2 * 3600 <= (flare.end - peak).total_seconds() <= 7 * 3600
    assert flare.att_in  # the attenuator was inserted
    assert flare.peak_counts > 100 * flare.background_counts


def test_quiet_day_has_no_flare(demo):
    assert detect_flares(read_lightcurve(_lc(demo, QUIET_DAY))) == []


def test_two_days_joined_give_the_same_flare(demo):
    curve = LightCurve.concat([read_lightcurve(_lc(demo, d)) for d in (QUIET_DAY, FLARE_DAY)])
    flares = detect_flares(curve)
    assert len(flares) == 1
    assert abs((flares[0].peak - _simulated_peak()).total_seconds()) <= 60


def test_close_peaks_merge_and_short_spikes_are_dropped():
    t = np.arange(0, 6 * 3600, 4.0)
    rng = np.random.default_rng(1)
    rate = np.full(t.shape, 100.0)
    for peak in (3 * 3600, 3 * 3600 + 240):  # two peaks 4 min apart: one flare
        rate += 5000 * np.exp(-0.5 * ((t - peak) / 60.0) ** 2)
    rate += 20000 * np.exp(-0.5 * ((t - 5 * 3600) / 4.0) ** 2)  # 10 s spike: too short
    counts = rng.poisson(rate * 4.0).astype(np.float64)
    curve = LightCurve(
        time=np.datetime64("2024-01-01T00:00:00", "us") + (t * 1e6).astype("timedelta64[us]"),
        timedel_s=np.full(t.shape, 4.0),
        low=counts,
        next_band=counts / 10,
        rcr=np.zeros(t.shape, np.int64),
        files=("synthetic",),
    )
    flares = detect_flares(curve)
    assert len(flares) == 1
    assert flares[0].start.hour == 2
    assert flares[0].end.hour == 3
    # without the spike filter the 10 s spike is a flare of its own
    assert len(detect_flares(curve, FlareDetectionConfig(min_duration_s=0.0))) == 2


def test_flarelist_file(demo, tmp_path):
    files = [_lc(demo, d) for d in (QUIET_DAY, FLARE_DAY)]
    curve = LightCurve.concat([read_lightcurve(f) for f in files])
    flares = detect_flares(curve)
    end = datetime(2024, 5, 15, 23, 59, 58, tzinfo=UTC)
    result = write_flarelist(
        flares, FLARE_DAY, end, tmp_path, inputs=[f.name for f in files],
        created=CREATED, software_version="test",
    )  # fmt: skip
    name = "solo_L3_stix-flarelist-sdc_20240501T000000-20240515T235958_V02.fits"
    assert name == flarelist_file_name(date(2024, 5, 1), end)
    assert result.path == tmp_path / "L3/2024/05/01/FLARELIST" / name
    with fits.open(result.path, checksum=True) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "DATA"]
        assert hdul[0].header["LEVEL"] == "L3"
        assert hdul[0].header["NFLARES"] == 1
        row = hdul["DATA"].data[0]
        assert row["peak_utc"].startswith("2024-05-15T02:")
        assert row["att_in"]
    again = write_flarelist(
        flares, FLARE_DAY, end, tmp_path, inputs=[f.name for f in files],
        created=CREATED, software_version="test",
    )  # fmt: skip
    assert again.sha256 == result.sha256  # deterministic
