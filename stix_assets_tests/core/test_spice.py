"""Kernel store, meta-kernel twins, zip extraction, loading and coverage, on kernels made here.

`make_kernel_tree` writes a tiny SOC-style kernel tree: a leap-second kernel, a type-1 SCLK with a
made-up two-rate correlation, SPKs for a made-up circular SOLO orbit (flown: 2020-01-01..2020-06-30;
predicted: 2020-06-01..2021-06-30) plus Earth and Sun, an attitude CK for 2020-03-01..03-03, and a
flown and a predicted meta-kernel with the relative ``PATH_VALUES = ( '..' )`` of SOC kernels.
"""

import re
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import spiceypy
from astropy.time import Time

from stix_assets.core.ephemeris import (
    EPHEMERIS_KEYWORDS,
    coverage,
    coverage_by_day,
    ephemeris_header,
)
from stix_assets.core.spice import (
    KernelStore,
    SpiceKernelError,
    absolute_meta_kernel,
    kernel_set_name,
    latest_meta_kernels,
    loaded_kernels,
    meta_kernel_date,
    unzip_kernel_zips,
)

LEAP_SECONDS = [
    "1972-JAN-1", "1972-JUL-1", "1973-JAN-1", "1974-JAN-1", "1975-JAN-1", "1976-JAN-1",
    "1977-JAN-1", "1978-JAN-1", "1979-JAN-1", "1980-JAN-1", "1981-JUL-1", "1982-JUL-1",
    "1983-JUL-1", "1985-JUL-1", "1988-JAN-1", "1990-JAN-1", "1991-JAN-1", "1992-JUL-1",
    "1993-JUL-1", "1994-JUL-1", "1996-JAN-1", "1997-JUL-1", "1999-JAN-1", "2006-JAN-1",
    "2009-JAN-1", "2012-JUL-1", "2015-JUL-1", "2017-JAN-1",
]  # fmt: skip

# SCET 0 = 2000-01-01T00:00 UTC = TDT -43135.816 s from J2000; rate 1 until coarse 5e8, then a
# drift of 1e-5 until coarse 6e8, then 1 + 2e-6 (the last record; later times are extrapolated)
SCLK_RECORDS = [
    (0.0, -43135.816, 1.0),
    (5e8 * 65536, 5e8 - 43135.816, 1.00001),
    (6e8 * 65536, 6e8 + 1e8 * 1.00001 - 43135.816 - 1e8, 1.000002),
]
LAST_CORRELATION_COARSE = 600_000_000


def _write_lsk(path: Path) -> None:
    entries = "\n".join(f"    {10 + i}, @{d}" for i, d in enumerate(LEAP_SECONDS))
    path.write_text(
        "KPL/LSK\n\\begindata\n"
        "DELTET/DELTA_T_A = 32.184\nDELTET/K = 1.657D-3\nDELTET/EB = 1.671D-2\n"
        "DELTET/M = ( 6.239996D0 1.99096871D-7 )\n"
        f"DELTET/DELTA_AT = (\n{entries} )\n\\begintext\n"
    )


def _write_sclk(path: Path) -> None:
    rows = "\n".join(f"    {t:.13E} {p:.13E} {r:.13E}" for t, p, r in SCLK_RECORDS)
    path.write_text(
        "KPL/SCLK\n\\begindata\n"
        "SCLK_KERNEL_ID = ( @2020-01-01/00:00:00 )\n"
        "SCLK_DATA_TYPE_144 = ( 1 )\nSCLK01_TIME_SYSTEM_144 = ( 2 )\n"
        "SCLK01_N_FIELDS_144 = ( 2 )\nSCLK01_MODULI_144 = ( 4294967296 65536 )\n"
        "SCLK01_OFFSETS_144 = ( 0 0 )\nSCLK01_OUTPUT_DELIM_144 = ( 2 )\n"
        "SCLK_PARTITION_START_144 = ( 0.0 )\nSCLK_PARTITION_END_144 = ( 2.8147497671065E+14 )\n"
        f"SCLK01_COEFFICIENTS_144 = (\n{rows} )\n\\begintext\n"
    )


