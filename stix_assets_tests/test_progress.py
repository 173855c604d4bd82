"""The CLI progress reporter: a bar on a terminal, plain lines otherwise, nothing when quiet."""

import io
import os
import re

import pytest

from stix_assets.core.progress import Progress, render_bar


class _Tty(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _ticks():
    t = iter(range(1000))
    return lambda: float(next(t))


def test_plain_lines_when_not_a_terminal():
    lines, bar = io.StringIO(), io.StringIO()
    with Progress(lines=lines, bar=bar) as progress:
        assert progress.use_bar is False
        progress.step("writing LB: 2 TM files")
        progress.update(1, 2, "a.xml: TM, 10 packets", label="files")
        progress.update(2, 2, "b.xml: TM, 3 packets", label="files")
    assert lines.getvalue().splitlines() == [
        "writing LB: 2 TM files",
        "[1/2] a.xml: TM, 10 packets",
        "[2/2] b.xml: TM, 3 packets",
    ]
    assert bar.getvalue() == ""


def test_bar_on_a_terminal_redraws_one_line_then_ends_it():
    lines, bar = io.StringIO(), _Tty()
    progress = Progress(lines=lines, bar=bar, columns=80, clock=_ticks())
    assert progress.use_bar is True
    progress.update(1, 3, "a.xml", label="files")
    progress.update(2, 3, "b.xml", label="files")
    assert "\n" not in bar.getvalue()  # still one line, redrawn with carriage returns
    progress.update(3, 3, "c.xml", label="files")
    progress.step("writing LB: 3 TM files")
    progress.close()
    assert lines.getvalue() == ""  # stdout untouched
    out = bar.getvalue()
    frames = out.split("\n")[0].split("\r")[1:]
    assert len(frames) == 3
    assert frames[0].startswith("files |########----------------| 1/3 a.xml")
    assert frames[2].startswith("files |########################| 3/3 c.xml")
    assert all(len(f.removesuffix("\x1b[K")) <= 79 for f in frames)
    assert out.split("\n")[1] == "writing LB: 3 TM files"


def test_a_step_ends_an_unfinished_bar_first():
    bar = _Tty()
    progress = Progress(lines=io.StringIO(), bar=bar, columns=80)
    progress.update(1, 5, "a.xml", label="files")
    progress.step("stopped early")
    assert bar.getvalue().endswith("\nstopped early\n")
    progress.close()  # nothing left to end
    assert bar.getvalue().endswith("\nstopped early\n")


def test_quiet_reports_nothing():
    lines, bar = io.StringIO(), _Tty()
    with Progress(lines=lines, bar=bar, quiet=True) as progress:
        assert progress.use_bar is False
        progress.step("building")
        progress.update(1, 1, "a.xml")
    assert lines.getvalue() == bar.getvalue() == ""


def test_a_real_terminal_is_detected_and_measured():
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            progress = Progress(lines=io.StringIO(), bar=tty)
            assert progress.use_bar is True
            assert progress._width() > 0
            progress.update(1, 1, "x", label="files")
        assert b"files |" in os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize(
    ("i", "n", "filled"),
    [
        (0, 10, 0),
        (5, 10, 12),
        (10, 10, 24),
        (12, 10, 24),  # more items than announced: a full bar, not an overflow
        (0, 0, 24),  # nothing to do is done
    ],
)
def test_render_bar_fill(i, n, filled):
    line = render_bar("files", i, n, "", columns=80, elapsed_s=0.0)
    assert re.match(rf"files \|#{{{filled}}}-{{{24 - filled}}}\| {i}/{n}  0s$", line)


def test_render_bar_cuts_long_names_to_the_terminal():
    name = "TM_BatchRequest.PktTmRaw.SOL.0.2024.135.00.00.00.000.demo@2024.135.08.30.xml: ok"
    line = render_bar("ingest", 3, 7, name, columns=60, elapsed_s=12.4)
    assert len(line) <= 59
    assert line.endswith("...  12s")
    assert render_bar("ingest", 3, 7, name, columns=20, elapsed_s=1.0).endswith("3/7  1s")
