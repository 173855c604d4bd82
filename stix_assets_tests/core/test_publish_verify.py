"""Publish verifies before it touches (issue 10): refused archive files, verified delivered copies."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from astropy.io import fits

import stix_assets.core.publish.deliver as deliver_module
from stix_assets.core.catalog import Catalog, read_publish_history
from stix_assets.core.errors import PublishError
from stix_assets.core.publish import (
    ChecksumError,
    LocalTarget,
    PublishConfig,
    PublishFilters,
    check_checksums,
    publish_archive,
    verify_checksums,
)
from stix_assets.core.publish.verify import verify_delivered
from stix_assets_tests.core.test_publish_support import (
    BSD_NAME,
    flip_data_byte,
    make_product,
    reference_l0,
    set_age,
)

NOW = datetime.now(UTC)
HK = "solo_L0_stix-hk-maxi_0641865600_V02U.fits"
QL = "solo_L0_stix-ql-lightcurve_0641865600_V02U.fits"


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    out = {k: tmp_path / k for k in ("archive", "esa", "conflicts")}
    for p in out.values():
        p.mkdir()
    out["catalog"] = tmp_path / "catalog.duckdb"
    return out


def _publish(dirs: dict[str, Path], **kw):
    config = PublishConfig(
        fits_dir=dirs["archive"],
        target=LocalTarget(dirs["esa"]),
        same_esa_name_dir=dirs["conflicts"],
        filters=PublishFilters(sort_files=True),
        **kw,
    )
    return publish_archive(config, Catalog(dirs["catalog"]), now=NOW)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _rows(dirs: dict[str, Path]) -> list[dict]:
    return read_publish_history(Catalog(dirs["catalog"]))


def _assert_verifies(path: Path) -> None:
    """The community reader's own check: no 'Checksum/Datasum verification failed' warning."""
    with fits.open(path, checksum=True) as hdul:  # pytest turns the warning into an error
        hdul.verify("exception")
        assert all(h.verify_checksum() == 1 and h.verify_datasum() == 1 for h in hdul)


# -- verify_checksums ---------------------------------------------------------------------------
@pytest.mark.realdata
def test_flipped_data_byte_names_file_and_hdu(testdata: Path, tmp_path: Path):
    ql = reference_l0(testdata, tmp_path)["ql"]
    verify_checksums(ql)  # STIXCore's product verifies as written
    flip_data_byte(ql)
    with pytest.raises(ChecksumError, match=r"HDU 2 DATA: DATASUM and CHECKSUM do not match") as e:
        verify_checksums(ql, what="archive file")
    assert (e.value.file, e.value.hdu) == (ql.name, "2 DATA")
    assert f"archive file {ql.name}" in str(e.value)
    states = {h.name: (h.checksum, h.datasum) for h in check_checksums(ql)}
    assert states["DATA"] == ("failed", "failed")
    assert states["CONTROL"] == ("ok", "ok")


def test_file_without_checksums_cannot_be_verified(tmp_path: Path):
    path = tmp_path / QL
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(name="DATA")]).writeto(path)
    with pytest.raises(ChecksumError, match=r"HDU 0 PRIMARY: no CHECKSUM and no DATASUM keyword"):
        verify_checksums(path)


def test_one_hdu_without_checksums_cannot_be_verified(tmp_path: Path):
    path = make_product(tmp_path, QL)
    with fits.open(path) as hdul:
        start, end = hdul.fileinfo(1)["hdrLoc"], hdul.fileinfo(1)["datLoc"]
    raw = bytearray(path.read_bytes())
    for key in (b"CHECKSUM", b"DATASUM "):  # blank the two cards of CONTROL only
        at = raw.index(key, start, end)
        raw[at : at + 80] = b" " * 80
    path.write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match=r"HDU 1 CONTROL: no CHECKSUM and no DATASUM"):
        verify_checksums(path)


