from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import spiceypy

from stix_assets.demo import DemoRoot, scet_from_utc, utc_from_scet

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
