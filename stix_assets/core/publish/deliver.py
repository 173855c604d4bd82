"""SOAR delivery of the due archive files: STIXCore's ``publish.py`` (domain reference 10).

`publish_archive` settles crashed deliveries (`PublishHistory.reconcile`), selects the due files
(`select_candidates`), decides each one (`stix_assets.core.publish.rules.decide`), stages the
delivered copy (`stage_delivery`), records it as pending, transfers it and records it as done.

A transfer failure (read-only or full target, SSH down) stops the run with `PublishError`: the
failed file has no history row (it is offered again next run); files delivered before it stay
delivered and recorded. A file that cannot be read is recorded as ERROR and the run goes on
(it is offered again once it changes).
"""

import logging
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from astropy.io import fits

from stix_assets.core.catalog import Catalog, CatalogBusyError
from stix_assets.core.errors import PublishError
from stix_assets.core.fits import atomic_path
from stix_assets.core.publish.candidates import Candidate, PublishFilters, Selection
from stix_assets.core.publish.candidates import select_candidates as _select
from stix_assets.core.publish.fitsedit import (
    EPHEMERIS_LEVELS,
    HeaderEdits,
    ProductFileError,
    data_start,
    data_version,
    stage_delivery,
)
from stix_assets.core.publish.history import RESULT_CODES, PublishHistory, new_row_id
from stix_assets.core.publish.names import SoarName
from stix_assets.core.publish.ridlut import RidLut
from stix_assets.core.publish.rules import Decision, decide
from stix_assets.core.publish.transfer import Target, TransferHooks, file_sha256
from stix_assets.core.spice import LoadedKernels

__all__ = [
    "FUTURE_LIMIT",
    "FileOutcome",
    "PublishConfig",
    "PublishReport",
    "publish_archive",
]

logger = logging.getLogger(__name__)

FUTURE_LIMIT = timedelta(days=7)
_MAX_LISTED = 50


