"""Progress of long command-line work: a bar on a terminal, plain lines otherwise, or nothing.

`Progress` is what ``stix-assets process`` and ``stix-assets demo`` report through while they
work (files, then the level steps). The policy, in one place:

- a terminal on the bar stream (stderr): one line redrawn in place,
  ``ingest |########--------| 5/8 name: TM, 961 packets  3s``, and a plain line per step;
- no terminal (a pipe, a log file, CI): one plain line per item, ``[5/8] name: TM, 961 packets``,
  on the line stream (stdout, or stderr when stdout carries ``--json``);
- ``quiet``: nothing at all (the caller still prints its summary).

Nothing here writes to stdout unless it was given stdout as the line stream, so ``--json`` output
stays clean. No third-party dependency: the bar is a carriage return and a padded line.
"""

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "render_bar"]

_BAR_WIDTH = 24
_DEFAULT_COLUMNS = 100


def render_bar(label: str, i: int, n: int, text: str, *, columns: int, elapsed_s: float) -> str:
    """One bar line, at most ``columns - 1`` characters (no carriage return, no newline).

    Parameters
    ----------
    label : what is counted (``"ingest"``)
    i, n : items done and items in all (``n`` may be 0)
    text : detail of the last item; cut to fit
    columns : terminal width
    elapsed_s : seconds since the bar started

    Examples
    --------
    >>> render_bar("ingest", 2, 4, "a.xml", columns=80, elapsed_s=3.2)
    'ingest |############------------| 2/4 a.xml  3s'
    """
    filled = _BAR_WIDTH if n <= 0 else min(_BAR_WIDTH, round(_BAR_WIDTH * i / n))
    head = f"{label} |{'#' * filled}{'-' * (_BAR_WIDTH - filled)}| {i}/{n}"
    tail = f"  {elapsed_s:.0f}s"
    room = max(columns - 1 - len(head) - len(tail) - 1, 0)
    if len(text) > room:
        text = text[: max(room - 3, 0)] + "..." if room > 3 else ""
    return f"{head} {text}{tail}" if text else f"{head}{tail}"


class Progress:
    """Report steps and counted items of a long task (see the module docstring for the policy).

    Parameters
    ----------
    lines : stream of the plain lines (default ``sys.stdout``; pass ``sys.stderr`` under
        ``--json``)
    bar : stream of the bar (default ``sys.stderr``)
    quiet : report nothing
    use_bar : force the bar on or off (default: on when ``bar`` is a terminal)
    columns : terminal width (default: the width of ``bar``'s terminal, else 100)
    clock : seconds for the elapsed time (default `time.monotonic`)
    """

    def __init__(
        self,
        *,
        lines: TextIO | None = None,
        bar: TextIO | None = None,
        quiet: bool = False,
        use_bar: bool | None = None,
        columns: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lines = lines if lines is not None else sys.stdout
        self._bar = bar if bar is not None else sys.stderr
        self.quiet = quiet
        self.use_bar = (not quiet) and (_is_tty(self._bar) if use_bar is None else use_bar)
        self._columns = columns
        self._clock = clock
        self._started: float | None = None
        self._open = False  # a bar line is drawn and not yet ended

    def step(self, message: str) -> None:
        """Announce a step (``"writing LB files"``): one line in either mode."""
        if self.quiet:
            return
        self._end_bar()
        stream = self._bar if self.use_bar else self._lines
        stream.write(message + "\n")
        stream.flush()

    def update(self, i: int, n: int, text: str = "", *, label: str = "") -> None:
        """Item ``i`` of ``n`` is done: redraw the bar, or write ``[i/n] text``."""
        if self.quiet:
            return
        if not self.use_bar:
            self._lines.write(f"[{i}/{n}] {text}".rstrip() + "\n")
            self._lines.flush()
            return
        now = self._clock()
        if self._started is None or not self._open:
            self._started = now
        line = render_bar(
            label or "progress", i, n, text, columns=self._width(), elapsed_s=now - self._started
        )
        self._bar.write("\r" + line + "\x1b[K")  # erase what a longer previous line left
        self._open = True
        if i >= n:
            self._end_bar()
        self._bar.flush()

    def close(self) -> None:
        """End a bar line still open (call before printing anything else)."""
        self._end_bar()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _end_bar(self) -> None:
        if self._open:
            self._bar.write("\n")
            self._bar.flush()
            self._open = False
            self._started = None

    def _width(self) -> int:
        if self._columns is not None:
            return self._columns
        try:
            return os.get_terminal_size(self._bar.fileno()).columns or _DEFAULT_COLUMNS
        except (OSError, ValueError, AttributeError):  # not a real terminal (a test stream)
            return _DEFAULT_COLUMNS


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a file
        return False
