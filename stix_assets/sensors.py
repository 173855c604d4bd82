"""Sensors of the ingest path; each body hands plain data to a pure ``plan_*`` function.

``tm_inbox_sensor``
    Lists the incoming folder, takes ``*PktTmRaw*.xml`` files that have settled, adds them as
    ``tm_files`` partitions (existing ones are left as they are) and requests ``tm/raw`` for each
    new or changed file. The cursor is a high-water mark
    ``(arrival_ns, name)``; arrival is the later of mtime and ctime, because rsync (``-t``) and
    ``cp -p`` give a late file an old mtime, while ctime is set by the kernel when the file is
    created or renamed into the folder, so a late file with an old mtime is not skipped forever.
    Its cost follows the new files, not the folder (issue 12): while the folder's mtime is the
    one a complete listing saw (kept in the cursor), nothing was added, removed or renamed and
    the tick lists nothing; a listing stats only entries whose (name, inode) it has not seen,
    and every file again once an hour (a file rewritten in place keeps its inode).
``tm_to_days_sensor``
    Reads new ``tm/raw`` materializations after a storage-id cursor (all of them, in order; an
    ``asset_sensor`` would see only the latest) and requests one LB run per SCET day they
    touched, for the products touched that day.
``spice_kernel_sensor``
    Compares the names of the kernel store's latest meta-kernels with its cursor first (one
    listing of ``mk/``) and stops there when they are unchanged. On a new set it takes the L1
    (product, day) pairs whose files need reprocessing from the catalog in one query, reads the
    kernel coverage their latest materialization recorded (only those partitions), computes the
    new coverage once for all those days and requests the days the new set covers better.

The cursors live in the Dagster instance, so they survive a daemon restart.
"""

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from stix_assets.assets._results import (
    LB_GROUP,
    TM_RAW_KEY,
    days_touched_from_metadata,
    lb_asset_key,
)
from stix_assets.core.ephemeris import coverage_by_day
from stix_assets.core.products.registry import PRODUCTS
from stix_assets.core.spice import kernel_set_name, loaded_kernels
from stix_assets.core.tmtc import is_tm_file_name
from stix_assets.partitions import scet_day_key, scet_day_range, tm_files
from stix_assets.resources import StixSettings, sensor_interval_s

__all__ = [
    "DayRequest",
    "DaysPlan",
    "InboxCursor",
    "InboxFile",
    "InboxPlan",
    "drop_already_ingested",
    "drop_up_to_date",
    "ingested_stamps",
    "plan_days",
    "plan_inbox",
    "plan_spice_reprocess",
    "scan_inbox",
    "spice_kernel_sensor",
    "stix_automation_sensor",
    "tm_inbox_sensor",
    "tm_to_days_sensor",
]

logger = logging.getLogger(__name__)

INBOX_LIMIT = 200
"""Most files one inbox tick takes; the rest follow on the next ticks (sensor timeout is 60 s)."""
INBOX_FULL_SCAN_S = 3600.0
"""Every file of the incoming folder is stat'ed again at least this often (s); in between only
new or replaced entries are, and an unchanged folder is not listed at all."""
FOLDER_MTIME_MARGIN_S = 2.0
"""A folder mtime this close to the listing (s) is not trusted for the next tick: an entry added
in the same clock step would leave it unchanged (2 s covers the coarsest file-system clocks)."""
RECORDS_LIMIT = 500
SENSOR_INTERVAL_S = sensor_interval_s()
"""Tick interval of the inbox and TM-days sensors (and the BSD-days sensor), fixed at load."""


# -- tm_inbox_sensor -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InboxFile:
    """One entry of the incoming folder: name, ``os.stat`` times (ns), size and inode."""

    name: str
    mtime_ns: int
    ctime_ns: int
    size: int
    inode: int = 0

    @property
    def arrival_ns(self) -> int:
        """When the file last changed in this folder: the later of mtime and ctime."""
        return max(self.mtime_ns, self.ctime_ns)

    @property
    def mark(self) -> tuple[int, str]:
        """Position of the file in the cursor's order."""
        return (self.arrival_ns, self.name)

    @property
    def run_key(self) -> str:
        """Run key: a changed file (new mtime or size) gets a new run, an unchanged one never."""
        return f"{self.name}:{self.mtime_ns}:{self.size}"