@dataclass(frozen=True, slots=True)
class PublishConfig:
    """Everything one publish run needs besides the catalog, the time and the kernels.

    Attributes
    ----------
    fits_dir : archive root scanned for candidates
    target : delivery folder
    same_esa_name_dir : folder for files beyond the second supplement
    filters : candidate selection
    rid_lut : for the BSD comments (None: reason left empty)
    blacklist : file names never delivered
    supplement_report : TSV appended with one row per supplement (None: not written)
    dry_run : decide and report only; nothing is written
    product_day : only files dated on this day (the Dagster partition)
    """

    fits_dir: Path
    target: Target
    same_esa_name_dir: Path
    filters: PublishFilters = field(default_factory=PublishFilters)
    rid_lut: RidLut | None = None
    blacklist: frozenset[str] = frozenset()
    supplement_report: Path | None = None
    dry_run: bool = False
    product_day: date | None = None


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one candidate.

    ``report`` is PUBLISHED, MODIFIED, IGNORED, BLACKLISTED, ERROR, or SKIPPED (not decided,
    offered again next run).
    """

    source: str
    report: str
    reason: str
    name: str
    delivered_name: str | None = None
    version: int | None = None
    data_version: str | None = None
    supersedes: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class PublishReport:
    """Result of `publish_archive`."""

    outcomes: tuple[FileOutcome, ...]
    selection: Selection
    reconciled: tuple[str, ...] = ()
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        """Outcomes per report group."""
        return dict(Counter(o.report for o in self.outcomes))

    def summary(self) -> str:
        """STIXCore's mail subject counts: ``E<n> I<n> S<n> P<n>`` (I includes BLACKLISTED)."""
        c = self.counts()
        ignored = c.get("IGNORED", 0) + c.get("BLACKLISTED", 0)
        return f"E{c.get('ERROR', 0)} I{ignored} S{c.get('MODIFIED', 0)} P{c.get('PUBLISHED', 0)}"

    def of(self, *reports: str) -> list[FileOutcome]:
        """Outcomes in the given groups."""
        return [o for o in self.outcomes if o.report in reports]

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata (lists cut to 50 entries)."""

        def listed(*reports: str) -> list[dict[str, Any]]:
            return [o.as_dict() for o in self.of(*reports)[:_MAX_LISTED]]

        return {
            "summary": self.summary(),
            "counts": self.counts(),
            "delivered": listed("PUBLISHED", "MODIFIED"),
            "conflicted": listed("MODIFIED", "ERROR"),
            "skipped": listed("IGNORED", "BLACKLISTED", "SKIPPED"),
            "reconciled": list(self.reconciled),
            "dry_run": self.dry_run,
            **self.selection.as_metadata(),
        }


def _is_future(cand: Candidate, now: datetime) -> bool:
    if not cand.name.is_fits:
        return False
    start = data_start(fits.getheader(cand.path))
    return start is not None and start > now + FUTURE_LIMIT


def _bsd_comment(name: SoarName, rid_lut: RidLut | None) -> str | None:
    rid = name.request_id
    if not name.is_fits or rid is None:
        return None
    reason = rid_lut.get_reason(rid) if rid_lut is not None else ""
    return f"BSD request id: '{rid}' reason: '{reason}'"


def _inputs(catalog: Catalog, path: Path) -> list[str]:
    try:
        row = catalog.product_file(path)
    except CatalogBusyError as err:
        raise PublishError(f"catalog locked, cannot read the lineage of {path.name}") from err
    return list(row["inputs"] or []) if row else []


class _Run:
    """State of one publish run (kept out of the public API)."""

    def __init__(
        self,
        config: PublishConfig,
        catalog: Catalog,
        history: PublishHistory,
        *,
        now: datetime,
        kernels: LoadedKernels | None,
        run_id: str | None,
        hooks: TransferHooks,
        scratch: Path,
    ) -> None:
        self.config, self.catalog, self.history = config, catalog, history
        self.now, self.kernels, self.run_id, self.hooks = now, kernels, run_id, hooks
        self.scratch = scratch
        self.supplements: list[tuple[str, str, str]] = []

    def row(self, cand: Candidate, d: Decision, dv: str) -> dict[str, Any]:
        return {
            "id": new_row_id(),
            "name": d.published.name,
            "path": str(cand.path.parent),
            "version": d.published.version,
            "p_date": self.now.timestamp(),
            "m_date": cand.mtime,
            "esaname": d.published.esaname,
            "modified_esaname": d.delivered.modified_esaname() if d.supplement else None,
            "result": d.result,
            "state": "done",
            "reason": d.reason,
            "source_name": cand.name.name,
            "source_size": cand.size,
            "identity": d.published.identity,
            "delivered_name": d.delivered.name if d.delivered else None,
            "target": None,
            "data_version": dv,
            "file_sha256": None,
            "supersedes": d.supersedes,
            "inputs": _inputs(self.catalog, cand.path) if not self.config.dry_run else [],
            "product_day": cand.name.product_day(),
            "run_id": self.run_id,
        }

    def edits(self, cand: Candidate, d: Decision, comment: str | None) -> HeaderEdits:
        out = d.delivered or d.published
        comments = [comment] if comment else []
        if d.supplement:
            comments.append(
                f"supplement data product combine with: {d.base_file}. "
                f"Orig filename of this supplement was {d.published.name}."
            )
        stamp = self.now.strftime("%Y-%m-%dT%H:%M:%S")
        return HeaderEdits(
            filename=out.name,
            version=d.published.version if d.published.version != cand.name.version else None,
            comments=tuple(comments),
            refresh_ephemeris=cand.name.is_incomplete and cand.name.level in EPHEMERIS_LEVELS,
            history=(f"published to ESA SOAR as '{out.name}' on {stamp}",),
        )

    def handle(self, cand: Candidate) -> FileOutcome:
        dv = data_version(cand.path)
        d = decide(
            cand.name,
            data_version=dv,
            is_future=_is_future(cand, self.now),
            history=self.history,
            blacklist=self.config.blacklist,
        )
        base = FileOutcome(
            cand.name.name, d.report, d.reason, d.published.name,
            d.delivered.name if d.delivered else None, d.published.version, dv, d.supersedes,
        )  # fmt: skip
        if self.config.dry_run:
            self.history.rows.append(self.row(cand, d, dv))
            return base
        comment = _bsd_comment(cand.name, self.config.rid_lut)
        if d.delivered is None and not d.conflict_copy:
            self.history.upsert(self.row(cand, d, dv))
            return base
        edits = self.edits(cand, d, comment)
        if edits.refresh_ephemeris and self.kernels is None:
            return FileOutcome(cand.name.name, "SKIPPED", "no SPICE kernels to refresh the ephemeris header", d.published.name)  # fmt: skip
        staged = self.scratch / edits.filename
        stage_delivery(cand.path, staged, edits, now=self.now, kernels=self.kernels)
        if d.conflict_copy:
            return self.conflict_copy(cand, d, dv, staged, base)
        self.deliver(cand, d, dv, staged)
        if d.supplement:
            self.supplements.append((edits.filename, d.base_file or "", comment or ""))
        return base

    def conflict_copy(
        self, cand: Candidate, d: Decision, dv: str, staged: Path, base: FileOutcome
    ) -> FileOutcome:
        target = self.config.same_esa_name_dir / staged.name
        try:
            with atomic_path(target) as tmp:
                tmp.write_bytes(staged.read_bytes())
        except OSError as err:
            raise PublishError(f"cannot copy {staged.name} to {target.parent}: {err}") from err
        self.history.upsert({**self.row(cand, d, dv), "target": f"localhost:{target.parent}"})
        logger.error("publish max supplement error file=%s copied_to=%s", cand.name.name, target)
        return base

    def deliver(self, cand: Candidate, d: Decision, dv: str, staged: Path) -> None:
        row = {
            **self.row(cand, d, dv),
            "state": "pending",
            "target": self.config.target.label,
            "file_sha256": file_sha256(staged),
        }
        name = row["delivered_name"]
        self.history.upsert(row)
        try:
            self.config.target.put(staged, name, self.hooks)
        except PublishError:
            self.history.delete(row["id"], what=f"pending row of {name} left for the next run")
            raise
        self.history.upsert(
            {**row, "state": "done"},
            what=f"{name} was delivered; the next run records it (reconcile)",
        )
        logger.info("publish delivered file=%s as=%s result=%s", cand.name.name, name, d.report)


def _append_supplement_report(path: Path, rows: Sequence[tuple[str, str, str]]) -> None:
    if not rows:
        return
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        if new:
            fh.write("filename\tbasefile\tcomment\n")
        fh.writelines(f"{a}\t{b}\t{c}\n" for a, b, c in rows)


def publish_archive(
    config: PublishConfig,
    catalog: Catalog,
    *,
    now: datetime,
    kernels: LoadedKernels | None = None,
    run_id: str | None = None,
    hooks: TransferHooks | None = None,
) -> PublishReport:
    """Deliver the due files of ``config.fits_dir`` to ``config.target`` and record them.

    Parameters
    ----------
    config : the run's options
    catalog : holds the publish history
    now : timezone-aware current time (waiting period, future guard, HISTORY stamps)
    kernels : loaded flown-only kernels for the ephemeris refresh of L1/L2/ANC ``U`` files
        (None: those files are SKIPPED and offered again next run)
    run_id : recorded in the history (Dagster run id)
    hooks : transfer callbacks (tests)

    Raises
    ------
    PublishError
        If the history is locked (nothing delivered), the target is not writable, or a transfer
        fails (that file is not recorded; files before it stay delivered and recorded).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    history = PublishHistory(catalog, dry_run=config.dry_run)
    if not config.dry_run:
        config.target.check_writable()
    reconciled = () if config.dry_run else tuple(history.reconcile(config.target))
    selection = _select(
        config.fits_dir,
        config.filters,
        now=now.timestamp(),
        decided=history.decided(),
        decided_names=history.imported_names(),
        product_day=config.product_day,
    )
    outcomes: list[FileOutcome] = []
    with tempfile.TemporaryDirectory(prefix="stix-publish-") as scratch:
        run = _Run(
            config, catalog, history, now=now, kernels=kernels, run_id=run_id,
            hooks=hooks or TransferHooks(),
            scratch=Path(scratch),
        )  # fmt: skip
        try:
            outcomes.extend(_handle_one(run, cand) for cand in selection.candidates)
        finally:
            if config.supplement_report is not None and not config.dry_run:
                _append_supplement_report(config.supplement_report, run.supplements)
    report = PublishReport(tuple(outcomes), selection, reconciled, config.dry_run)
    logger.info("publish done summary=%s dry_run=%s", report.summary(), config.dry_run)
    return report


def _handle_one(run: _Run, cand: Candidate) -> FileOutcome:
    """`_Run.handle` with unreadable files recorded as ERROR (transfer errors propagate)."""
    try:
        return run.handle(cand)
    except ProductFileError as err:
        logger.error("publish error file=%s error=%s", cand.name.name, err)
        complete = cand.name.complete()
        decision = Decision("ERROR", RESULT_CODES["ERROR"], str(err), complete)
        if not run.config.dry_run:
            run.history.upsert(run.row(cand, decision, ""))
        return FileOutcome(cand.name.name, "ERROR", str(err), complete.name)
