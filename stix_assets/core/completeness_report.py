"""The completeness table as a heat map: day x (level, product), one colour per state.

An operator sees the holes of a month at once. The report is a PNG (full size), a small PNG
thumbnail for the Dagster UI (a few KB, metadata stays lean) and an HTML page with the image and
the table's cells, all written atomically under ``<archive>/reports/``.
"""

import datetime as dt
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from stix_assets.core.atomic import atomic_path
from stix_assets.core.completeness import STATE_CODES

__all__ = ["STATE_COLOURS", "CompletenessReport", "render_completeness", "write_completeness"]

STATE_COLOURS = {
    "none": "#ffffff",
    "complete": "#2e7d32",
    "unverified": "#9ccc65",
    "kernels": "#fbc02d",
    "quarantine": "#ef6c00",
    "unexpected": "#42a5f5",
    "missing": "#c62828",
}
"""Colour of each cell state (white: nothing expected, nothing there)."""
_STATES = list(STATE_COLOURS)


@dataclass(frozen=True, slots=True)
class CompletenessReport:
    """What `write_completeness` wrote: the files and the thumbnail bytes."""

    png: Path
    html: Path
    thumbnail: bytes
    totals: Mapping[str, int]


def _matrix(table: Mapping[str, Any]) -> tuple[np.ndarray, list[str], list[dt.date]]:
    start = dt.date.fromisoformat(table["start"])
    end = dt.date.fromisoformat(table["end"])
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    rows = sorted({(c["level"], c["product"]) for c in table["cells"]})
    grid = np.zeros((len(rows), len(days)), dtype=np.int64)
    index = {r: i for i, r in enumerate(rows)}
    for c in table["cells"]:
        day = dt.date.fromisoformat(c["day"])
        grid[index[(c["level"], c["product"])], (day - start).days] = _STATES.index(c["state"])
    return grid, [f"{lvl} {p}" for lvl, p in rows], days


def _figure(table: Mapping[str, Any], *, size_in: tuple[float, float], labels: bool) -> Figure:
    grid, rows, days = _matrix(table)
    fig = Figure(figsize=size_in, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = ListedColormap([STATE_COLOURS[s] for s in _STATES])
    ax.imshow(
        grid if grid.size else np.zeros((1, max(len(days), 1)), dtype=np.int64),
        cmap=cmap, vmin=0, vmax=len(_STATES) - 1, aspect="auto", interpolation="nearest",
    )  # fmt: skip
    if labels:
        ax.set_yticks(range(len(rows)), rows, fontsize=6)
        step = max(1, len(days) // 16)
        ax.set_xticks(range(0, len(days), step), [d.isoformat() for d in days[::step]])
        ax.tick_params(axis="x", labelrotation=90, labelsize=6)
        ax.set_title(f"STIX completeness {table['start']} .. {table['end']}", fontsize=9)
        handles = [Patch(color=STATE_COLOURS[s], label=f"{STATE_CODES[s]} {s}") for s in _STATES]
        fig.legend(handles=handles, loc="outside right upper", fontsize=6)
    else:
        ax.set_axis_off()
    return fig


def render_completeness(
    table: Mapping[str, Any], *, thumbnail_px: tuple[int, int] = (160, 80)
) -> tuple[bytes, bytes]:
    """Full-size PNG and thumbnail PNG of a completeness table (`completeness_table`)."""
    _, rows, _ = _matrix(table)
    full = _figure(table, size_in=(10.0, max(3.0, 0.12 * len(rows) + 1.5)), labels=True)
    thumb = _figure(table, size_in=(thumbnail_px[0] / 40, thumbnail_px[1] / 40), labels=False)
    return _png(full, dpi=100), _png(thumb, dpi=40)


def _png(fig: Figure, *, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.canvas.print_figure(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _html(table: Mapping[str, Any], png_name: str) -> str:
    bad = [c for c in table["cells"] if c["state"] not in ("complete", "none")]
    rows = "".join(
        f"<tr><td>{html.escape(c['day'])}</td><td>{html.escape(c['level'])}</td>"
        f"<td>{html.escape(c['product'])}</td><td>{html.escape(c['state'])}</td></tr>"
        for c in bad
    )
    totals = ", ".join(f"{k}: {v}" for k, v in sorted(table["totals"].items()))
    return (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>STIX completeness {table['start']} .. {table['end']}</title>"
        f"<h1>STIX completeness {table['start']} .. {table['end']}</h1><p>{totals}</p>"
        f"<img src='{png_name}' alt='completeness heat map'>"
        "<h2>Cells that are not complete</h2><table><tr><th>day<th>level<th>product<th>state"
        f"{rows}</table>"
    )


def write_completeness(table: Mapping[str, Any], folder: Path | str) -> CompletenessReport:
    """Write ``completeness_<start>_<end>.png`` and ``.html`` into ``folder`` (atomically)."""
    folder = Path(folder)
    stem = f"completeness_{table['start']}_{table['end']}"
    full, thumb = render_completeness(table)
    png, page = folder / f"{stem}.png", folder / f"{stem}.html"
    with atomic_path(png) as tmp:
        tmp.write_bytes(full)
    with atomic_path(page) as tmp:
        tmp.write_text(_html(table, png.name), encoding="utf-8")
    return CompletenessReport(png, page, thumb, dict(table["totals"]))