@dataclass(frozen=True, slots=True)
class InboxPlan:
    """What one inbox tick does: files to add and run, the new cursor mark, files still settling."""

    new_files: tuple[InboxFile, ...]
    mark: tuple[int, str] | None
    n_settling: int
    n_deferred: int = 0  # settled files left for the next tick by the limit


def scan_inbox(folder: Path, *, known: Mapping[str, InboxFile] | None = None) -> list[InboxFile]:
    """List the TM files (``*PktTmRaw*.xml``) of ``folder``; an absent folder is empty.

    Parameters
    ----------
    folder : the incoming folder
    known : the previous listing by name; an entry with the same name and inode is taken from
        it without a ``stat`` (the directory entry gives name, type and inode for free). A file
        replaced by a rename (rsync, the stage step) has a new inode and is stat'ed; one
        rewritten in place keeps its inode and is seen at the next listing without ``known``.
    """
    if not folder.is_dir():
        return []
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not (is_tm_file_name(entry.name) and entry.is_file()):
                continue
            before = known.get(entry.name) if known is not None else None
            if before is not None and before.inode == entry.inode():
                found.append(before)
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:  # moved away between listing and stat: not ours any more
                logger.debug("tm inbox file vanished name=%s", entry.name)
                continue
            found.append(
                InboxFile(entry.name, st.st_mtime_ns, st.st_ctime_ns, st.st_size, entry.inode())
            )
    return found


def plan_inbox(
    files: Iterable[InboxFile],
    *,
    mark: tuple[int, str] | None,
    now_ns: int,
    settle_time_s: float,
    limit: int = INBOX_LIMIT,
) -> InboxPlan:
    """Pick the settled TM files that arrived or changed after the cursor mark.

    Parameters
    ----------
    files : the folder listing (`scan_inbox`)
    mark : ``(arrival_ns, name)`` of the last file handled, ``None`` on the first tick
    now_ns : current time, ns since the epoch
    settle_time_s : a file counts once it has not changed for this long; while it is written
        its mtime (and size) keep changing, so an unchanged mtime also means a stable size
    limit : most files per tick; the mark stops at the last one taken

    Returns
    -------
    InboxPlan
        Files sorted by arrival; the new mark never passes a file that is still settling.

    Notes
    -----
    A file that is already a ``tm_files`` partition is planned again when it changed (it is
    after the mark again): its run key holds mtime and size, so a re-delivered file is
    re-ingested while an unchanged one (only its ctime moved, e.g. ``chmod``) is deduplicated by
    Dagster's run key check.
    """
    settled_before = now_ns - int(settle_time_s * 1e9)
    after = sorted((f for f in files if mark is None or f.mark > tuple(mark)), key=lambda f: f.mark)
    settled = [f for f in after if f.arrival_ns <= settled_before]
    new = tuple(settled[:limit])
    new_mark = new[-1].mark if new else (tuple(mark) if mark is not None else None)
    return InboxPlan(new, new_mark, len(after) - len(settled), len(settled) - len(new))


def drop_already_ingested(
    files: Sequence[InboxFile], ingested: Mapping[str, tuple[int, int]]
) -> tuple[InboxFile, ...]:
    """Leave out files whose last ``tm/raw`` materialization saw the same (mtime_ns, size).

    ``stix-assets process --dagster`` and the demo ingest files without the sensor; this keeps
    the sensor from ingesting them a second time once the daemon runs.
    """
    return tuple(f for f in files if ingested.get(f.name) != (f.mtime_ns, f.size))