def _circle(ets: np.ndarray, radius_km: float, period_s: float) -> np.ndarray:
    w = 2 * np.pi / period_s
    return np.column_stack(
        [
            radius_km * np.cos(w * ets),
            radius_km * np.sin(w * ets),
            np.zeros_like(ets),
            -radius_km * w * np.sin(w * ets),
            radius_km * w * np.cos(w * ets),
            np.zeros_like(ets),
        ]
    )


def _write_spk(path: Path, first: str, last: str, *, planets: bool) -> None:
    ets = np.arange(spiceypy.str2et(first), spiceypy.str2et(last) + 1, 86400.0)
    handle = spiceypy.spkopn(str(path), "test", 0)
    segments = [(-144, 10, _circle(ets, 1.2e8, 2.6e7))]
    if planets:
        segments += [(399, 10, _circle(ets, 1.496e8, 3.156e7)), (10, 0, np.zeros((len(ets), 6)))]
    for body, centre, states in segments:
        spiceypy.spkw09(
            handle, body, centre, "J2000", ets[0], ets[-1], "t", 3, len(ets), states, ets
        )
    spiceypy.spkcls(handle)


def _write_ck(path: Path, first: str, last: str) -> None:
    ticks = np.array([spiceypy.sce2c(-144, spiceypy.str2et(t)) for t in (first, last)])
    handle = spiceypy.ckopn(str(path), "test", 0)
    quats = np.array([[1.0, 0, 0, 0], [1.0, 0, 0, 0]])
    spiceypy.ckw03(
        handle, ticks[0], ticks[1], -144000, "J2000", False, "att", 2, ticks, quats,
        np.zeros((2, 3)), 1, ticks[:1],
    )  # fmt: skip
    spiceypy.ckcls(handle)


def _write_mk(path: Path, kernels: list[str]) -> None:
    listed = "\n".join(f"    '$KERNELS/{k}'" for k in kernels)
    path.write_text(
        "KPL/MK\n\\begindata\n"
        "PATH_VALUES       = ( '..' )\nPATH_SYMBOLS      = ( 'KERNELS' )\n"
        f"KERNELS_TO_LOAD   = (\n{listed}\n)\n\\begintext\n"
    )


