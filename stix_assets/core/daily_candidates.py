"""Which days need a daily product made (again): STIXCore's daily-pipeline rules, on the catalog.

STIXCore's 08:00 daily pipeline did not just take yesterday: it collected every input file that
had no newer output yet, with two conditions per product (domain doc section 9):

* **ANC aspect ephemeris** from L1 ``hk-maxi``: only once the data end 24 h before the date of the
  latest *flown* meta-kernel, so that attitude and orbit kernels cover the day;
* **LL03 quick-look plot** from L1 ``ql-lightcurve``: only for a full day (at least
  ``60/4 * 60 * 24 - 60 = 21540`` rows of 4 s) unless the day ended more than 30 days ago.

Here the same rules run on the catalog's ``product_files``: a day is *stale* when its newest
source file was written after the newest target file of that day (or there is none). Late
telemetry that rewrites an old L1 day therefore gets its daily products again, as in STIXCore.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from stix_assets.core.catalog import Catalog

__all__ = ["ANC_RULE", "LL03_RULE", "DailyRule", "daily_candidates", "stale_days"]


@dataclass(frozen=True, slots=True)
class DailyRule:
    """How one daily product follows its L1 source.

    Attributes
    ----------
    source, target : (level, product key) in the catalog
    needs_flown_kernels : wait until the flown meta-kernel is dated 24 h after the day's end
    min_rows : rows a source day needs to count as complete (``None``: any)
    complete_after : a day older than this counts as complete whatever its rows
    """

    source: tuple[str, str]
    target: tuple[str, str]
    needs_flown_kernels: bool = False
    min_rows: int | None = None
    complete_after: timedelta = timedelta(days=30)


ANC_RULE = DailyRule(("L1", "hk_maxi"), ("ANC", "asp_ephemeris"), needs_flown_kernels=True)
LL03_RULE = DailyRule(("L1", "ql_lightcurve"), ("LL03", "ql_lightcurve"), min_rows=21540)

_STALE_SQL = """
WITH src AS (
    SELECT partition_day AS day, max(written_at) AS written, max(n_rows) AS n_rows
    FROM product_files WHERE level = ? AND product = ? AND partition_day IS NOT NULL GROUP BY 1
), dst AS (
    SELECT partition_day AS day, max(written_at) AS written
    FROM product_files WHERE level = ? AND product = ? AND partition_day IS NOT NULL GROUP BY 1
)
SELECT src.day, src.n_rows FROM src LEFT JOIN dst USING (day)
WHERE dst.written IS NULL OR dst.written < src.written
ORDER BY src.day
"""


def stale_days(catalog: Catalog, rule: DailyRule) -> list[tuple[date, int]]:
    """(day, source rows) of every day whose source is newer than its target, oldest first."""
    with catalog.connect_readonly() as conn:
        rows = conn.execute(_STALE_SQL, [*rule.source, *rule.target]).fetchall()
    return [(day, int(n or 0)) for day, n in rows]


def daily_candidates(
    catalog: Catalog, rule: DailyRule, *, flown_mk_date: date | None, now: datetime
) -> list[date]:
    """The days to (re)make under ``rule``, oldest first (module docstring).

    Parameters
    ----------
    catalog : the processing catalog
    rule : `ANC_RULE`, `LL03_RULE` or another `DailyRule`
    flown_mk_date : date of the latest flown meta-kernel (``None``: none, so no kernel-bound day)
    now : the evaluation time (aware)
    """
    today = now.astimezone(UTC).date()
    out = []
    for day, n_rows in stale_days(catalog, rule):
        if rule.needs_flown_kernels and (
            flown_mk_date is None or day > flown_mk_date - timedelta(2)
        ):
            continue  # data end (day 24:00) must be a day before the meta-kernel date
        old = day + timedelta(days=1) + rule.complete_after <= today
        if rule.min_rows is not None and n_rows < rule.min_rows and not old:
            continue
        out.append(day)
    return out