def ingested_stamps(
    instance: dg.DagsterInstance, names: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) that the last ``tm/raw`` materialization of each named file recorded."""
    stamps: dict[str, tuple[int, int]] = {}
    for name in names:
        if not instance.has_dynamic_partition(tm_files.name, name):
            continue
        found = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=TM_RAW_KEY, asset_partitions=[name]), limit=1
        )
        if not found.records:
            continue
        meta = found.records[0].asset_materialization.metadata
        mtime, size = meta.get("mtime_ns"), meta.get("size_bytes")
        if mtime is not None and size is not None:
            stamps[name] = (int(mtime.value), int(size.value))
    return stamps


@dataclass(frozen=True, slots=True)
class InboxCursor:
    """The inbox sensor's cursor: JSON ``[arrival_ns, name, folder_mtime_ns, full_scan_ns]``.

    Attributes
    ----------
    mark : ``(arrival_ns, name)`` of the last file handled, ``None`` before the first
    folder_mtime_ns : mtime of the incoming folder at a listing that left nothing behind (no
        file settling, none deferred by the limit), else ``None``; while the folder keeps it,
        no entry was added, removed or renamed, so the next tick needs no listing
    full_scan_ns : when every file was last stat'ed (0: never)
    """

    mark: tuple[int, str] | None = None
    folder_mtime_ns: int | None = None
    full_scan_ns: int = 0

    @classmethod
    def parse(cls, cursor: str | None) -> "InboxCursor":
        """Read a cursor; the two-element form of earlier versions is a bare mark."""
        if not cursor:
            return cls()
        arrival_ns, name, *rest = json.loads(cursor)
        mark = None if arrival_ns is None else (int(arrival_ns), str(name))
        folder = rest[0] if rest else None
        return cls(mark, None if folder is None else int(folder), int(rest[1]) if rest else 0)

    def dumps(self) -> str | None:
        """JSON text, or ``None`` when there is nothing worth keeping yet."""
        if self.mark is None and self.folder_mtime_ns is None:
            return None
        arrival, name = self.mark if self.mark is not None else (None, None)
        return json.dumps([arrival, name, self.folder_mtime_ns, self.full_scan_ns])

    def folder_unchanged(self, folder_mtime_ns: int | None, now_ns: int) -> bool:
        """Whether the folder is as the last complete listing left it and no full scan is due."""
        return (
            folder_mtime_ns is not None
            and folder_mtime_ns == self.folder_mtime_ns
            and now_ns - self.full_scan_ns < INBOX_FULL_SCAN_S * 1e9
        )


_LAST_LISTING: dict[str, dict[str, InboxFile]] = {}
"""The one piece of module state: the last listing of each incoming folder, by name.

