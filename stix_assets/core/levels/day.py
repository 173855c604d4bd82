"""`build_level_day`: the one function that builds one level of one day, for every route.

It takes the level-day's inputs from the catalog for the whole input window
(`stix_assets.core.levels.windows`), builds, writes every file atomically (temporary file, then
rename) and records the files in the catalog. A day is always rebuilt from everything known for
it, so the archive does not depend on the order, grouping or repetition of TM deliveries, nor on
the route (CLI, ``--dagster``, assets, sensors, ``reprocess``, demo).

Two processes may build the same level-day at once (two CLI runs, a CLI run and the daemon): the
level-day is built under an exclusive lock (a file under ``<archive>/.locks/``), and the
catalog rows are stamped after the rename, under the lock, so the row of a file always carries the
sha256 of the bytes that ended in place.

A level-day is all or none (docs/decisions.md, issue 10): its files are written to temporary files
first (`stix_assets.core.atomic.StagedWrites`), so a full disk strikes before any is in place;
then all are renamed and recorded. If the catalog refuses the record, the previous files are put
back. Either way the archive and the catalog agree: every recorded file is in place with its
sha256, and no product file is there that the catalog does not know.
"""

import contextlib
import dataclasses
import datetime as dt
import fcntl
import logging
import os
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stix_assets.core.atomic import StagedWrites
from stix_assets.core.catalog import Catalog
from stix_assets.core.errors import TMFileError
from stix_assets.core.filesystem import write_error
from stix_assets.core.fits import remove_stale_temporaries
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import TmIndex, index_tm_file
from stix_assets.core.levels.inputs import tm_inputs, upstream_files
from stix_assets.core.levels.quarantine import level_issues, quarantine_records
from stix_assets.core.levels.records import file_records
from stix_assets.core.levels.windows import LEVELS, products_at
from stix_assets.core.products.l0_writer import l0_start_day
from stix_assets.core.products.registry import BASE_PROCESSING_VERSION
from stix_assets.core.spice import LoadedKernels
from stix_assets.core.steps import step
from stix_assets.core.tmtc.gates import PacketGates

__all__ = [
    "LevelContext",
    "LevelDayResult",
    "build_level_day",
    "run_creation_time",
    "stix_conf_tag",
]

logger = logging.getLogger(__name__)

_LOCK_SLOTS = 256


@dataclass(frozen=True, slots=True)
class LevelContext:
    """What every level-day of one run shares: archive, catalog, reference data, provenance.

    Attributes
    ----------
    archive_root : root of the product archive
    catalog : the archive's catalog (inputs are read from it, files are recorded in it)
    store : installed IDB versions
    created : creation time written into the products (``DATE``)
    software_version : ``VERS_SW``
    conf_dir : STIX-CONF root (L0 and later)
    config_version : STIX-CONF tag (``VERS_CFG``)
    run_id : the Dagster run, recorded with each file
    tm_path : where a TM file the catalog names (without a usable path) is found
    tm_indexes : TM files this run has indexed already, by name (not read again)
    gates : packet plausibility limits for TM files indexed again (LB); default no time window
    """

    archive_root: Path
    catalog: Catalog
    store: IdbStore
    created: dt.datetime
    software_version: str
    conf_dir: Path | None = None
    config_version: str = ""
    run_id: str | None = None
    tm_path: Callable[[str], Path] | None = None
    tm_indexes: Mapping[str, TmIndex] = field(default_factory=dict)
    gates: PacketGates | None = None


@dataclass(frozen=True, slots=True)
class LevelDayResult:
    """What one level-day build read, wrote and left out.

    Attributes
    ----------
    level, day : the level (``LB``, ``L0``, ``L1``, ``CAL``) and its partition day
    inputs : the input files (TM files for LB), as read from the catalog
    written : the writer's file results (`LbFileResult`, `L0FileResult`, `L1FileResult`)
    issues : packets, files or products left out, as plain dicts
    build : the level's build object (`L0Build`, `L1Build`, `L2Build`; ``None`` for LB, and
        after `slim`)
    tm_indexes : the indexed TM files (LB only; their sha256 enter the data version)
    n_waiting : incomplete BSD sequences waiting for more TM (L0)
    """

    level: str
    day: dt.date
    inputs: tuple[Path, ...]
    written: tuple[Any, ...]
    issues: tuple[dict[str, object], ...] = ()
    build: Any = None
    tm_indexes: tuple[TmIndex, ...] = ()
    n_waiting: int = 0

    def slim(self) -> "LevelDayResult":
        """The result without the build and the TM indexes (what a worker process sends back)."""
        return dataclasses.replace(self, build=None, tm_indexes=())

    def data_days(self) -> dict[dt.date, set[str]]:
        """Day of the data of each file written -> products (what the next level's window reads).

        A daily file's day is its partition day; a BSD L0 file's is the SCET day of its data start
        (from its name), which may lie long before the day its TM arrived.
        """
        out: dict[dt.date, set[str]] = {}
        for r in self.written:
            day = getattr(r, "scet_day", None) or getattr(r, "utc_day", None)
            if day is None and self.level == "L0":
                day = l0_start_day(Path(r.path).name)
            out.setdefault(day or self.day, set()).add(r.product_key)
        return out


