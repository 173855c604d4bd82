"""The format contract: locked schema versions, the rendered document, and the file check."""

import json
import shutil
from pathlib import Path

import pytest
from astropy.io import fits

from stix_assets.schemas import FAMILIES, LOCK_FILE, load_schema, product_kind, schema_hash
from stix_assets.schemas.render import DOC_FILE, render
from stix_assets.schemas.structure import validate_file


@pytest.mark.parametrize("family", FAMILIES)
def test_schema_content_matches_its_locked_version(family):
    """A schema changed without a new version (and lock entry) fails here."""
    schema = load_schema(family)
    locked = json.loads(LOCK_FILE.read_text())[family]
    assert str(schema["version"]) in locked, "new version: run stix_assets.schemas.generate"
    assert locked[str(schema["version"])] == schema_hash(schema), (
        f"{family} schema changed without a new version: bump version, add a changelog entry"
    )
    assert schema["version"] in [c["version"] for c in schema["changelog"]]


def test_hash_ignores_changelog_but_not_columns():
    schema = load_schema("l1")
    edited = json.loads(json.dumps(schema))
    edited["changelog"].append({"version": 9, "date": "", "change": "x"})
    assert schema_hash(edited) == schema_hash(schema)
    kind = next(iter(edited["products"]))
    edited["products"][kind]["hdus"][1]["columns"][0]["unit"] = "furlong"
    assert schema_hash(edited) != schema_hash(schema)


def test_committed_document_is_the_rendered_one():
    assert DOC_FILE.read_text() == render(), "run: python -m stix_assets.schemas.render"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("solo_L1_stix-ql-lightcurve_20201122_V02U.fits", "stix-ql-lightcurve"),
        ("solo_LB_stix-21-6-30_0659318400_V02.fits", "stix-21-6-30"),
        # an event number is not part of the kind
        ("solo_L0_stix-events-3-32816_0643075200_V02.fits", "stix-events-3"),
        ("solo_CAL_stix-cal-energy_20220301T011953-20220301T014953_V02.fits", "stix-cal-energy"),
    ],
)
def test_product_kind(name, kind):
    assert product_kind(name) == kind


@pytest.mark.realdata
def test_reference_products_lack_only_schemav(reference_root: Path):
    """STIXCore's products have our structure; what they lack is the SCHEMAV keyword."""
    ref = reference_root / "L1/pkttmraw/2020/11/22/QL/solo_L1_stix-ql-lightcurve_20201122_V02U.fits"
    problems = validate_file(ref)
    assert problems[0].endswith("SCHEMAV None != schema version 1")
    assert all("SCHEMAV" in p for p in problems)


@pytest.mark.realdata
def test_broken_copies_are_caught(reference_root: Path, tmp_path: Path):
    src = reference_root / "L1/pkttmraw/2020/11/22/QL/solo_L1_stix-ql-lightcurve_20201122_V02U.fits"
    path = Path(shutil.copy(src, tmp_path / src.name))
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["SCHEMAV"] = 1
        hdul["DATA"].columns.change_unit("counts", "keV")
        del hdul[0].header["BUNIT"]
    problems = validate_file(path)
    assert any("DATA.counts unit 'keV'" in p for p in problems)
    assert any("primary keywords missing: ['BUNIT']" in p for p in problems)