Only a cache that spares the ``stat`` of files already seen (`scan_inbox` ``known``); it lives
as long as the code server process and is never the record of what was handled (the cursor
is). A restarted process starts with a full scan."""


def _folder_mtime_ns(folder: Path) -> int | None:
    try:
        return folder.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _list_inbox(folder: Path, cursor: InboxCursor, now_ns: int) -> tuple[list[InboxFile], int]:
    """The folder's TM files and the new ``full_scan_ns`` (now when every file was stat'ed)."""
    due = now_ns - cursor.full_scan_ns >= INBOX_FULL_SCAN_S * 1e9
    known = None if due else _LAST_LISTING.get(str(folder))
    files = scan_inbox(folder, known=known)
    _LAST_LISTING[str(folder)] = {f.name: f for f in files}
    return files, now_ns if known is None else cursor.full_scan_ns


@dg.sensor(
    target=dg.AssetSelection.assets(TM_RAW_KEY),
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def tm_inbox_sensor(context: dg.SensorEvaluationContext, stix: StixSettings) -> dg.SensorResult:
    """Add settled TM files of the incoming folder as partitions and request ``tm/raw`` for each."""
    folder = stix.incoming_path()
    before = InboxCursor.parse(context.cursor)
    now_ns = time.time_ns()
    folder_mtime = _folder_mtime_ns(folder)
    if before.folder_unchanged(folder_mtime, now_ns):
        return dg.SensorResult(
            skip_reason="incoming folder unchanged since the last listing", cursor=context.cursor
        )
    files, full_scan_ns = _list_inbox(folder, before, now_ns)
    plan = plan_inbox(files, mark=before.mark, now_ns=now_ns, settle_time_s=stix.settle_time())
    complete = plan.n_settling == 0 and plan.n_deferred == 0
    trusted = folder_mtime is not None and folder_mtime <= now_ns - FOLDER_MTIME_MARGIN_S * 1e9
    after = InboxCursor(plan.mark, folder_mtime if complete and trusted else None, full_scan_ns)
    cursor = after.dumps() or context.cursor
    stamps = ingested_stamps(context.instance, [f.name for f in plan.new_files])
    new_files = drop_already_ingested(plan.new_files, stamps)
    if not new_files:
        return dg.SensorResult(
            skip_reason=f"no new settled TM files ({plan.n_settling} still settling)",
            cursor=cursor,
        )
    names = [f.name for f in new_files]
    context.log.info("tm inbox new=%d settling=%d", len(names), plan.n_settling)
    return dg.SensorResult(
        dynamic_partitions_requests=[tm_files.build_add_request(names)],
        run_requests=[
            dg.RunRequest(partition_key=f.name, asset_selection=[TM_RAW_KEY], run_key=f.run_key)
            for f in new_files
        ],
        cursor=cursor,
    )


# -- tm_to_days_sensor ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DayRequest:
    """One LB run: a SCET day, the products touched that day, the newest storage id behind it."""

    scet_day: dt.date
    products: tuple[str, ...]
    storage_id: int

    @property
    def run_key(self) -> str:
        """Versioned by storage id, so new TM for a day already run requests it again."""
        return f"{scet_day_key(self.scet_day)}@{self.storage_id}"


@dataclass(frozen=True, slots=True)
class DaysPlan:
    """What one bridge tick does: LB runs per day, days dropped as out of range, new cursor."""

    requests: tuple[DayRequest, ...]
    dropped: tuple[dt.date, ...]
    cursor: int | None


def plan_days(
    records: Sequence[tuple[int, Mapping[str, Sequence[dt.date]]]],
    *,
    cursor: int | None,
    first_day: dt.date,
    last_day: dt.date,
    products: Iterable[str] | None = None,
) -> DaysPlan:
    """Union the days touched by new ``tm/raw`` materializations into one request per day.

    Parameters
    ----------
    records : ``(storage_id, days_touched)`` per materialization, ascending storage id;
        ``days_touched`` maps product key -> SCET days
    cursor : storage id of the last record handled before, ``None`` on the first tick
    first_day, last_day : the partition range; days outside it (bad on-board times) are dropped
    products : product keys that have an LB asset; others are ignored (``None``: keep all)

    Returns
    -------
    DaysPlan
        Requests sorted by day; the cursor is the last storage id seen (or the old cursor).
    """
    products_by_day: dict[dt.date, set[str]] = {}
    newest: dict[dt.date, int] = {}
    dropped: set[dt.date] = set()
    last = cursor
    allowed = None if products is None else set(products)
    for storage_id, days_touched in records:
        last = storage_id if last is None else max(last, storage_id)
        for product, days in days_touched.items():
            if allowed is not None and product not in allowed:
                logger.warning("days_touched names no LB product product=%s", product)
                continue
            for scet_day in days:
                if not first_day <= scet_day <= last_day:
                    dropped.add(scet_day)
                    continue
                products_by_day.setdefault(scet_day, set()).add(product)
                newest[scet_day] = max(newest.get(scet_day, storage_id), storage_id)
    requests = tuple(
        DayRequest(d, tuple(sorted(products_by_day[d])), newest[d]) for d in sorted(products_by_day)
    )
    return DaysPlan(requests, tuple(sorted(dropped)), last)


def drop_up_to_date(
    requests: Sequence[DayRequest], lb_storage_ids: Mapping[tuple[dt.date, str], int]
) -> tuple[DayRequest, ...]:
    """Leave out days whose LB products all materialized after the TM records behind them.

    The CLI route and the demo write LB days themselves; when the daemon starts later, its first
    tick sees their ``tm/raw`` records and would request the same days again.
    """
    return tuple(
        r
        for r in requests
        if not all(lb_storage_ids.get((r.scet_day, p), -1) > r.storage_id for p in r.products)
    )


def _lb_storage_ids(
    instance: dg.DagsterInstance, requests: Sequence[DayRequest]
) -> dict[tuple[dt.date, str], int]:
    ids: dict[tuple[dt.date, str], int] = {}
    for r in requests:
        for product in r.products:
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=lb_asset_key(product), asset_partitions=[scet_day_key(r.scet_day)]
                ),
                limit=1,
            )
            if found.records:
                ids[(r.scet_day, product)] = found.records[0].storage_id
    return ids


@dg.sensor(
    target=dg.AssetSelection.groups(LB_GROUP),
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def tm_to_days_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Request the LB products of each SCET day that new ``tm/raw`` partitions touched."""
    cursor = int(context.cursor) if context.cursor else None
    found = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=TM_RAW_KEY, after_storage_id=cursor),
        limit=RECORDS_LIMIT,
        ascending=True,
    )
    records = [
        (r.storage_id, days_touched_from_metadata(r.asset_materialization.metadata))
        for r in found.records
    ]
    first_day, last_day = scet_day_range(dt.datetime.now(dt.UTC))
    plan = plan_days(
        records,
        cursor=cursor,
        first_day=first_day,
        last_day=last_day,
        products=[p.key for p in PRODUCTS],
    )
    if plan.dropped:
        context.log.warning(
            "scet days outside the partition range dropped n=%d days=%s",
            len(plan.dropped),
            ",".join(d.isoformat() for d in plan.dropped[:10]),
        )
    new_cursor = str(plan.cursor) if plan.cursor is not None else None
    requests = drop_up_to_date(plan.requests, _lb_storage_ids(context.instance, plan.requests))
    if not requests:
        return dg.SensorResult(skip_reason="no new tm/raw days", cursor=new_cursor)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                partition_key=scet_day_key(r.scet_day),
                asset_selection=[lb_asset_key(p) for p in r.products],
                run_key=r.run_key,
                tags={"stix/trigger": "tm"},
            )
            for r in requests
        ],
        cursor=new_cursor,
    )


