"""Every partitions definition of the asset graph, and the parsers of their keys.

Two partition spaces meet at LB: ``tm_files`` (one dynamic partition per TM file name) for the
ingest asset ``tm/raw``, and ``scet_days`` (one partition per SCET day) for the levels. No
partition mapping can express "this file touched these days", so the edge between them is an
`AllPartitionMapping` (lineage only) and ``tm_to_days_sensor`` does the routing.
"""

import datetime as dt

import dagster as dg

__all__ = [
    "SCET_DAYS_START",
    "scet_day_from_key",
    "scet_day_key",
    "scet_day_range",
    "scet_days",
    "tm_files",
    "utc_days",
    "utc_months",
]

SCET_DAYS_START = dt.date(2018, 1, 1)
"""First SCET day partition: ground tests from 2018 (packets of 2018-11-25 once the time-sync bit
is masked) come before launch (2020-02-10)."""

tm_files = dg.DynamicPartitionsDefinition(name="tm_files")
"""One partition per TM file in the incoming folder; the key is the file name."""

scet_days = dg.DailyPartitionsDefinition(
    start_date=SCET_DAYS_START.isoformat(), timezone="UTC", end_offset=1
)
"""One partition per SCET day (ISO date). ``end_offset=1`` makes today's partition exist while
quick-look TM for today is still arriving."""


def scet_day_from_key(key: str) -> dt.date:
    """Parse the SCET day of a ``scet_days`` partition key (``"2018-11-25"``)."""
    return dt.date.fromisoformat(key)


def scet_day_key(scet_day: dt.date) -> str:
    """Format the ``scet_days`` partition key of a SCET day."""
    return scet_day.isoformat()


def scet_day_range(now: dt.datetime) -> tuple[dt.date, dt.date]:
    """First and last SCET day that exist as partitions at time ``now`` (timezone-aware).

    The last day is today (UTC) because of ``end_offset=1``; a packet dated after it has a bad
    on-board time and cannot be requested.
    """
    # with end_offset=1 the last window of a daily definition is the one that contains ``now``
    return SCET_DAYS_START, now.astimezone(dt.UTC).date()


utc_days = dg.DailyPartitionsDefinition(
    start_date=SCET_DAYS_START.isoformat(), timezone="UTC", end_offset=1
)
"""One partition per UTC day (ISO date): L1 and later products, SOAR delivery; today included."""

utc_months = dg.MonthlyPartitionsDefinition(start_date="2018-01-01", timezone="UTC", end_offset=1)
"""One partition per UTC month: the monthly flare list (L3)."""
