"""STIXCore's daily candidate rules on a real DuckDB catalog."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from stix_assets.core.catalog import Catalog, ProductFileRecord
from stix_assets.core.daily_candidates import ANC_RULE, LL03_RULE, daily_candidates, stale_days

NOW = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def record(catalog: Catalog, level: str, product: str, day: date, written: datetime, rows: int):
    """One product file row, as the level and daily assets write them."""
    name = f"{level}_{product}_{day:%Y%m%d}_{written:%H%M%S}.fits"
    catalog.record_products(
        [
            ProductFileRecord(
                path=Path("/archive", name), level=level, product=product, partition_day=day,
                version=2, sha256="0" * 64, written_at=written.replace(tzinfo=None), size=1,
                n_rows=rows,
            )
        ]
    )  # fmt: skip


@pytest.fixture
def catalog(tmp_path) -> Catalog:
    cat = Catalog(tmp_path / "catalog.duckdb")
    t0 = datetime(2024, 5, 20, tzinfo=UTC)
    for offset in range(10):  # L1 days 2024-05-18 .. 05-27, each written once
        day = date(2024, 5, 18) + timedelta(days=offset)
        record(cat, "L1", "hk_maxi", day, t0, 1350)
        record(cat, "L1", "ql_lightcurve", day, t0, 21600 if offset % 2 else 5000)
    record(cat, "ANC", "asp_ephemeris", date(2024, 5, 18), t0 + timedelta(hours=1), 1350)
    record(cat, "ANC", "asp_ephemeris", date(2024, 5, 19), t0 + timedelta(hours=1), 1350)
    return cat


def test_stale_days_are_those_without_a_newer_product(catalog):
    days = [d for d, _ in stale_days(catalog, ANC_RULE)]
    assert days == [date(2024, 5, 18) + timedelta(days=i) for i in range(2, 10)]
    # late telemetry rewrites the L1 of 05-18: its ANC is due again
    record(catalog, "L1", "hk_maxi", date(2024, 5, 18), datetime(2024, 5, 21, tzinfo=UTC), 1350)
    assert date(2024, 5, 18) in [d for d, _ in stale_days(catalog, ANC_RULE)]


def test_anc_waits_for_flown_kernels(catalog):
    # flown MK of 2024-05-24: data must end 24 h before it, so up to 05-22
    days = daily_candidates(catalog, ANC_RULE, flown_mk_date=date(2024, 5, 24), now=NOW)
    assert days == [date(2024, 5, 20), date(2024, 5, 21), date(2024, 5, 22)]
    assert daily_candidates(catalog, ANC_RULE, flown_mk_date=None, now=NOW) == []


def test_ll03_waits_for_a_full_day_unless_a_month_old(catalog):
    days = daily_candidates(catalog, LL03_RULE, flown_mk_date=None, now=NOW)
    assert days == [date(2024, 5, 19) + timedelta(days=2 * i) for i in range(5)]  # 21600 rows
    later = NOW + timedelta(days=30)  # 05-18 ... 05-30 ended more than 30 days ago
    days = daily_candidates(catalog, LL03_RULE, flown_mk_date=None, now=later)
    assert days == [date(2024, 5, 18) + timedelta(days=i) for i in range(10)]


def test_ll03_done_once_written(catalog):
    record(
        catalog, "LL03", "ql_lightcurve", date(2024, 5, 19), datetime(2024, 5, 22, tzinfo=UTC), 1
    )
    days = daily_candidates(catalog, LL03_RULE, flown_mk_date=None, now=NOW)
    assert date(2024, 5, 19) not in days