# -- declarative automation ----------------------------------------------------------------------
stix_automation_sensor = dg.AutomationConditionSensorDefinition(
    "stix_automation_sensor",
    target=dg.AssetSelection.groups("level_0", "level_1", "level_2"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=(
        "Carries updates down the levels (LB -> L0 -> ...) for any day, old days included; "
        "Dagster's default automation sensor starts stopped, this one runs."
    ),
)


# -- spice_kernel_sensor -------------------------------------------------------------------------
_ORBIT_RANK = {None: 0, "predicted": 1, "flown": 2}


def _coverage_rank(cov: Mapping[str, object]) -> tuple[int, int, int, int]:
    return (
        int(bool(cov.get("sclk_valid"))),
        _ORBIT_RANK.get(cov.get("orbit"), 0),  # type: ignore[arg-type]
        int(bool(cov.get("before_flown_mk"))),
        int(bool(cov.get("attitude"))),
    )


def plan_spice_reprocess(
    processed: Mapping[tuple[str, dt.date], Mapping[str, object]],
    new_coverage: Mapping[dt.date, Mapping[str, object]],
) -> dict[dt.date, tuple[str, ...]]:
    """L1 days (and their products) whose kernel coverage the new kernel set improves.

    Parameters
    ----------
    processed : (product key, UTC day) -> the coverage its last L1 run recorded, for the days
        whose files said they need reprocessing
    new_coverage : UTC day -> coverage with the new kernel set

    Returns
    -------
    dict
        UTC day -> product keys to rebuild; a day is requested only if the new set covers it
        strictly better (SCLK interpolated, orbit predicted -> flown, flown MK date, attitude).
    """
    out: dict[dt.date, set[str]] = {}
    for (product, day), old in processed.items():
        new = new_coverage.get(day)
        if new is not None and _coverage_rank(new) > _coverage_rank(old):
            out.setdefault(day, set()).add(product)
    return {day: tuple(sorted(p)) for day, p in sorted(out.items())}


def _candidate_keys(stix: StixSettings) -> dict[str, list[dt.date]] | None:
    """L1 product -> days whose files need reprocessing, from the catalog in one query.

    ``None`` when the catalog is busy (the tick is tried again); no catalog means no candidate.
    """
    from stix_assets.assets.levels import L0_PRODUCTS
    from stix_assets.core.catalog import CatalogBusyError

    if not stix.has_catalog():  # the DuckDB file before the first run (a database always is)
        return {}
    catalog = stix.catalog()
    try:
        rows = catalog.reprocess_candidates("L1")
    except CatalogBusyError as err:
        logger.warning("catalog busy for spice_kernel_sensor error=%s", err)
        return None
    l1_products = {p.key for p in L0_PRODUCTS}
    out: dict[str, list[dt.date]] = {}
    for product, day in rows:
        if product in l1_products:
            out.setdefault(product, []).append(day)
    return out


def _recorded_coverage(
    instance: dg.DagsterInstance, candidates: Mapping[str, Sequence[dt.date]]
) -> dict[tuple[str, dt.date], Mapping[str, object]]:
    """Kernel coverage the latest L1 materialization of each candidate (product, day) recorded.

    Reads only the candidates' partitions (newest first, until each day is seen), so the cost
    follows the days that need reprocessing, not the history. A (product, day) whose latest
    materialization does not say ``needs_reprocessing`` with its ``spice`` coverage is left out.
    """
    latest: dict[tuple[str, dt.date], Mapping[str, object]] = {}
    for product, days in candidates.items():
        wanted = {d.isoformat() for d in days}
        seen: set[str] = set()
        cursor = None
        while seen != wanted:
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey(["l1", product]), asset_partitions=sorted(wanted)
                ),
                limit=RECORDS_LIMIT,
                cursor=cursor,
                ascending=False,
            )
            for rec in found.records:
                mat = rec.asset_materialization
                if mat.partition in seen:
                    continue  # an older materialization of a partition already seen
                seen.add(mat.partition)
                needs, spice = mat.metadata.get("needs_reprocessing"), mat.metadata.get("spice")
                if needs is not None and needs.value and spice is not None and spice.value:
                    latest[(product, dt.date.fromisoformat(mat.partition))] = spice.value
            if not found.has_more:
                break
            cursor = found.cursor
    return latest


