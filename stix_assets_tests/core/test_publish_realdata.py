"""Publishing real files: LB/L0 written by our pipeline from the kit, and an L1 ephemeris refresh."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from astropy.io import fits

from stix_assets.core.catalog import Catalog
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products.l0 import build_l0_day
from stix_assets.core.products.l0_writer import write_l0
from stix_assets.core.products.lb import write_lb
from stix_assets.core.publish import LocalTarget, PublishConfig, PublishFilters, publish_archive
from stix_assets.core.spice import KernelStore, loaded_kernels
from stix_assets_tests.core.test_publish_support import flip_data_byte, make_product, set_age

pytestmark = pytest.mark.realdata

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _config(tmp_path: Path, archive: Path, **kw) -> PublishConfig:
    for sub in ("esa", "conflicts"):
        (tmp_path / sub).mkdir()
    return PublishConfig(
        fits_dir=archive,
        target=LocalTarget(tmp_path / "esa"),
        same_esa_name_dir=tmp_path / "conflicts",
        **kw,
    )


def test_real_lb_and_l0_files_are_delivered(testdata: Path, tmp_path: Path):
    store = IdbStore(testdata / "idb")
    archive = tmp_path / "archive"
    index = index_tm_file(testdata / "tm" / "PktTmRaw.xml", store)
    lb = write_lb(index, archive, created=CREATED, software_version="test")
    days = sorted({d for ds in index.days_by_product.values() for d in ds})
    l0 = []
    for day in days:
        built = build_l0_day([r.path for r in lb], day, store, testdata / "conf")
        l0 += write_l0(built.products, archive, created=CREATED, software_version="test")
    assert lb
    assert l0
    for p in archive.rglob("*.fits"):
        set_age(p, 30 * 86400)
    rotten = l0[0].path
    flip_data_byte(rotten)  # bit rot after writing: refused, never delivered
    filters = PublishFilters(include_levels=frozenset({"lb", "l0"}), include_products=None)
    report = publish_archive(
        _config(tmp_path, archive, filters=filters), Catalog(tmp_path / "c.duckdb"),
        now=datetime.now(UTC),
    )  # fmt: skip
    (refused,) = report.of("REFUSED")
    assert refused.source == rotten.name
    assert "HDU 2 DATA: DATASUM and CHECKSUM do not match" in refused.reason
    published = report.of("PUBLISHED")
    # every other file our writer made verifies in astropy and is delivered
    assert len(published) == len(lb) + len(l0) - 1, report.outcomes
    assert report.totals() == {
        "delivered": len(published), "refused": 1, "errors": 0, "skipped": 0,
    }  # fmt: skip
    assert not (tmp_path / "esa" / refused.name).exists()
    incomplete = [o for o in published if o.source != o.delivered_name]
    assert incomplete, "daily L0 files carry the U status"
    for o in published:
        path = tmp_path / "esa" / o.delivered_name
        assert "V02U" not in o.delivered_name
        with fits.open(path, checksum=True) as hdul:
            hdul.verify("exception")
            assert hdul[0].header["FILENAME"] == o.delivered_name  # quirk 19 fixed for L0 too
            assert "DATA" in hdul


def test_l1_incomplete_file_gets_flown_ephemeris(testdata: Path, tmp_path: Path):
    archive = tmp_path / "archive"
    name = "solo_L1_stix-ql-lightcurve_20200505_V02U.fits"
    make_product(
        archive, name, date_beg="2020-05-05T00:00:00.000", date_end="2020-05-05T23:59:59.000",
        extra={"SPICE_MK": "predicted-mk.tm", "DSUN_OBS": 0.0},
    )  # fmt: skip
    kernels_root = testdata / "spice" / "kernels"
    with loaded_kernels(KernelStore(kernels_root), flown_only=True) as kernels:
        report = publish_archive(
            _config(tmp_path, archive), Catalog(tmp_path / "c.duckdb"),
            now=datetime.now(UTC), kernels=kernels,
        )  # fmt: skip
    (out,) = report.outcomes
    assert out.delivered_name == "solo_L1_stix-ql-lightcurve_20200505_V02.fits"
    head = fits.getheader(tmp_path / "esa" / out.delivered_name)
    assert head["SPICE_MK"] == "solo_ANC_soc-flown-mk_V900_20210101_001.tm"
    assert 0.5 * 1.496e11 < head["DSUN_OBS"] < 1.1 * 1.496e11
    assert any("updated ephemeris header with latest kernel" in str(h) for h in head["HISTORY"])


def test_l1_incomplete_file_without_kernels_is_skipped(tmp_path: Path):
    archive = tmp_path / "archive"
    make_product(archive, "solo_L1_stix-ql-lightcurve_20200505_V02U.fits")
    report = publish_archive(
        _config(tmp_path, archive), Catalog(tmp_path / "c.duckdb"), now=datetime.now(UTC)
    )
    (out,) = report.outcomes
    assert out.report == "SKIPPED"
    assert "SPICE" in out.reason
    assert list((tmp_path / "esa").iterdir()) == []
