"""What the retention job may prune from the Dagster instance, decided without Dagster.

Dagster 1.13 can purge sensor and schedule ticks and delete whole runs; it cannot prune the event
log otherwise. Deleting a run deletes its events, including its asset materializations,
observations and check evaluations, and the asset graph is built from those: delete the run that
holds the latest materialization of a partition and the partition shows as never materialized
(or as an older version). So a run may go only when it is finished successfully, older than the
retention period, and every event it holds for an asset (or check) partition has a newer one of
the same kind from another run. Failed and cancelled runs stay: they are what an operator looks
into, and they make a partition show as failed (docs/decisions.md, "Retention").
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RetentionPolicy", "RunFacts", "run_verdict"]

_TICK_DAYS, _RUN_DAYS, _MAX_RUNS = 30, 90, 500  # the defaults of the [retention] settings


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long the instance keeps ticks and runs (``[retention]`` in the settings).

    Attributes
    ----------
    tick_days : sensor, schedule and automation ticks older than this are purged
    run_days : successful runs that ended longer ago than this may be deleted
    max_runs : runs examined per pass (a backlog continues on the next pass)
    """

    tick_days: int = _TICK_DAYS
    run_days: int = _RUN_DAYS
    max_runs: int = _MAX_RUNS

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> "RetentionPolicy":
        """Build from setting values (``retention_tick_days``, ``retention_run_days``, ...)."""
        policy = cls(
            tick_days=int(values.get("retention_tick_days", _TICK_DAYS)),  # type: ignore[arg-type]
            run_days=int(values.get("retention_run_days", _RUN_DAYS)),  # type: ignore[arg-type]
            max_runs=int(values.get("retention_max_runs", _MAX_RUNS)),  # type: ignore[arg-type]
        )
        if min(policy.tick_days, policy.run_days) < 1 or policy.max_runs < 1:
            raise ValueError(f"retention periods and max_runs must be >= 1, got {policy}")
        return policy

    def tick_cutoff(self, now: dt.datetime) -> dt.datetime:
        """Ticks before this time are purged."""
        return now - dt.timedelta(days=self.tick_days)

    def run_cutoff(self, now: dt.datetime) -> dt.datetime:
        """Runs that ended before this time may be deleted."""
        return now - dt.timedelta(days=self.run_days)


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the verdict needs to know of one run.

    Attributes
    ----------
    run_id : the run
    succeeded : the run finished successfully
    ended_at : when it ended (``None`` if it never ended)
    n_current : asset or check partitions whose latest event of a kind is in this run
    """

    run_id: str
    succeeded: bool
    ended_at: dt.datetime | None
    n_current: int


def run_verdict(facts: RunFacts, *, cutoff: dt.datetime) -> str:
    """``"delete"``, or the reason the run is kept.

    >>> old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    >>> run_verdict(RunFacts("r", True, old, 0), cutoff=old + dt.timedelta(days=1))
    'delete'
    >>> run_verdict(RunFacts("r", True, old, 2), cutoff=old + dt.timedelta(days=1))
    'holds latest events'
    """
    if not facts.succeeded:
        return "not successful"
    if facts.ended_at is None or facts.ended_at >= cutoff:
        return "too recent"
    if facts.n_current:
        return "holds latest events"
    return "delete"
