"""Where a run's time goes: exclusive seconds per step (imports, read, decode, write, ...).

The benchmark (``benchmarks/run.py``) and ``stix-assets process --json`` report these so that a
regression shows which step grew, not only that the run got slower. A step nested in another
counts once: the outer step is charged only its own time (a catalog read inside a build is
"catalog", not also "build"). The clock is per process; worker processes send their totals back
with their results (`stix_assets.core.levels.chain`), so with workers the steps add up to more
than the wall time.

Step names in use: ``startup`` (interpreter and imports before the run starts, from the process
start time), ``imports`` (modules a level loads on first use), ``index`` (TM files parsed and
indexed), ``read`` (product files read back), ``decode`` (IDB parameters), ``write`` (FITS
files written), ``catalog`` (catalog reads and writes), ``manifest`` and ``build`` (the rest of a
level-day).
"""

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import ParamSpec, TypeVar

__all__ = ["add_seconds", "process_age_s", "reset", "step", "step_seconds", "timed"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_TOTALS: dict[str, float] = {}
_STACK: list[list[float]] = []  # [start, time charged to nested steps] per open step


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Charge the time inside the block, minus nested steps, to ``name``."""
    frame = [time.perf_counter(), 0.0]
    _STACK.append(frame)
    try:
        yield
    finally:
        _STACK.pop()
        elapsed = time.perf_counter() - frame[0]
        _TOTALS[name] = _TOTALS.get(name, 0.0) + elapsed - frame[1]
        if _STACK:
            _STACK[-1][1] += elapsed


def timed(name: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorator: every call of the function is a `step` named ``name``."""

    def wrap(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def timed_call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with step(name):
                return fn(*args, **kwargs)

        return timed_call

    return wrap


def add_seconds(totals: Mapping[str, float]) -> None:
    """Add another process's totals (a worker's) to this process's."""
    for name, seconds in totals.items():
        _TOTALS[name] = _TOTALS.get(name, 0.0) + seconds


def step_seconds() -> dict[str, float]:
    """Seconds per step so far in this process (plus what workers sent), rounded to ms."""
    return {name: round(seconds, 3) for name, seconds in sorted(_TOTALS.items())}


def reset() -> None:
    """Start counting from zero (a worker process, a new run in the same process)."""
    _TOTALS.clear()
    _STACK.clear()


def process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``), else None.

    Used for the ``startup`` step: interpreter start-up and the imports before the first line
    of the command run.
    """
    try:
        with open("/proc/self/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    start_ticks = int(fields[19])  # field 22 of stat; the first two fields were split off
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