def build_level_day(
    level: str,
    day: dt.date,
    ctx: LevelContext,
    *,
    products: Collection[str] | None = None,
    kernels: LoadedKernels | None = None,
) -> LevelDayResult:
    """Build, write and record one level of one day from everything the catalog knows for it.

    Parameters
    ----------
    level : ``"LB"``, ``"L0"``, ``"L1"`` or ``"CAL"``
    day : SCET day (LB, L0) or UTC day (L1, CAL)
    ctx : the run's shared context
    products : only these registry keys (default: every product of the level)
    kernels : the loaded SPICE kernel set (L1 and CAL)

    Returns
    -------
    LevelDayResult

    Raises
    ------
    ValueError
        For an unknown level, or L0+ without ``ctx.conf_dir``, or L1/CAL without ``kernels``.
    ArchiveWriteError
        If a file cannot be written (`DiskFullError`, `ArchiveReadOnlyError`, ...); the
        level-day's previous files and catalog rows stay as they were.
    CatalogError
        If the catalog cannot be read or the files cannot be recorded (then the files written
        are taken back and the previous ones put in place again).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    if level != "LB" and ctx.conf_dir is None:
        raise ValueError(f"level {level} needs the STIX-CONF folder (conf_dir)")
    if level in ("L1", "CAL") and kernels is None:
        raise ValueError(f"level {level} needs the loaded SPICE kernels")
    wanted = sorted(products_at(level) if products is None else set(products))
    with step("build"), _level_day_lock(ctx.archive_root, level, day):
        if ctx.catalog.pending_manifests():  # writes spooled under contention become visible
            with step("catalog"):
                ctx.catalog.flush_spool()
        with StagedWrites() as staged:  # every file of the level-day, or none
            result = _BUILDERS[level](day, wanted, ctx, kernels)
            with step("write"):
                staged.commit()
            with step("catalog"):
                _record(ctx, result)  # if this raises, the block puts the previous files back
    for folder in sorted({Path(r.path).parent for r in result.written}):
        remove_stale_temporaries(folder)
    logger.info(
        "level day built level=%s day=%s inputs=%d files=%d issues=%d",
        level, day, len(result.inputs), len(result.written), len(result.issues),
    )  # fmt: skip
    return result


def run_creation_time(source_date_epoch: str | None = None) -> dt.datetime:
    """Creation time of a run's products: now, or the pinned ``SOURCE_DATE_EPOCH`` (s, UTC).

    ``SOURCE_DATE_EPOCH`` is the reproducible-builds convention; with it the CLI and the assets
    write byte-identical files for the same inputs (the routes are compared this way).
    """
    if source_date_epoch:
        return dt.datetime.fromtimestamp(int(source_date_epoch), dt.UTC)
    return dt.datetime.now(dt.UTC)


def stix_conf_tag(conf_dir: Path | None) -> str:
    """STIX-CONF tag of a clone (first line of ``VERSION.TXT``, written by the sync); else ``""``."""
    version_file = Path(conf_dir) / "VERSION.TXT" if conf_dir else None
    if version_file is None or not version_file.is_file():
        return ""
    lines = version_file.read_text().splitlines()
    return lines[0].strip() if lines else ""


@contextlib.contextmanager
def _level_day_lock(archive_root: Path, level: str, day: dt.date) -> Iterator[None]:
    """Exclusive ``flock`` for one level-day, across processes on this host.

    The level-days share a fixed set of lock files (a hash picks one), so a mission's worth of
    days leaves 256 small files, not one per day; two days that share a slot merely wait.
    """
    folder = Path(archive_root) / ".locks"
    slot = zlib.crc32(f"{level}/{day.isoformat()}".encode()) % _LOCK_SLOTS
    lock_file = folder / f"level-day-{slot:03d}.lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o664)
    except OSError as err:
        raise write_error(err, lock_file) from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _record(ctx: LevelContext, result: LevelDayResult) -> None:
    """Record the files written, stamped now (after the rename, under the level-day lock).

    The packets the level left out go to the catalog's quarantine (TM file, position, reason).
    """
    left_out = quarantine_records(result.issues)
    if left_out:
        ctx.catalog.record_quarantine(left_out)
    if not result.written:
        return
    written_at = dt.datetime.now(dt.UTC)
    if result.level == "LB":
        ctx.catalog.record_lb_results(
            file_records(
                result.written, level="LB", written_at=written_at, run_id=ctx.run_id,
                version=BASE_PROCESSING_VERSION,
            ),
            {r.path: r.raw_files for r in result.written},
        )  # fmt: skip
        return
    version = None
    if result.level == "CAL":
        from stix_assets.core.products.l2 import CAL_PROCESSING_VERSION

        version = CAL_PROCESSING_VERSION
    ctx.catalog.record_products(
        file_records(
            result.written, level=result.level, written_at=written_at, run_id=ctx.run_id,
            version=version,
        )
    )  # fmt: skip


# -- one function per level ----------------------------------------------------------------------
def _index(name: str, path: Path | None, ctx: LevelContext) -> TmIndex | None:
    known = ctx.tm_indexes.get(name)
    if known is not None:
        return known
    candidates = [p for p in (path, ctx.tm_path(name) if ctx.tm_path else None) if p is not None]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return index_tm_file(candidate, ctx.store, gates=ctx.gates)
            except (TMFileError, OSError) as err:
                logger.warning("tm input unreadable file=%s error=%s", name, err)
                return None
    logger.warning("tm input missing file=%s (its packets stay in the LB files)", name)
    return None


def _build_lb(
    day: dt.date, wanted: Sequence[str], ctx: LevelContext, _kernels: object
) -> LevelDayResult:
    from stix_assets.core.products.lb import write_lb

    inputs = tm_inputs(ctx.catalog, day, wanted)
    indexes = [ix for name, path in inputs if (ix := _index(name, path, ctx)) is not None]
    issues = tuple(
        {"file": name, "reason": "TM file not found or unreadable; LB keeps its earlier packets"}
        for name, _ in inputs
        if not any(ix.tm.name == name for ix in indexes)
    )
    written = write_lb(
        indexes, ctx.archive_root, scet_days={day}, products=wanted, created=ctx.created,
        software_version=ctx.software_version,
    )  # fmt: skip
    return LevelDayResult(
        "LB", day, tuple(Path(ix.tm.path) for ix in indexes), tuple(written), issues,
        tm_indexes=tuple(indexes),
    )  # fmt: skip


def _build_l0(
    day: dt.date, wanted: Sequence[str], ctx: LevelContext, _kernels: object
) -> LevelDayResult:
    from stix_assets.core.products.l0 import build_l0_day
    from stix_assets.core.products.l0_writer import write_l0

    lb_files = upstream_files(ctx.catalog, "L0", day, wanted)
    build = build_l0_day(lb_files, day, ctx.store, ctx.conf_dir, products=wanted)
    written = write_l0(
        build.products, ctx.archive_root, created=ctx.created,
        software_version=ctx.software_version, config_version=ctx.config_version,
    )  # fmt: skip
    issues = level_issues("L0", build.issues, indexed=ctx.tm_indexes, catalog=ctx.catalog)
    return LevelDayResult(
        "L0", day, tuple(lb_files), tuple(written), issues, build, n_waiting=len(build.waiting)
    )


def _build_l1(
    day: dt.date, wanted: Sequence[str], ctx: LevelContext, kernels: LoadedKernels
) -> LevelDayResult:
    from stix_assets.core.products.l1 import build_l1_day, write_l1

    l0_files = upstream_files(ctx.catalog, "L1", day, wanted)
    build = build_l1_day(l0_files, day, ctx.store, kernels, ctx.conf_dir, products=wanted)
    written = write_l1(
        build.products, ctx.archive_root, created=ctx.created,
        software_version=ctx.software_version, config_version=ctx.config_version,
        needs_reprocessing=build.needs_reprocessing,
    )  # fmt: skip
    issues = tuple(i.as_dict() for i in build.issues)
    return LevelDayResult("L1", day, tuple(l0_files), tuple(written), issues, build)


def _build_cal(
    day: dt.date, wanted: Sequence[str], ctx: LevelContext, kernels: LoadedKernels
) -> LevelDayResult:
    from stix_assets.core.products.l2 import build_l2_day, write_l2

    l1_files = upstream_files(ctx.catalog, "CAL", day, wanted)
    build = build_l2_day(l1_files, day, conf_dir=ctx.conf_dir, kernels=kernels, products=wanted)
    written = write_l2(
        build.products, ctx.archive_root, created=ctx.created,
        software_version=ctx.software_version, config_version=ctx.config_version,
    )  # fmt: skip
    issues = tuple(i.as_dict() for i in build.issues)
    return LevelDayResult("CAL", day, tuple(l1_files), tuple(written), issues, build)


_BUILDERS: Mapping[str, Callable[..., LevelDayResult]] = {
    "LB": _build_lb,
    "L0": _build_l0,
    "L1": _build_l1,
    "CAL": _build_cal,
}
