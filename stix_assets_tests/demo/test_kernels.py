from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import spiceypy
from astropy.time import Time

from stix_assets.core.ephemeris import EPHEMERIS_KEYWORDS, ephemeris_header
from stix_assets.core.spice import KernelStore, loaded_kernels
from stix_assets.demo import DemoRoot, scet_from_utc, utc_from_scet
from stix_assets.demo.kernels import DEMO_FRAMES

AU_KM = 149597870.7


@pytest.fixture
def demo_spice(demo_root: DemoRoot, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Load the demo meta-kernel (relative PATH_VALUES: from its own folder); unload after."""
    monkeypatch.chdir(demo_root.meta_kernel.parent)
    spiceypy.kclear()
    spiceypy.furnsh(demo_root.meta_kernel.name)
    yield
    spiceypy.kclear()


@pytest.mark.usefixtures("demo_spice")
def test_scet_utc_round_trip_matches_spice() -> None:
    assert spiceypy.sce2s(-144, spiceypy.utc2et("2000-01-01T00:00:00")) == "1/0000000000:00000"
    for when in (
        datetime(2024, 5, 14, 0, 0, 0, tzinfo=UTC),
        datetime(2024, 5, 15, 13, 37, 12, 250000, tzinfo=UTC),
        datetime(2016, 12, 31, 12, tzinfo=UTC),
    ):
        scet = scet_from_utc(when)
        coarse, fine = int(scet), round((scet % 1) * 65536)
        et = spiceypy.scs2e(-144, f"{coarse:010d}:{fine:05d}")
        utc = datetime.fromisoformat(spiceypy.et2utc(et, "ISOC", 6)).replace(tzinfo=UTC)
        assert abs((utc - when).total_seconds()) < 1e-3
        assert abs((utc_from_scet(scet) - when).total_seconds()) < 1e-6
        back = spiceypy.sce2s(-144, spiceypy.utc2et(when.strftime("%Y-%m-%dT%H:%M:%S.%f")))
        assert back.startswith(f"1/{coarse:010d}:")


@pytest.mark.usefixtures("demo_spice")
def test_orbit_covers_the_demo_days() -> None:
    t0 = datetime(2024, 5, 13, tzinfo=UTC)
    for hours in range(0, 4 * 24, 6):
        et = spiceypy.utc2et((t0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S"))
        solo, _ = spiceypy.spkezr("-144", et, "ECLIPJ2000", "NONE", "SUN")
        earth, _ = spiceypy.spkezr("EARTH", et, "ECLIPJ2000", "NONE", "SUN")
        r_solo = np.linalg.norm(solo[:3]) / AU_KM
        assert 0.28 < r_solo < 1.02
        assert 0.98 < np.linalg.norm(earth[:3]) / AU_KM < 1.02
        geo, _ = spiceypy.spkezr("-144", et, "ECLIPJ2000", "NONE", "EARTH")
        assert np.linalg.norm(geo[:3]) > 0


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v) / np.linalg.norm(v)


def _iau_sun_to_j2000(et: float) -> np.ndarray:
    return spiceypy.pxform("IAU_SUN", "J2000", et)


@pytest.mark.usefixtures("demo_spice")
def test_demo_frames_follow_their_definitions() -> None:
    et = spiceypy.utc2et("2024-05-14T12:00:00")
    earth = _unit(spiceypy.spkpos("EARTH", et, "J2000", "NONE", "SUN")[0])
    to_j2000 = {f.name: spiceypy.pxform(f.name, "J2000", et) for f in DEMO_FRAMES}
    ecl_pole = spiceypy.pxform("ECLIPJ2000", "J2000", et)[:, 2]
    # IAU_SUN pole from the demo PCK: RA 286.13 deg, Dec 63.87 deg in J2000
    pole = spiceypy.radrec(1.0, np.deg2rad(286.13), np.deg2rad(63.87))
    assert np.allclose(spiceypy.pxform("IAU_SUN", "J2000", et)[:, 2], pole, atol=1e-12)
    hee, hci, heeq = to_j2000["SOLO_HEE"], to_j2000["SOLO_HCI"], to_j2000["SOLO_HEEQ"]
    assert np.allclose(hee[:, 0], earth, atol=1e-12)  # X: Sun -> Earth
    assert abs(hee[:, 2] @ ecl_pole - 1.0) < 1e-9  # Z: ~ ecliptic pole (Earth in ecliptic)
    assert np.allclose(hci[:, 2], pole, atol=1e-12)
    node = _unit(np.cross(ecl_pole, pole))  # ascending node of the solar equator
    assert np.allclose(hci[:, 0], node, atol=1e-12)
    assert np.allclose(heeq, to_j2000["SUN_EARTH_CEQU"], atol=1e-15)
    assert np.allclose(heeq[:, 2], pole, atol=1e-12)
    assert heeq[:, 0] @ earth > 0.99
    assert abs(heeq[:, 1] @ earth) < 1e-12
    assert np.allclose(to_j2000["SUN_ARIES_ECL"], spiceypy.pxform("ECLIPJ2000", "J2000", et))
    gse = to_j2000["EARTH_SUN_ECL"]
    assert gse[:, 0] @ -earth > 0.999
    assert abs(gse[:, 1] @ earth) < 1e-12
    # the prime meridian turns 14.1844 deg/day about the pole
    turn = spiceypy.pxform("J2000", "IAU_SUN", et + 86400.0) @ _iau_sun_to_j2000(et)
    assert np.allclose(turn[2], [0.0, 0.0, 1.0], atol=1e-12)
    assert np.rad2deg(np.arctan2(-turn[0, 1], turn[0, 0])) == pytest.approx(-14.1844, abs=1e-9)


def test_ephemeris_header_on_the_demo_kernels(demo_root: DemoRoot) -> None:
    with loaded_kernels(KernelStore(demo_root.spice_kernels)) as kernels:
        header = ephemeris_header(Time("2024-05-15T12:00:00", scale="utc"), kernels)
    assert header["SPICE_MK"] == demo_root.meta_kernel.name
    assert "SPICE_ER" not in header
    assert all(isinstance(header[k], (float, str)) and header[k] != "" for k in EPHEMERIS_KEYWORDS)
    assert 0.28 * AU_KM * 1e3 < header["DSUN_OBS"] < 1.02 * AU_KM * 1e3
    assert abs(header["HGLT_OBS"]) < 8.0
    assert header["CRLT_OBS"] == pytest.approx(header["HGLT_OBS"], abs=1e-6)
    hee = np.array([header[f"HEE{a}_OBS"] for a in "XYZ"])
    heq = np.array([header[f"HEQ{a}_OBS"] for a in "XYZ"])
    assert np.linalg.norm(hee) == pytest.approx(header["DSUN_OBS"], rel=1e-12)
    assert np.linalg.norm(heq) == pytest.approx(header["DSUN_OBS"], rel=1e-12)
    assert header["HAEZ_OBS"] == pytest.approx(header["HEEZ_OBS"], rel=1e-9)
    assert header["HCIZ_OBS"] == pytest.approx(header["HEQZ_OBS"], rel=1e-9)
    assert header["SUN_TIME"] == pytest.approx(header["DSUN_OBS"] / 299792458.0, rel=1e-12)


@pytest.mark.realdata
def test_demo_frames_agree_with_the_soc_frame_kernel(
    demo_root: DemoRoot, testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same orientation as the SOC science FK V06 + pck00010 for the same ephemeris (not HEE)."""
    kit = testdata / "spice" / "kernels"
    monkeypatch.chdir(demo_root.meta_kernel.parent)
    et = 0.0
    mats: list[dict[str, np.ndarray]] = []
    try:
        for extra in (
            [],
            [kit / "pck" / "pck00010.tpc", kit / "fk" / "solo_ANC_soc-sci-fk_V06.tf"],
        ):
            spiceypy.kclear()
            spiceypy.furnsh(demo_root.meta_kernel.name)
            for path in extra:  # loaded later: the SOC definitions replace the demo ones
                spiceypy.furnsh(str(path))
            et = spiceypy.utc2et("2024-05-14T06:00:00")
            mats.append({f.name: spiceypy.pxform(f.name, "J2000", et) for f in DEMO_FRAMES})
    finally:
        spiceypy.kclear()
    for name, demo in mats[0].items():
        if name != "SOLO_HEE":
            assert np.allclose(demo, mats[1][name], atol=1e-12), name
    # SOC V06 takes the HEE secondary vector from a frozen mean-equator frame (= J2000), so its
    # Z axis leans towards the Earth's pole; the demo uses the documented ecliptic pole.
    assert np.allclose(mats[0]["SOLO_HEE"][:, 0], mats[1]["SOLO_HEE"][:, 0], atol=1e-12)
    tilt = np.rad2deg(np.arccos(mats[0]["SOLO_HEE"][:, 2] @ mats[1]["SOLO_HEE"][:, 2]))
    assert 0.5 < tilt < 23.5