def make_kernel_tree(root: Path) -> Path:
    """Write the test kernel tree under ``root`` and return ``root`` (see module docstring)."""
    for sub in ("ck", "fk", "ik", "lsk", "mk", "pck", "sclk", "spk"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    _write_lsk(root / "lsk" / "test.tls")
    _write_sclk(root / "sclk" / "solo_ANC_soc-sclk_test.tsc")
    spiceypy.kclear()
    try:
        spiceypy.furnsh(str(root / "lsk" / "test.tls"))
        spiceypy.furnsh(str(root / "sclk" / "solo_ANC_soc-sclk_test.tsc"))
        _write_spk(root / "spk" / "flown.bsp", "2020-01-01", "2020-06-30", planets=True)
        _write_spk(root / "spk" / "pred.bsp", "2020-06-01", "2021-06-30", planets=False)
        _write_ck(root / "ck" / "att.bc", "2020-03-01T00:00", "2020-03-03T12:00")
    finally:
        spiceypy.kclear()
    common = ["lsk/test.tls", "sclk/solo_ANC_soc-sclk_test.tsc"]
    _write_mk(root / "mk" / "solo_ANC_soc-pred-mk_V01_20200601_001.tm", [*common, "spk/pred.bsp"])
    _write_mk(
        root / "mk" / "solo_ANC_soc-flown-mk_V01_20200630_001.tm",
        [*common, "spk/flown.bsp", "ck/att.bc"],
    )
    return root


@pytest.fixture(scope="module")
def kernel_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_kernel_tree(tmp_path_factory.mktemp("kernels"))


# --- meta-kernel names ------------------------------------------------------------------------


def test_meta_kernel_date():
    assert meta_kernel_date("solo_ANC_soc-pred-mk_V106_20201116_001.tm") == date(2020, 11, 16)
    assert meta_kernel_date("solo_ANC_soc-flown-mk_V105.tm") is None
    assert meta_kernel_date("solo_ANC_soc-flown-mk_V1_20201399_001.tm") is None  # no 13th month


def test_latest_meta_kernels_is_case_insensitive_greatest(tmp_path: Path):
    (tmp_path / "mk").mkdir()
    for name in (
        "solo_ANC_soc-flown-mk_V105_20200515_001.tm",
        "solo_ANC_soc-flown-mk_v106_20200601_001.tm",  # lower-case v sorts after V unless folded
        "SOLO_ANC_SOC-FLOWN-MK_V107_20200701_001.TM",
        "solo_ANC_soc-pred-mk_V106_20201116_001.tm",
        "solo_ANC_soc-flown-mk_V199_20300101_001.tm.abs",  # STIXCore twin: not a meta-kernel
    ):
        (tmp_path / "mk" / name).write_text("")
    flown, pred = latest_meta_kernels(tmp_path)
    assert flown.name == "SOLO_ANC_SOC-FLOWN-MK_V107_20200701_001.TM"
    assert (flown.kind, flown.mk_date) == ("flown", date(2020, 7, 1))
    assert (pred.name, pred.kind) == ("solo_ANC_soc-pred-mk_V106_20201116_001.tm", "predicted")
    assert latest_meta_kernels(tmp_path / "nothing") == (None, None)


# --- absolute meta-kernel twins --------------------------------------------------------------


def test_absolute_meta_kernel_wraps_long_roots(kernel_tree: Path, tmp_path: Path):
    deep = tmp_path.joinpath(*(["a_rather_long_folder_name_for_wrapping"] * 3), "kernels")
    deep.mkdir(parents=True)
    for sub in ("lsk", "sclk", "mk", "spk", "ck"):
        (deep / sub).symlink_to(kernel_tree / sub)
    mk = deep / "mk" / "solo_ANC_soc-flown-mk_V01_20200630_001.tm"
    twin = absolute_meta_kernel(mk, tmp_path)
    assert twin.parent == tmp_path
    assert twin.name == mk.name
    text = twin.read_text()
    assert 156 < len(str(deep)) <= 215  # three pieces; SPICE allows 255 with the file name
    assert "'..'" not in text
    assert max(len(line) for line in text.splitlines()) <= 132  # SPICE text kernel line limit
    assert max(len(v) for v in re.findall(r"'([^']*)'", text)) <= 79  # 78 + '+' (limit 80)
    pieces = re.findall(r"'([^']*)'", text.split("PATH_VALUES")[1].split(")")[0])
    assert len(pieces) == 3
    assert all(p.endswith("+") for p in pieces[:-1])
    assert "".join(p.rstrip("+") for p in pieces) == str(deep)
    spiceypy.kclear()
    try:
        spiceypy.furnsh(str(twin.parent / "../" / twin.parent.name / twin.name))
        assert spiceypy.ktotal("TEXT") == 2  # the wrapped path resolved: LSK and SCLK loaded
    finally:
        spiceypy.kclear()


def test_absolute_meta_kernel_refuses_roots_spice_cannot_use(tmp_path: Path):
    deep = tmp_path.joinpath(*(["x" * 60] * 5), "mk")
    deep.mkdir(parents=True)
    (deep / "solo_ANC_soc-flown-mk_V01_20200630_001.tm").write_text("PATH_VALUES = ( '..' )")
    with pytest.raises(SpiceKernelError, match="255"):
        absolute_meta_kernel(deep / "solo_ANC_soc-flown-mk_V01_20200630_001.tm", tmp_path)


def test_absolute_meta_kernel_without_path_values(tmp_path: Path):
    mk = tmp_path / "mk.tm"
    mk.write_text("KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'a.tls' )\n\\begintext\n")
    with pytest.raises(SpiceKernelError, match="PATH_VALUES"):
        absolute_meta_kernel(mk, tmp_path)


# --- zips ------------------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_unzip_kernel_zips_extracts_each_zip_once(tmp_path: Path):
    root = tmp_path / "kernels"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = _zip(
        inbox / "solo_ANC_soc-sclk_20201201.zip",
        {"kernels/sclk/a.tsc": b"one", "kernels/mk/b.tm": b"two", "kernels/mk/": b""},
    )
    other = _zip(inbox / "notes.zip", {"x.txt": b"ignored"})
    written = unzip_kernel_zips([good, other], root)
    assert sorted(p.relative_to(root).as_posix() for p in written) == ["mk/b.tm", "sclk/a.tsc"]
    assert (root / "sclk" / "a.tsc").read_bytes() == b"one"
    (root / "sclk" / "a.tsc").write_bytes(b"edited")
    assert unzip_kernel_zips([good], root) == []  # already extracted: not again
    assert (root / "sclk" / "a.tsc").read_bytes() == b"edited"
    assert not list(root.glob(".unzip-*"))


def test_corrupt_zip_names_itself_and_leaves_nothing(tmp_path: Path):
    root = tmp_path / "kernels"
    data = bytearray(
        _zip(
            tmp_path / "z.zip", {"kernels/spk/a.bsp": b"A" * 1000, "kernels/spk/b.bsp": b"B"}
        ).read_bytes()
    )
    data[data.index(b"A" * 100) + 10] ^= 0xFF  # flip a byte inside the first member
    bad = tmp_path / "solo_ANC_soc-orbit_20201201.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(SpiceKernelError, match=r"corrupt member .*path=.*orbit_20201201\.zip"):
        unzip_kernel_zips([bad], root)
    assert sorted(p.name for p in root.rglob("*")) == []  # no kernel, no ledger, no scratch

    junk = tmp_path / "solo_ANC_soc-fk_20201201.zip"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(SpiceKernelError, match=r"soc-fk_20201201\.zip"):
        unzip_kernel_zips([junk], root)


def test_zip_member_escaping_the_root_is_refused(tmp_path: Path):
    bad = _zip(tmp_path / "solo_ANC_soc-evil_20201201.zip", {"../../etc/x": b"no"})
    with pytest.raises(SpiceKernelError, match="escapes"):
        unzip_kernel_zips([bad], tmp_path / "kernels")
    assert not (tmp_path / "etc").exists()


# --- loading ---------------------------------------------------------------------------------


def test_loaded_kernels_order_and_cleanup(kernel_tree: Path):
    with loaded_kernels(KernelStore(kernel_tree)) as kernels:
        assert [mk.kind for mk in kernels.meta_kernels] == ["predicted", "flown"]
        assert kernels.spice_mk == (
            "solo_ANC_soc-pred-mk_V01_20200601_001.tm, solo_ANC_soc-flown-mk_V01_20200630_001.tm"
        )
        assert kernels.data_version == kernels.spice_mk
        assert kernels.flown_mk_date == date(2020, 6, 30)
        assert kernels.is_active()
        assert spiceypy.ktotal("SPK") == 2
        with pytest.raises(SpiceKernelError, match="already loaded"):
            with loaded_kernels(KernelStore(kernel_tree)):
                pass
        assert kernels.is_active()  # the refused nested load did not clear the pool
    assert spiceypy.ktotal("ALL") == 0
    assert not kernels.is_active()


def test_flown_only_and_explicit_meta_kernels(kernel_tree: Path):
    store = KernelStore(kernel_tree)
    with loaded_kernels(store, flown_only=True) as kernels:
        assert [mk.kind for mk in kernels.meta_kernels] == ["flown"]
    pred = kernel_tree / "mk" / "solo_ANC_soc-pred-mk_V01_20200601_001.tm"
    with loaded_kernels(store, meta_kernels=[pred]) as kernels:
        assert kernels.spice_mk == pred.name
        assert kernels.flown_mk_date is None


def test_missing_meta_kernel_and_sclk(tmp_path: Path, kernel_tree: Path):
    with pytest.raises(SpiceKernelError, match="no meta-kernel"):
        with loaded_kernels(KernelStore(tmp_path)):
            pass
    (tmp_path / "mk").mkdir()
    (tmp_path / "lsk").symlink_to(kernel_tree / "lsk")
    _write_mk(tmp_path / "mk" / "solo_ANC_soc-flown-mk_V01_20200630_001.tm", ["lsk/test.tls"])
    with pytest.raises(SpiceKernelError, match="SCLK"):
        with loaded_kernels(KernelStore(tmp_path)):
            pass
    assert spiceypy.ktotal("ALL") == 0


# --- coverage and ephemeris gaps -------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc_day", "sclk_valid", "before_flown_mk", "orbit", "attitude"),
    [
        (date(2019, 1, 3), True, True, None, False),  # before every orbit kernel
        (date(2019, 1, 4), True, True, None, False),  # last SCLK record is 2019-01-04T23:58:50 UTC
        (date(2019, 1, 5), False, True, None, False),  # SCLK extrapolated from here on
        (date(2020, 3, 2), False, True, "flown", True),  # CK covers 03-01 00:00 .. 03-03 12:00
        (date(2020, 3, 3), False, True, "flown", False),  # CK ends at noon
        (date(2020, 6, 15), False, True, "flown", False),  # both SPKs: flown wins
        (date(2020, 7, 1), False, False, "predicted", False),  # only the predicted SPK
        (date(2021, 7, 1), False, False, None, False),  # after every orbit kernel
    ],
)
def test_coverage(kernel_tree, utc_day, sclk_valid, before_flown_mk, orbit, attitude):
    with loaded_kernels(KernelStore(kernel_tree)) as kernels:
        pass
    cover = coverage(kernels, utc_day)  # plain data: usable after unloading
    assert (cover.sclk_valid, cover.before_flown_mk, cover.orbit, cover.attitude) == (
        sclk_valid,
        before_flown_mk,
        orbit,
        attitude,
    )
    assert cover.is_final is False
    assert cover.as_metadata()["utc_day"] == utc_day.isoformat()


