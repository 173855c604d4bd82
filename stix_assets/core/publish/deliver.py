"""SOAR delivery of the due archive files: STIXCore's ``publish.py`` (domain reference 10).

`publish_archive` settles crashed deliveries (`PublishHistory.reconcile`), selects the due files
(`select_candidates`), verifies each one's checksums (`verify_checksums`; a failure is REFUSED and
nothing else happens to the file), decides it (`stix_assets.core.publish.rules.decide`), stages
the delivered copy (`stage_delivery`) and verifies it, records it as pending, transfers it,
verifies the delivered copy (`verify_delivered`) and records it as done. A delivered copy that
fails verification is removed from the target and reported as ERROR; its row keeps
``state='removed'`` and the file is offered again next run.

A transfer failure (read-only or full target, SSH down) stops the run with `PublishError`: the
failed file has no history row (it is offered again next run); files delivered before it stay
delivered and recorded. A file that cannot be read is recorded as ERROR and the run goes on
(it is offered again once it changes).
"""

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from astropy.io import fits

from stix_assets.core.catalog import Catalog, CatalogBusyError
from stix_assets.core.errors import PublishError
from stix_assets.core.fits import atomic_path
from stix_assets.core.publish.candidates import Candidate, PublishFilters
from stix_assets.core.publish.candidates import select_candidates as _select
from stix_assets.core.publish.fitsedit import (
    EPHEMERIS_LEVELS,
    HeaderEdits,
    ProductFileError,
    data_start,
    data_version,
    stage_delivery,
)
from stix_assets.core.publish.history import REMOVED, RESULT_CODES, PublishHistory, new_row_id
from stix_assets.core.publish.names import SoarName
from stix_assets.core.publish.report import FileOutcome, PublishReport
from stix_assets.core.publish.ridlut import RidLut
from stix_assets.core.publish.rules import Decision, decide
from stix_assets.core.publish.transfer import Target, TransferHooks, file_sha256
from stix_assets.core.publish.verify import ChecksumError, verify_checksums, verify_delivered
from stix_assets.core.spice import LoadedKernels

__all__ = ["FUTURE_LIMIT", "PublishConfig", "publish_archive"]

logger = logging.getLogger(__name__)

FUTURE_LIMIT = timedelta(days=7)
_NO_KERNELS = "no SPICE kernels to refresh the ephemeris header"


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

    def row(self, cand: Candidate, d: Decision, dv: str | None) -> dict[str, Any]:
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
        if cand.name.is_fits:
            try:
                verify_checksums(cand.path, what="archive file")
            except ChecksumError as err:
                return self.refuse(cand, err)
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
            d.skip,
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
            return FileOutcome(cand.name.name, "SKIPPED", _NO_KERNELS, d.published.name, skip_reason=_NO_KERNELS)  # fmt: skip
        staged = self.stage(cand, edits)
        if d.conflict_copy:
            return self.conflict_copy(cand, d, dv, staged, base)
        failure = self.deliver(cand, d, dv, staged)
        if failure is not None:
            return FileOutcome(
                cand.name.name, "ERROR", failure, d.published.name, base.delivered_name,
                d.published.version, dv, d.supersedes,
            )  # fmt: skip
        if d.supplement:
            self.supplements.append((edits.filename, d.base_file or "", comment or ""))
        return base

    def refuse(self, cand: Candidate, err: ChecksumError) -> FileOutcome:
        """Record and report an archive file that fails verification (nothing else happens)."""
        logger.error("publish refused file=%s hdu=%s error=%s", cand.name.name, err.hdu, err)
        complete = cand.name.complete()
        decision = Decision("REFUSED", RESULT_CODES["REFUSED"], str(err), complete)
        self.history.upsert(self.row(cand, decision, None))
        return FileOutcome(cand.name.name, "REFUSED", str(err), complete.name)

    def stage(self, cand: Candidate, edits: HeaderEdits) -> Path:
        """The delivered copy in the scratch folder, verified (a failure is an ERROR row)."""
        staged = self.scratch / edits.filename
        stage_delivery(cand.path, staged, edits, now=self.now, kernels=self.kernels)
        if cand.name.is_fits:
            try:
                verify_checksums(staged, what="staged copy")
            except ChecksumError as err:
                raise ProductFileError(f"staging broke the checksums: {err}") from err
        return staged

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

    def deliver(self, cand: Candidate, d: Decision, dv: str, staged: Path) -> str | None:
        """Transfer, verify the delivered copy, record; return why the delivered copy failed."""
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
        try:
            verify_delivered(
                self.config.target, name, sha256=row["file_sha256"], is_fits=cand.name.is_fits
            )
        except ChecksumError as err:
            return self.remove_delivered(row, err)
        self.history.upsert(
            {**row, "state": "done"},
            what=f"{name} was delivered; the next run records it (reconcile)",
        )
        logger.info("publish delivered file=%s as=%s result=%s", cand.name.name, name, d.report)
        return None

    def remove_delivered(self, row: dict[str, Any], err: ChecksumError) -> str:
        """Remove a delivered copy that failed verification; keep its row as ``removed``.

        Raises
        ------
        PublishError
            If it cannot be removed (its row stays pending; reconcile reports it every run).
        """
        name, target = row["delivered_name"], self.config.target
        logger.error("publish delivered copy failed verification file=%s error=%s", name, err)
        try:
            target.remove(name)
        except PublishError as rm_err:
            raise PublishError(
                f"{err}; it could not be removed from {target.label}, remove it by hand"
            ) from rm_err
        reason = f"delivered copy failed verification and was removed from the target: {err}"
        self.history.upsert(
            {**row, "state": REMOVED, "result": RESULT_CODES["ERROR"], "reason": reason},
            what=f"{name} was removed from the target; the next run rolls its row back",
        )
        return reason


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
        If the history is locked (nothing delivered), the target is not writable, a transfer
        fails (that file is not recorded; files before it stay delivered and recorded), or a
        delivered copy failed verification and cannot be removed from the target.

    Notes
    -----
    Per-file problems do not raise: a file failing its checksums is REFUSED, an unreadable file
    or a delivered copy failing verification (removed again) is an ERROR in the report.
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