@dg.sensor(
    target=dg.AssetSelection.groups("level_1"),
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def spice_kernel_sensor(context: dg.SensorEvaluationContext, stix: StixSettings) -> dg.SensorResult:
    """Report a new kernel set as a data version of ``spice/kernels``; re-request improved days.

    An L1 day whose files said they need reprocessing (predicted orbit, extrapolated SCLK, no
    coverage) is requested again as soon as a new kernel set covers it better: no blind wait.
    """
    store = stix.kernel_store()
    # the set's name (its meta-kernels) first: an unchanged set costs one listing of mk/
    version = kernel_set_name(store)
    if version is None:
        return dg.SensorResult(skip_reason=f"no meta-kernel in {store.root / 'mk'}")
    if version == context.cursor:
        return dg.SensorResult(skip_reason=f"kernel set unchanged: {version}")
    candidates = _candidate_keys(stix)
    if candidates is None:
        return dg.SensorResult(skip_reason="catalog busy; the new kernel set is looked at again")
    processed = _recorded_coverage(context.instance, candidates)
    with loaded_kernels(store) as kernels:
        version = kernels.spice_mk
        days = {day for _, day in processed}
        new_cov = {d: c.as_metadata() for d, c in coverage_by_day(kernels, days).items()}
        meta = kernels.as_metadata()
    plan = plan_spice_reprocess(processed, new_cov)
    event = dg.AssetMaterialization(
        asset_key=dg.AssetKey(["spice", "kernels"]),
        metadata={"meta_kernels": version, **{k: v for k, v in meta.items() if k != "spice_mk"}},
        tags={"dagster/data_version": version},
    )
    return dg.SensorResult(
        asset_events=[event],
        run_requests=[
            dg.RunRequest(
                partition_key=day.isoformat(),
                asset_selection=[dg.AssetKey(["l1", p]) for p in products],
                run_key=f"spice:{version}:{day.isoformat()}",
                tags={"stix/trigger": "spice"},
            )
            for day, products in plan.items()
        ],
        cursor=version,
    )
