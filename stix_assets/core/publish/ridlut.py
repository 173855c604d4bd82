"""The BSD request-id LUT: reasons for publish comments, scaling factors, update from the API.

Domain reference 10.5. The CSV (comma separated, quoted) has either the current columns
``_id, unique_id, start_utc, duration, type, subject, purpose, scaling_factor, ior_id, comment``
or the older ``_id, unique_id, start_utc, duration, type, description``. The description of a row
is its ``description`` column if present, else ``subject, purpose, comment`` joined with ``", "``.

Update API (what `update_rid_lut` expects): ``GET <url><YYYYMMDD>/<YYYYMMDD>`` for each 30-day
window answers either a JSON list of objects keyed by the CSV column names, a JSON object with
such a list under ``"data"``, or a CSV text with a header row (``Content-Type: text/csv``).
"""

import csv
import io
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from stix_assets.core.errors import PublishError
from stix_assets.core.fits import atomic_path

__all__ = [
    "DEFAULT_RID_LUT_URL",
    "LUT_COLUMNS",
    "RidLut",
    "read_rid_lut",
    "update_rid_lut",
]

logger = logging.getLogger(__name__)

DEFAULT_RID_LUT_URL = "https://datacenter.stix.i4ds.net/api/bsd/info/"
LUT_COLUMNS = (
    "_id", "unique_id", "start_utc", "duration", "type", "subject", "purpose",
    "scaling_factor", "ior_id", "comment",
)  # fmt: skip
_FIRST_DAY = date(2019, 1, 1)
_WINDOW = timedelta(days=30)
_DEFAULT_SCALING = 30


def _description(row: Mapping[str, str]) -> str:
    parts = [row.get(k) or "" for k in ("subject", "purpose", "comment")]
    if not any(parts) and row.get("description"):
        return row["description"]  # the older column set
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class RidLut:
    """The LUT rows, as read (column name -> text)."""

    rows: tuple[dict[str, str], ...]

    def _matching(self, rid: int) -> list[dict[str, str]]:
        return [r for r in self.rows if _as_int(r.get("unique_id")) == rid]

    def get_reason(self, rid: int) -> str:
        """All descriptions of ``rid`` joined with a space (empty if unknown)."""
        return " ".join(_description(r) for r in self._matching(rid))

    def get_scaling_factor(self, rid: int) -> int:
        """Trigger scaling factor of ``rid`` (empty value -> 30).

        Raises
        ------
        ValueError
            If ``rid`` is not exactly once in the LUT.
        """
        rows = self._matching(rid)
        if len(rows) != 1:
            raise ValueError(f"rid {rid} found {len(rows)} times in the RID LUT, need one")
        value = (rows[0].get("scaling_factor") or "").strip()
        return int(float(value)) if value else _DEFAULT_SCALING

    def latest_start(self) -> date | None:
        """The latest ``start_utc`` day in the LUT."""
        days = [_as_day(r.get("start_utc")) for r in self.rows]
        known = [d for d in days if d is not None]
        return max(known) if known else None

    def __len__(self) -> int:
        return len(self.rows)


def _as_int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _as_day(value: str | None) -> date | None:
    try:
        return datetime.fromisoformat(str(value)[:19]).date() if value else None
    except ValueError:
        return None


def read_rid_lut(path: Path | str) -> RidLut:
    """Read a RID LUT CSV (either column set).

    Raises
    ------
    PublishError
        If the file cannot be read or has no ``unique_id`` column.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if "unique_id" not in (reader.fieldnames or []):
                raise PublishError(f"RID LUT has no unique_id column: {path}")
            return RidLut(tuple(dict(r) for r in reader))
    except OSError as err:
        raise PublishError(f"cannot read RID LUT {path}: {err}") from err


def _fetch_url(url: str, timeout_s: float = 30.0) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return resp.headers.get("Content-Type", ""), resp.read().decode("utf-8")


def _parse_answer(content_type: str, text: str) -> list[dict[str, str]]:
    stripped = text.lstrip()
    if "csv" in content_type or not stripped.startswith(("[", "{")):
        return [dict(r) for r in csv.DictReader(io.StringIO(text))]
    data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("data", [])
    return [{k: "" if v is None else str(v) for k, v in rec.items()} for rec in data]


def _windows(start: date, today: date) -> Iterable[tuple[date, date]]:
    while start <= today:
        yield start, start + _WINDOW
        start += _WINDOW


def update_rid_lut(
    path: Path | str,
    url: str = DEFAULT_RID_LUT_URL,
    *,
    today: date,
    pause_s: float = 0.5,
    fetch: Callable[[str], tuple[str, str]] = _fetch_url,
) -> RidLut:
    """Fetch new LUT rows from the API and write the merged LUT back (atomically).

    Starts at 2019-01-01, or at the latest ``start_utc`` of the existing file, and asks the API
    for each 30-day window up to ``today``, pausing ``pause_s`` between calls (the API allows 2
    per second). Rows are de-duplicated on ``unique_id`` and ``_id`` (new rows win) and sorted
    by ``start_utc``. API errors are logged and what was fetched so far is kept, as STIXCore does.

    Returns
    -------
    RidLut
        The merged LUT as written.
    """
    path = Path(path)
    old = read_rid_lut(path) if path.exists() else RidLut(())
    start = old.latest_start() or _FIRST_DAY
    fetched: list[dict[str, str]] = []
    for i, (lo, hi) in enumerate(_windows(start, today)):
        if i:
            time.sleep(pause_s)
        query = f"{url}{lo:%Y%m%d}/{hi:%Y%m%d}"
        try:
            fetched.extend(_parse_answer(*fetch(query)))
        except (OSError, urllib.error.URLError, ValueError) as err:
            logger.error("rid lut update failed url=%s error=%s", query, err)
            break
    merged: dict[tuple[str, str], dict[str, str]] = {}
    for row in (*old.rows, *fetched):
        merged[(row.get("unique_id", ""), row.get("_id", ""))] = row
    rows = sorted(merged.values(), key=lambda r: (r.get("start_utc") or "", r.get("_id") or ""))
    columns = list(dict.fromkeys([*(LUT_COLUMNS if fetched else ()), *_keys(rows)]))
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows({c: r.get(c, "") for c in columns} for r in rows)
    logger.info("rid lut updated file=%s rows=%d new=%d", path.name, len(rows), len(fetched))
    return RidLut(tuple(rows))


def _keys(rows: Iterable[Mapping[str, str]]) -> list[str]:
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return list(keys)
