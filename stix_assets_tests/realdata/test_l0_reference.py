"""QL and cal-energy L0 files against STIXCore's reference products (acceptance check, L0 part).

Each reference input is taken TM -> LB (`index_tm_file`, `write_lb`) -> L0 (`build_l0_day` for
every SCET day touched, `write_l0`) in ``tmp_path`` and every QL/cal L0 file is compared with
``reference/stixcore/L0/<dataset>/``: same relative path and name, every column of every HDU
(values: numbers within 1e-6 relative, ``time``/``timedel`` within 1 ms; FITS format, TZERO,
TDIM, unit) and the primary keywords, apart from the documented ones; every column again as
astropy's HDU data and ``Table.read`` see it (names, kinds, shapes, values with the same
tolerances; `stix_assets_tests.realdata.astropy_reading`).

Documented differences (docs/decisions.md):

* ``_SOFTWARE_KEYWORDS``: who wrote the file and when (CREATOR, VERS_SW, VERS_CFG, DATE,
  checksums, HISTORY/COMMENT text incl. astropy's serialized-column comments).
* string column widths (``raw_file``, ``parent``): STIXCore pads to the widest value of its
  table before the day split, we to the widest in the file; the values are equal.
* ``_NO_L0``: the ``hexpackets`` cal-energy LB file holds only the last segment of a calibration
  spectrum. STIXCore raised IndexError in its rebinning and wrote nothing; we write nothing either
  and report the packet with the reason (points do not match the sub-spectrum channels).
* ENERGIES: the reference used STIX-CONF v0.1.5, the kit a newer STIX-CONF. All reference data
  are from 2019-2020, inside the first ``science_echan_index.csv`` period
  (``ScienceEnergyChannels_1000.csv``, the same channel table as in v0.1.5), so the ENERGIES
  tables are equal; the newer periods (2023) only matter for later data.
"""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products.l0 import build_l0_day
from stix_assets.core.products.l0_writer import write_l0
from stix_assets.core.products.lb import write_lb
from stix_assets_tests.realdata.astropy_reading import astropy_differences
from stix_assets_tests.schema_check import assert_conform

pytestmark = pytest.mark.realdata

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
QL_KEYS = {
    "ql_lightcurve",
    "ql_background",
    "ql_spectra",
    "ql_variance",
    "ql_flareflag",
    "ql_tmstatusflarelist",
    "cal_energy",
}
_SOFTWARE_KEYWORDS = {
    "DATE", "CHECKSUM", "DATASUM", "CREATOR", "VERS_SW", "VERS_CFG", "HISTORY", "COMMENT",
}  # fmt: skip
_NO_L0 = {("hexpackets", "solo_LB_stix-21-6-41_0659318400_V02.fits")}
_QL_DIRS = ("21/6/30", "21/6/31", "21/6/32", "21/6/33", "21/6/34", "21/6/41", "21/6/43")

DATASETS = [
    # one QL light-curve packet (last segment) next to HK and BSD fragments
    ("PktTmRaw.xml", "pkttmraw"),
    # single packets of every QL kind, incl. a lone cal-energy segment STIXCore could not build
    ("solo_hexpackets_PktTmRaw.xml", "hexpackets"),
    # two packets of every QL kind and four cal-energy packets of 2019-11-27
    ("PktTmRaw.moc_test-20191127.xml", "moc_test"),
]


def _reference_files(root: Path) -> dict[str, Path]:
    out = {}
    for sub in _QL_DIRS:
        for p in sorted((root / sub).glob("*.fits*")):
            out[str(p.relative_to(root)).removesuffix(".gz")] = p
    return out