def test_coverage_by_day_equals_coverage_per_day(kernel_tree):
    days = [date(2019, 1, 3), date(2019, 1, 4), date(2019, 1, 5), date(2020, 3, 2),
            date(2020, 3, 3), date(2020, 6, 15), date(2020, 7, 1), date(2021, 7, 1)]  # fmt: skip
    with loaded_kernels(KernelStore(kernel_tree)) as kernels:
        pass
    by_day = coverage_by_day(kernels, [*days, days[0]])  # a repeated day is computed once
    assert list(by_day) == days
    assert by_day == {d: coverage(kernels, d) for d in days}
    assert coverage_by_day(kernels, []) == {}


def test_kernel_set_name_is_what_loading_reports_without_loading(kernel_tree, tmp_path):
    with loaded_kernels(KernelStore(kernel_tree)) as kernels:
        pass
    assert kernel_set_name(KernelStore(kernel_tree)) == kernels.spice_mk
    flown, _ = latest_meta_kernels(kernel_tree)
    assert kernel_set_name(KernelStore(kernel_tree), flown_only=True) == flown.name
    assert kernel_set_name(KernelStore(tmp_path)) is None  # no mk/ folder


def test_ephemeris_gap_gives_spice_er_and_empty_values(kernel_tree: Path):
    with loaded_kernels(KernelStore(kernel_tree)) as kernels:
        # the predicted SPK covers SOLO but not Earth and Sun in 2021: no partial header
        header = ephemeris_header(Time("2021-01-10T12:00:00"), kernels)
    assert header["SPICE_MK"] == kernels.spice_mk
    assert header["SPICE_ER"] == "1"
    assert list(header)[2:] == list(EPHEMERIS_KEYWORDS)
    assert all(header[k] == "" for k in EPHEMERIS_KEYWORDS)


def test_ephemeris_error_at_covered_time_is_raised(kernel_tree: Path):
    with loaded_kernels(KernelStore(kernel_tree)) as kernels:
        # covered, but the test tree has no frame kernel (SOLO_HEE...): a broken kernel set
        with pytest.raises(SpiceKernelError, match="covered time"):
            ephemeris_header(Time("2020-03-02T12:00:00"), kernels)
    with pytest.raises(SpiceKernelError, match="not loaded"):
        ephemeris_header(Time("2020-03-02T12:00:00"), kernels)
