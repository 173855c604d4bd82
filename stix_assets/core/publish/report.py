"""What one publish run did: one `FileOutcome` per candidate, summed up in a `PublishReport`.

Every file the run looked at is counted once, in one of four totals:

* **delivered**: PUBLISHED and MODIFIED (supplement) outcomes;
* **refused**: REFUSED, the archive file failed checksum verification (`verify`);
* **errors**: ERROR outcomes (unreadable file, max supplement error, a delivered copy that failed
  verification and was removed);
* **skipped**, by reason: the files not due (`Selection.skipped`: waiting period, already
  decided, filters) and the candidates decided but not delivered (IGNORED, BLACKLISTED, SKIPPED,
  with the reason key of `stix_assets.core.publish.rules.Decision.skip`).

STIXCore's mail subject ``E<n> I<n> S<n> P<n>`` (I = IGNORED + BLACKLISTED) stays available as
`PublishReport.stixcore_summary`; STIXCore counted neither skipped nor refused files.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from stix_assets.core.publish.candidates import Selection

__all__ = ["DELIVERED_REPORTS", "SKIPPED_REPORTS", "FileOutcome", "PublishReport"]

DELIVERED_REPORTS = ("PUBLISHED", "MODIFIED")
SKIPPED_REPORTS = ("IGNORED", "BLACKLISTED", "SKIPPED")
_MAX_LISTED = 50


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one candidate.

    ``report`` is PUBLISHED, MODIFIED, IGNORED, BLACKLISTED, ERROR, REFUSED (failed checksum
    verification, never delivered), or SKIPPED (not decided, offered again next run).
    ``skip_reason`` is the short reason key of IGNORED, BLACKLISTED and SKIPPED outcomes.
    """

    source: str
    report: str
    reason: str
    name: str
    delivered_name: str | None = None
    version: int | None = None
    data_version: str | None = None
    supersedes: str | None = None
    skip_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain values."""
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class PublishReport:
    """Result of `stix_assets.core.publish.publish_archive`."""

    outcomes: tuple[FileOutcome, ...]
    selection: Selection
    reconciled: tuple[str, ...] = ()
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        """Outcomes per report group."""
        return dict(Counter(o.report for o in self.outcomes))

    def of(self, *reports: str) -> list[FileOutcome]:
        """Outcomes in the given groups."""
        return [o for o in self.outcomes if o.report in reports]

    def skipped_by_reason(self) -> dict[str, int]:
        """Files not delivered and not failed, per reason (not due + decided not to deliver)."""
        reasons = Counter(self.selection.skipped)
        reasons.update(o.skip_reason or o.reason for o in self.of(*SKIPPED_REPORTS))
        return dict(sorted(reasons.items()))

    def totals(self) -> dict[str, int]:
        """Files delivered, refused, failed (errors) and skipped."""
        return {
            "delivered": len(self.of(*DELIVERED_REPORTS)),
            "refused": len(self.of("REFUSED")),
            "errors": len(self.of("ERROR")),
            "skipped": sum(self.skipped_by_reason().values()),
        }

    def stixcore_summary(self) -> str:
        """STIXCore's mail subject counts: ``E<n> I<n> S<n> P<n>`` (I includes BLACKLISTED)."""
        c = self.counts()
        ignored = c.get("IGNORED", 0) + c.get("BLACKLISTED", 0)
        return f"E{c.get('ERROR', 0)} I{ignored} S{c.get('MODIFIED', 0)} P{c.get('PUBLISHED', 0)}"

    def summary(self) -> str:
        """One line: the four totals, the skip reasons, then STIXCore's counts.

        ``delivered 3, refused 1, errors 2, skipped 4 (blacklisted 1, re-requested data 3)
        | E2 I4 S2 P1``
        """
        t = self.totals()
        why = ", ".join(f"{k} {n}" for k, n in self.skipped_by_reason().items())
        return (
            f"delivered {t['delivered']}, refused {t['refused']}, errors {t['errors']}, "
            f"skipped {t['skipped']}{f' ({why})' if why else ''} | {self.stixcore_summary()}"
        )

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata and ``--json`` (lists cut to 50 entries)."""

        def listed(*reports: str) -> list[dict[str, Any]]:
            return [o.as_dict() for o in self.of(*reports)[:_MAX_LISTED]]

        selection = self.selection.as_metadata()
        return {
            "summary": self.summary(),
            "stixcore_summary": self.stixcore_summary(),
            "totals": self.totals(),
            "counts": self.counts(),
            "skipped_by_reason": self.skipped_by_reason(),
            "delivered": listed(*DELIVERED_REPORTS),
            "refused": listed("REFUSED"),
            "errors": listed("ERROR"),
            "conflicted": listed("MODIFIED", "ERROR"),
            "skipped": listed(*SKIPPED_REPORTS),
            "reconciled": list(self.reconciled),
            "dry_run": self.dry_run,
            "n_candidates": selection["n_candidates"],
            "not_due_by_reason": selection["skipped_by_reason"],
            "waiting_files": selection["waiting_files"],
        }