@pytest.fixture(scope="module", params=DATASETS, ids=[d for _, d in DATASETS])
def produced(request, testdata: Path, tmp_path_factory) -> tuple[str, Path, list, list]:
    tm_name, dataset = request.param
    store = IdbStore(testdata / "idb")
    root = tmp_path_factory.mktemp(dataset)
    index = index_tm_file(testdata / "reference/stixcore/input" / tm_name, store)
    lb = write_lb(index, root, created=CREATED, software_version="test")
    lb_files = [r.path for r in lb if r.product_key in QL_KEYS]
    days = sorted({d for k, ds in index.days_by_product.items() if k in QL_KEYS for d in ds})
    results, issues = [], []
    for day in days:
        built = build_l0_day(lb_files, day, store, testdata / "conf", products=QL_KEYS)
        issues.extend(built.issues)
        results.extend(write_l0(built.products, root, created=CREATED, software_version="test"))
    assert_conform(r.path for r in results)
    return dataset, root, results, issues


def test_same_files(produced, reference_root: Path):
    dataset, root, results, _ = produced
    ours = sorted(str(r.path.relative_to(root / "L0")) for r in results)
    ref = sorted(_reference_files(reference_root / "L0" / dataset))
    assert ours == ref


def test_issues_are_the_documented_ones(produced):
    dataset, _, _, issues = produced
    assert {(dataset, i.file) for i in issues} <= _NO_L0
    assert all("points" in i.reason for i in issues)


def _compare_columns(name: str, ours: fits.BinTableHDU, ref: fits.BinTableHDU) -> list[str]:
    problems = []
    if [c.name for c in ours.columns] != [c.name for c in ref.columns]:
        return [f"{name} columns {ours.columns.names} != {ref.columns.names}"]
    for rc in ref.columns:
        oc = ours.columns[rc.name]
        if not rc.format.endswith("A"):
            ours_fmt = (oc.format, oc.bzero, oc.dim, (oc.unit or "").strip())
            ref_fmt = (rc.format, rc.bzero, rc.dim, (rc.unit or "").strip())
            if ours_fmt != ref_fmt:
                problems.append(f"{name}.{rc.name} format {ours_fmt} != {ref_fmt}")
        x, y = np.asarray(ours.data[rc.name]), np.asarray(ref.data[rc.name])
        if x.shape != y.shape:
            problems.append(f"{name}.{rc.name} shape {x.shape} != {y.shape}")
        elif x.dtype.kind in "fiub":
            if rc.name in ("time", "timedel"):
                ok = np.all(np.abs(x.astype(float) - y.astype(float)) <= 0.1)  # cs: 1 ms
            else:
                ok = np.allclose(
                    x.astype(float), y.astype(float), rtol=1e-6, atol=0, equal_nan=True
                )
            if not ok:
                problems.append(f"{name}.{rc.name} values differ")
        elif not np.array_equal(np.char.rstrip(x.astype(str)), np.char.rstrip(y.astype(str))):
            problems.append(f"{name}.{rc.name} strings differ")
    return problems


def test_every_hdu_column_and_keyword(produced, reference_root: Path):
    dataset, root, results, _ = produced
    refs = _reference_files(reference_root / "L0" / dataset)
    problems: list[str] = []
    for res in results:
        rel = str(res.path.relative_to(root / "L0"))
        with fits.open(res.path) as ours, fits.open(refs[rel]) as ref:
            assert [h.name for h in ours] == [h.name for h in ref]
            for key in ref[0].header:
                if key in _SOFTWARE_KEYWORDS:
                    continue
                if ours[0].header.get(key) != ref[0].header[key]:
                    problems.append(
                        f"{rel} {key}: {ours[0].header.get(key)!r} != {ref[0].header[key]!r}"
                    )
            for hdu in ref[1:]:
                problems.extend(_compare_columns(f"{rel}:{hdu.name}", ours[hdu.name], hdu))
    assert problems == []


def test_every_column_reads_alike_in_astropy(produced, reference_root: Path):
    dataset, root, results, _ = produced
    refs = _reference_files(reference_root / "L0" / dataset)
    problems: list[str] = []
    for res in results:
        ref = refs[str(res.path.relative_to(root / "L0"))]
        problems.extend(astropy_differences(res.path, ref, rtol=1e-6, time_atol=0.1))
    assert problems == []
