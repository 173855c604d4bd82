"""Our L1 files open in the community tools (stixpy 0.2.1 + sunpy) and look like stixpy's test data.

Skipped only when stixpy is not importable (it is in the ``test`` extra; CI installs it).

* `sunpy.timeseries.TimeSeries` (stixpy registers its sources on import) reads our L1
  ``ql-lightcurve``, ``ql-background``, ``ql-variance`` and ``hk-maxi`` files;
* `stixpy.product.Product` opens our L1 ``sci-xray-spec`` files as a ``Spectrogram``;
* product by product, the HDUs, column names, units and primary keywords of our files are
  compared with the real STIXCore products stixpy ships in its wheel
  (``stixpy/data/test_data.tar.gz``, L1 V01 files of 2020-05-06, extracted into ``tmp_path``).
  Every remaining difference is listed in `EXPECTED_DIFFERENCES` with its reason; the test fails
  on any other difference, and on a listed one that has gone.

stixpy has no TimeSeries class for QL spectra and flare flag, and its test data hold no
``sci-xray-cpd``/``rpd``/``scpd`` file of ours (the reference inputs have no complete request of
those kinds), so those are compared only where both exist.
"""

import tarfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets_tests.realdata.test_l1_reference import run_tm_to_l1

stixpy = pytest.importorskip("stixpy", reason="stixpy (test extra) is not installed")

pytestmark = pytest.mark.realdata

INPUTS = ("solo_hexpackets_PktTmRaw.xml", "PktTmRaw.moc_test-20191127.xml", "PktTmRaw.xml")

_RENAMED_ERR = "STIXCore renamed *_err to *_comp_err after stixpy's V01 test files (2020)"
_OURS_EXTRA_KEYS = {
    "BLANK", "SCI_RID", "SCI_TCC", "VERS_CFG", "XPOMAX",
    "SCHEMAV",  # ours only: the format-contract version (docs/product-format.md)
}  # fmt: skip  # in current STIXCore files (the reference), not yet in stixpy's V01 files
EXPECTED_DIFFERENCES: dict[str, set[str]] = {
    # product -> differences as rendered by `_differences`, reason in the comment
    "ql-lightcurve": {
        "DATA columns only theirs ['triggers_err', 'counts_err']",  # _RENAMED_ERR
        "DATA columns only ours ['triggers_comp_err', 'counts_comp_err']",
    },
    "ql-background": {
        "DATA columns only theirs ['triggers_err', 'counts_err']",
        "DATA columns only ours ['triggers_comp_err', 'counts_comp_err']",
    },
    "ql-spectra": {
        "DATA columns only theirs ['spectra_err', 'triggers_err']",
        "DATA columns only ours ['spectra_comp_err', 'triggers_comp_err']",
    },
    "ql-variance": {
        "DATA columns only theirs ['variance_err']",
        "DATA columns only ours ['variance_comp_err']",
    },
    # flare_progress (NIXD0449) exists from IDB 2.26.34 on; stixpy's file predates it
    "ql-flareflag": {"DATA columns only ours ['flare_progress']"},
    "ql-tmstatusflarelist": set(),
    # IDB 2.26.34 gives cpu_load no unit; the older IDB of stixpy's file said 10**-2
    "hk-maxi": {"DATA unit cpu_load ours '' theirs '10**-2'"},
    "sci-xray-spec": {
        "CONTROL columns only theirs ['energy_bin_mask']",  # renamed in STIXCore since V01
        "CONTROL columns only ours ['energy_bin_edge_mask']",
        "DATA columns only theirs ['triggers_err', 'counts_err']",
        "DATA columns only ours ['triggers_comp_err', 'counts_comp_err']",
    },
    # cal-energy: STIXCore's V01 file (2020) predates the current layout (1024-channel rebinning,
    # quiet/live time and temperature columns) and had an ENERGIES HDU, which current STIXCore
    # (the reference, domain doc 3.4) and we no longer write; compared for HDUs and keywords only
    "cal-energy": {
        "HDUs ours ['PRIMARY', 'CONTROL', 'DATA', 'IDB_VERSIONS'] "
        "theirs ['PRIMARY', 'CONTROL', 'DATA', 'IDB_VERSIONS', 'ENERGIES']"
    },
}
_LAYOUT_ONLY = {"cal-energy"}


