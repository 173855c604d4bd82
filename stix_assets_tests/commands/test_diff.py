"""``stix-assets diff``: exit status, --json and the archive form (--product/--day/--versions)."""

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from astropy.io import fits

from stix_assets.cli import main
from stix_assets.core.catalog import Catalog, ProductFileRecord

pytestmark = pytest.mark.realdata

_L1_LC = "L1/pkttmraw/2020/11/22/QL/solo_L1_stix-ql-lightcurve_20201122_V02U.fits"
_DAY = dt.date(2020, 11, 22)


@pytest.fixture
def archive(reference_root: Path, tmp_path: Path) -> Path:
    """An archive with versions 2 and 3 of one L1 file (V03: one count changed, other TM)."""
    root = tmp_path / "archive"
    folder = root / "L1/2020/11/22/QL"
    folder.mkdir(parents=True)
    v2 = Path(shutil.copy(reference_root / _L1_LC, folder / _L1_LC.rsplit("/", 1)[1]))
    v3 = folder / v2.name.replace("_V02U", "_V03U")
    with fits.open(v2) as hdul:
        hdul["DATA"].data["counts"][5, 2] += 3
        hdul.writeto(v3)
    catalog = Catalog(root / "stix_catalog.duckdb")
    catalog.record_products(
        [
            ProductFileRecord(
                path=p,
                level="L1",
                product="ql_lightcurve",
                partition_day=_DAY,
                version=v,
                sha256=f"sha{v}",
                written_at=dt.datetime(2026, 1, v, tzinfo=dt.UTC),
                inputs=(f"solo_L0_stix-ql-lightcurve_0659318400_V0{v}.fits",),
            )
            for v, p in ((2, v2), (3, v3))
        ]
    )
    return root


def test_equal_files_exit_0(reference_root, capsys):
    f = str(reference_root / _L1_LC)
    assert main(["diff", f, f]) == 0
    assert capsys.readouterr().out.strip().endswith("equal")


def test_different_files_exit_1_json(reference_root, capsys):
    a = reference_root / _L1_LC
    b = reference_root / _L1_LC.replace("pkttmraw", "hexpackets")
    assert main(["diff", str(a), str(b), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["equal"] is False
    assert out["keywords_changed"][0]["keyword"] == "RAW_FILE"
    assert out["lineage"]["raw_files"] == {"a": "PktTmRaw.xml", "b": "solo_hexpackets_PktTmRaw.xml"}


def test_archive_versions(archive, capsys):
    args = ["diff", "--archive", str(archive), "--product", "l1/ql_lightcurve"]
    args += ["--day", "2020-11-22", "--versions", "2", "3", "--json"]
    assert main(args) == 1
    out = json.loads(capsys.readouterr().out)
    assert Path(out["a"]).name.endswith("_V02U.fits")
    assert Path(out["b"]).name.endswith("_V03U.fits")
    (col,) = out["columns_changed"]
    assert (col["column"], col["n_values_differ"], col["largest"][0]["row"]) == ("counts", 1, 5)
    assert out["lineage"]["inputs"]["b"] == ["solo_L0_stix-ql-lightcurve_0659318400_V03.fits"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["only-one.fits"], "exactly two files"),
        (["--product", "l1/ql_lightcurve"], "--archive with --product"),
        (["a.fits", "b.fits"], "not found"),
    ],
)
def test_usage_errors_exit_2(args, message, capsys):
    assert main(["diff", *args]) == 2
    assert message in capsys.readouterr().err


def test_unknown_version_exit_2(archive, capsys):
    args = ["diff", "--archive", str(archive), "--product", "l1/ql_lightcurve"]
    assert main([*args, "--day", "2020-11-22", "--versions", "2", "4"]) == 2
    assert "0 files of l1/ql_lightcurve on 2020-11-22 with version 4" in capsys.readouterr().err