# -- refused archive files ----------------------------------------------------------------------
@pytest.mark.realdata
def test_corrupted_reference_product_is_refused_and_good_one_delivered(testdata: Path, dirs):
    files = reference_l0(testdata, dirs["archive"])
    flip_data_byte(files["ql"])
    report = _publish(dirs)
    by_source = {o.source: o for o in report.outcomes}
    refused = by_source[files["ql"].name]
    assert refused.report == "REFUSED"
    assert "HDU 2 DATA: DATASUM and CHECKSUM do not match" in refused.reason
    assert refused.delivered_name is None
    good = by_source[files["hk"].name]
    assert good.report == "PUBLISHED"
    # only the good file reached SOAR, and its delivered copy (header edited) verifies
    assert _names(dirs["esa"]) == [good.delivered_name]
    _assert_verifies(dirs["esa"] / good.delivered_name)
    results = {r["source_name"]: (r["result"], r["state"]) for r in _rows(dirs)}
    assert results == {files["ql"].name: (15, "done"), files["hk"].name: (10, "done")}
    assert report.totals() == {"delivered": 1, "refused": 1, "errors": 0, "skipped": 0}
    assert report.summary().startswith("delivered 1, refused 1, errors 0, skipped 0 |")
    # the refused state is decided: not offered again until the file changes
    again = _publish(dirs)
    assert again.outcomes == ()
    assert again.skipped_by_reason() == {"already decided": 2}
    # rebuilt (new bytes, new mtime): offered again and delivered
    files["ql"].write_bytes(
        (testdata / "reference/stixcore/L0/pkttmraw/21/6/30" / files["ql"].name).read_bytes()
    )
    set_age(files["ql"], 20 * 86400)
    (fixed,) = _publish(dirs).outcomes
    assert fixed.report == "PUBLISHED"
    _assert_verifies(dirs["esa"] / fixed.delivered_name)


def test_file_without_checksums_is_refused(dirs):
    path = dirs["archive"] / QL
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(name="DATA")]).writeto(path)
    set_age(path, 30 * 86400)
    (out,) = _publish(dirs).outcomes
    assert out.report == "REFUSED"
    assert "no CHECKSUM and no DATASUM keyword" in out.reason
    assert _names(dirs["esa"]) == []


def test_refused_file_is_nobodys_esa_name_neighbour(dirs):
    """A refused BSD file never reached SOAR: the next request of that ESA name is no supplement."""
    first = make_product(dirs["archive"], BSD_NAME.format(rid=123), values=[1])
    make_product(dirs["archive"], BSD_NAME.format(rid=125), values=[2])
    flip_data_byte(first, offset=0)
    report = _publish(dirs)
    assert [(o.report, o.delivered_name) for o in report.outcomes] == [
        ("REFUSED", None),
        ("PUBLISHED", BSD_NAME.format(rid=125)),
    ]


def test_dry_run_reports_refused_and_writes_nothing(dirs):
    flip_data_byte(make_product(dirs["archive"], QL))
    make_product(dirs["archive"], HK)
    report = _publish(dirs, dry_run=True)
    assert report.counts() == {"REFUSED": 1, "PUBLISHED": 1}
    assert _names(dirs["esa"]) == []
    assert _rows(dirs) == []


# -- the staged and the delivered copy ----------------------------------------------------------
def test_staging_that_breaks_checksums_is_an_error(dirs, monkeypatch: pytest.MonkeyPatch):
    real_stage = deliver_module.stage_delivery

    def stage_and_corrupt(source, staged, edits, **kw):
        real_stage(source, staged, edits, **kw)
        flip_data_byte(staged)

    monkeypatch.setattr(deliver_module, "stage_delivery", stage_and_corrupt)
    make_product(dirs["archive"], QL)
    (out,) = _publish(dirs).outcomes
    assert out.report == "ERROR"
    assert "staging broke the checksums: checksum verification of staged copy" in out.reason
    assert _names(dirs["esa"]) == []
    assert [r["result"] for r in _rows(dirs)] == [14]


def _corrupting_put(monkeypatch: pytest.MonkeyPatch, corrupt_name: str) -> None:
    """LocalTarget.put delivers, then one data byte of ``corrupt_name`` rots at the target."""
    real_put = LocalTarget.put

    def put(self, local, name, *args):
        real_put(self, local, name, *args)
        if name == corrupt_name:
            flip_data_byte(self.directory / name)

    monkeypatch.setattr(LocalTarget, "put", put)