@pytest.fixture(scope="module")
def stixpy_files(tmp_path_factory) -> dict[str, Path]:
    """stixpy's shipped L1 test files by product name (``ql-lightcurve``...)."""
    tar = Path(stixpy.__file__).parent / "data" / "test_data.tar.gz"
    out = tmp_path_factory.mktemp("stixpy-data")
    with tarfile.open(tar) as archive:
        archive.extractall(out, filter="data")
    files = {}
    for p in sorted(out.rglob("solo_L1_*.fits")):
        if p.name.startswith("._"):
            continue
        name = p.name.split("_")[2].removeprefix("stix-").replace("ql-ql-", "ql-")
        files[name] = p
    return files


@pytest.fixture(scope="module")
def our_files(testdata: Path, tmp_path_factory) -> dict[str, list[Path]]:
    """Our L1 files of the reference inputs by product name."""
    files: dict[str, list[Path]] = {}
    for tm in INPUTS:
        root = tmp_path_factory.mktemp("l1-stixpy")
        results, _, _ = run_tm_to_l1(testdata / "reference/stixcore/input" / tm, root, testdata)
        for r in results:
            files.setdefault(r.path.name.split("_")[2].removeprefix("stix-"), []).append(r.path)
    return files


# stixpy 0.2.1 calls DataFrame.drop(inplace=True), deprecated in the installed pandas; not ours
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop is deprecated")
@pytest.mark.filterwarnings("ignore:Something went wrong. The inplace keyword")
@pytest.mark.parametrize("product", ["ql-lightcurve", "ql-background", "ql-variance", "hk-maxi"])
def test_timeseries_reads_our_files(our_files, product):
    import stixpy.timeseries  # noqa: F401  (registers the STIX sources with sunpy)
    from sunpy.timeseries import TimeSeries

    for path in our_files[product]:
        ts = TimeSeries(path)
        assert type(ts).__module__.startswith("stixpy.timeseries")
        n_rows = len(fits.getdata(path, "DATA"))
        assert len(ts.to_dataframe()) == n_rows
        if product == "ql-lightcurve":
            assert "4-10 keV" in ts.columns


# stixpy's read_qtable opens the file with fits.open and never closes it
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_product_opens_our_science_files(our_files):
    from stixpy.product import Product
    from stixpy.product.sources.science import Spectrogram

    paths = our_files["sci-xray-spec"]
    assert len(paths) == 2  # both requests of the hexpackets input
    for path in paths:
        prod = Product(path)
        assert isinstance(prod, Spectrogram)
        assert len(prod.data) == len(fits.getdata(path, "DATA"))
        assert prod.level == "L1"


def _differences(ours: fits.HDUList, theirs: fits.HDUList) -> set[str]:
    out = set()
    if [h.name for h in ours] != [h.name for h in theirs]:
        out.add(f"HDUs ours {[h.name for h in ours]} theirs {[h.name for h in theirs]}")
    only_theirs = sorted(set(theirs[0].header) - set(ours[0].header) - {"", "COMMENT"})
    if only_theirs:
        out.add(f"primary keywords only theirs {only_theirs}")
    for hdu in theirs[1:]:
        if hdu.name not in ours:
            continue
        mine = {c.name: (c.unit or "").strip() for c in ours[hdu.name].columns}
        them = {c.name: (c.unit or "").strip() for c in hdu.columns}
        missing = [c for c in them if c not in mine]
        extra = [c for c in mine if c not in them]
        if missing:
            out.add(f"{hdu.name} columns only theirs {missing}")
        if extra:
            out.add(f"{hdu.name} columns only ours {extra}")
        for name in them:
            if name in mine and mine[name] != them[name]:
                out.add(f"{hdu.name} unit {name} ours {mine[name]!r} theirs {them[name]!r}")
    return out


@pytest.mark.parametrize("product", sorted(EXPECTED_DIFFERENCES))
def test_same_layout_as_stixpy_test_data(our_files, stixpy_files, product):
    theirs_path = stixpy_files[product]
    for path in our_files[product]:
        with fits.open(path) as ours, fits.open(theirs_path) as theirs:
            found = _differences(ours, theirs)
            extra_keys = set(ours[0].header) - set(theirs[0].header) - {"", "COMMENT", "HISTORY"}
            assert extra_keys - {"DATAWARN", "TRIG_SCA", "SPICE_ER"} <= _OURS_EXTRA_KEYS
            if product in _LAYOUT_ONLY:
                found = {f for f in found if not f.startswith(("CONTROL", "DATA"))}
            assert found == EXPECTED_DIFFERENCES[product], path.name


def test_every_product_both_sides_is_compared(our_files, stixpy_files):
    both = set(our_files) & set(stixpy_files)
    assert both == set(EXPECTED_DIFFERENCES)
    assert np.all([len(our_files[p]) > 0 for p in both])