def test_delivered_copy_failing_verification_is_removed_and_reported(
    dirs, monkeypatch: pytest.MonkeyPatch
):
    make_product(dirs["archive"], HK)
    make_product(dirs["archive"], QL)
    bad = QL.replace("V02U", "V02")
    _corrupting_put(monkeypatch, bad)
    report = _publish(dirs)
    by_source = {o.source: o for o in report.outcomes}
    failed = by_source[QL]
    assert failed.report == "ERROR"
    assert failed.reason.startswith("delivered copy failed verification and was removed")
    assert f"delivered copy {bad} failed: HDU 2 DATA: DATASUM and CHECKSUM" in failed.reason
    assert by_source[HK].report == "PUBLISHED"  # the run goes on
    assert _names(dirs["esa"]) == [HK.replace("V02U", "V02")]  # the corrupt copy is gone
    assert report.totals() == {"delivered": 1, "refused": 0, "errors": 1, "skipped": 0}
    rows = {r["source_name"]: r for r in _rows(dirs)}
    assert (rows[QL]["result"], rows[QL]["state"]) == (14, "removed")
    # the archive file is fine: offered again next run, and delivered
    monkeypatch.undo()
    (retry,) = _publish(dirs).outcomes
    assert (retry.source, retry.report, retry.delivered_name) == (QL, "PUBLISHED", bad)
    _assert_verifies(dirs["esa"] / bad)


def test_delivered_copy_that_cannot_be_removed_fails_the_run(dirs, monkeypatch: pytest.MonkeyPatch):
    make_product(dirs["archive"], QL)
    bad = QL.replace("V02U", "V02")
    _corrupting_put(monkeypatch, bad)

    def cannot_remove(self, name):
        raise PublishError(f"cannot remove {name}: read-only")

    monkeypatch.setattr(LocalTarget, "remove", cannot_remove)
    with pytest.raises(PublishError, match=r"HDU 2 DATA.*could not be removed.*remove it by hand"):
        _publish(dirs)
    # the row stays pending; reconcile reports the foreign bytes at every run
    assert [r["state"] for r in _rows(dirs)] == ["pending"]


def test_verify_delivered_compares_with_the_staged_copy(tmp_path: Path):
    target = LocalTarget(tmp_path)
    path = make_product(tmp_path, QL)
    sha = deliver_module.file_sha256(path)
    verify_delivered(target, QL, sha256=sha, is_fits=True)
    with pytest.raises(ChecksumError, match="differs from the staged copy"):
        verify_delivered(target, QL, sha256="0" * 64, is_fits=True)
    with pytest.raises(ChecksumError, match="is not at localhost:"):
        verify_delivered(target, "other.fits", sha256=sha, is_fits=True)
    flip_data_byte(path)
    with pytest.raises(ChecksumError, match=r"delivered copy .* failed: HDU 2 DATA"):
        verify_delivered(target, QL, sha256=sha, is_fits=True)


def test_svg_is_delivered_and_checked_by_sha256(dirs):
    svg = dirs["archive"] / "solo_L1_stix-ql-lightcurve_20200505_V02.svg"
    svg.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    set_age(svg, 30 * 86400)
    (out,) = _publish(dirs).outcomes
    assert out.report == "PUBLISHED"
    assert (dirs["esa"] / svg.name).read_bytes() == svg.read_bytes()


# -- summary counts -----------------------------------------------------------------------------
def test_summary_counts_delivered_skipped_by_reason_and_refused(dirs):
    make_product(dirs["archive"], HK)
    flip_data_byte(make_product(dirs["archive"], QL))
    make_product(dirs["archive"], "solo_L0_stix-hk-mini_0641865600_V02U.fits", age_s=3600)
    blacklisted = make_product(dirs["archive"], BSD_NAME.format(rid=130))
    make_product(dirs["archive"], "solo_LB_stix-3-25-2_0641865600_V02.fits")
    report = _publish(dirs, blacklist=frozenset({blacklisted.name}))
    assert report.totals() == {"delivered": 1, "refused": 1, "errors": 0, "skipped": 3}
    assert report.skipped_by_reason() == {
        "blacklisted": 1,
        "level not included": 1,
        "waiting period": 1,
    }
    assert report.summary() == (
        "delivered 1, refused 1, errors 0, skipped 3 "
        "(blacklisted 1, level not included 1, waiting period 1) | E0 I1 S0 P1"
    )
    meta = report.as_metadata()
    assert meta["totals"] == report.totals()
    assert meta["skipped_by_reason"] == report.skipped_by_reason()
    assert meta["not_due_by_reason"] == {"level not included": 1, "waiting period": 1}
    assert [o["source"] for o in meta["refused"]] == [QL]
    assert [o["skip_reason"] for o in meta["skipped"]] == ["blacklisted"]
