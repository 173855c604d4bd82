"""Quick-look plots of product files: QL light curves, BSD spectrograms, HK trends.

Plots are products here (docs/decisions.md): a PNG (and for LL03 an SVG) is written next to the
FITS file it shows, and a thumbnail of a few KB (`thumbnail_png`: 192 x 96 px, a 16-colour
palette) can be embedded in Dagster metadata as markdown; the full plot stays next to the product. Library code
never touches pyplot's global state: every figure is a `matplotlib.figure.Figure` rendered through
the Agg canvas, so plotting is safe in worker processes and threads.

Time axis: L1 and later files carry UTC (``TIMESYS = 'UTC'``) and are plotted as UTC. L0 files
carry SCET; with an `stix_assets.core.time.SclkModel` the SCET is converted exactly, otherwise it is
read as seconds after 2000-01-01T00:00 UTC (SCET 0), within about a minute of UTC, and the axis
says so ("SCET, approx. UTC").

Output is deterministic: fixed size and DPI, no timestamps in the PNG/SVG metadata, so the same
file gives the same bytes.
"""

import base64
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from numpy.typing import NDArray

from stix_assets.core.fits import atomic_path, read_fits
from stix_assets.core.time import (
    SCET_EPOCH,
    SclkModel,
    parse_scet_string,
    scet_float,
    scet_to_utc,
    split_scet_seconds,
)

__all__ = [
    "HK_DEFAULT_COLUMNS",
    "PLOT_KIND_BY_PRODUCT",
    "PlotSeries",
    "figure_bytes",
    "markdown_image",
    "plot_hk",
    "plot_lightcurve",
    "plot_product",
    "plot_spectrogram",
    "read_plot_series",
    "thumbnail_png",
    "write_figure",
    "write_png_with_thumbnail",
    "write_quicklook_plot",
]

logger = logging.getLogger(__name__)

FIGSIZE_IN = (8.0, 4.0)
DPI = 100  # 800 x 400 pixels
THUMB_WIDTH_PX = 192
"""Width of a metadata thumbnail (the height follows the figure: 96 px)."""
THUMB_MAX_BYTES = 3000
"""Largest thumbnail PNG: 4 KB once base64-encoded, so an event stays well under 8 KB."""
ATTENUATOR_LABEL = "attenuator in (RCR > 0)"
HK_DEFAULT_COLUMNS = {
    "temperature": ("hk_dpu_pcb_t", "hk_dpu_fpga_t", "hk_att_t", "det_q1_t", "det_q2_t"),
    "voltage": ("hk_dpu_1v5_v", "hk_ref_2v5_v", "hk_hv_01_16_v", "hk_hv_17_32_v", "hk_att_v"),
}
_SCET_EPOCH = np.datetime64(SCET_EPOCH, "us")
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
}


@dataclass(frozen=True, slots=True)
class PlotSeries:
    """What a plot needs from a product file.

    Attributes
    ----------
    name : file name (the plot title)
    time : bin centres, ``datetime64[us]``
    timedel_s : bin durations (s)
    utc : True when ``time`` is UTC; False when it is SCET read as UTC (approximate)
    columns : DATA columns by name (``counts``, ``rcr``, HK parameters, ...)
    units : DATA column -> ``TUNIT``
    energies : ``e_low``/``e_high`` (keV) of the energy axis, if the file has ENERGIES
    """

    name: str
    time: NDArray[np.datetime64]
    timedel_s: NDArray[np.float64]
    utc: bool
    columns: dict[str, NDArray]
    units: dict[str, str]
    energies: dict[str, NDArray] | None = None

    @property
    def time_label(self) -> str:
        """Axis label that says which time scale is shown."""
        return "time (UTC)" if self.utc else "time (SCET, approx. UTC: no clock correction)"


def _seconds(values: NDArray) -> NDArray[np.float64]:
    scale = 100.0 if np.issubdtype(values.dtype, np.integer) else 1.0
    return values.astype(np.float64) / scale


def read_plot_series(path: Path | str, *, sclk: SclkModel | None = None) -> PlotSeries:
    """Read the DATA time axis and columns of an L0 or later product file.

    Parameters
    ----------
    path : the FITS file
    sclk : convert SCET (L0) to UTC with this clock model; without it SCET is read as UTC
    """
    path = Path(path)
    content = read_fits(path)
    data = content.tables["DATA"]
    units = {
        content.headers["DATA"].get(f"TTYPE{i}"): content.headers["DATA"].get(f"TUNIT{i}", "")
        for i in range(1, len(data.dtype.names or ()) + 1)
    }
    rel = _seconds(data["time"])
    beg = str(content.primary.get("DATE-BEG", ""))
    if "T" in beg:  # UTC (L1 and later)
        start = np.datetime64(beg.rstrip("Z"), "us")
        time, utc = start + (rel * 1e6).astype("timedelta64[us]"), True
    else:
        coarse, fine = parse_scet_string(beg)
        scet = scet_float(coarse, fine) + rel
        if sclk is not None:
            c, f = split_scet_seconds(scet, clamp=True)
            time, utc = scet_to_utc(c, f, sclk).datetime64.astype("datetime64[us]"), True
        else:
            time, utc = _SCET_EPOCH + (scet * 1e6).astype("timedelta64[us]"), False
    energies = None
    if "ENERGIES" in content.tables:
        e = content.tables["ENERGIES"]
        energies = {
            "e_low": e["e_low"].astype(np.float64),
            "e_high": e["e_high"].astype(np.float64),
        }
    columns = {n: data[n] for n in data.dtype.names or () if n not in ("time", "timedel")}
    return PlotSeries(path.name, time, _seconds(data["timedel"]), utc, columns, units, energies)


def _band_labels(series: PlotSeries, n: int) -> list[str]:
    e = series.energies
    if e is None or len(e["e_low"]) != n:
        return [f"band {i}" for i in range(n)]
    return [
        f"{lo:g}-{hi:g} keV" if np.isfinite(hi) else f"> {lo:g} keV"
        for lo, hi in zip(e["e_low"], e["e_high"], strict=True)
    ]


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _new_figure() -> Figure:
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _shade_attenuator(ax: object, series: PlotSeries) -> int:
    rcr = np.asarray(series.columns.get("rcr", np.zeros(0)))
    if rcr.size == 0:
        return 0
    half = (series.timedel_s / 2 * 1e6).astype("timedelta64[us]")
    runs = _runs(rcr.reshape(len(rcr), -1).max(axis=1) > 0)
    for i, (a, b) in enumerate(runs):
        ax.axvspan(  # type: ignore[attr-defined]
            series.time[a] - half[a],
            series.time[b] + half[b],
            color="0.6",
            alpha=0.35,
            lw=0,
            label=ATTENUATOR_LABEL if i == 0 else None,
            gid="attenuator",
        )
    return len(runs)


def plot_lightcurve(series: PlotSeries, *, title: str | None = None) -> Figure:
    """QL light curve: counts per energy band on a log scale, attenuator periods shaded.

    Parameters
    ----------
    series : from `read_plot_series` of a light-curve file (``counts`` (n, bands), ``rcr``)
    title : default the file name
    """
    fig = _new_figure()
    ax = fig.add_subplot()
    counts = np.asarray(series.columns["counts"], dtype=np.float64).reshape(len(series.time), -1)
    counts = np.where(counts > 0, counts, np.nan)  # log axis: empty bins are left out
    for i, label in enumerate(_band_labels(series, counts.shape[1])):
        ax.plot(series.time, counts[:, i], lw=0.8, label=label)
    n_att = _shade_attenuator(ax, series)
    ax.set_yscale("log")
    bin_s = float(np.median(series.timedel_s)) if len(series.timedel_s) else 0.0
    ax.set_ylabel(f"counts per {bin_s:g} s bin")
    ax.set_xlabel(series.time_label)
    ax.set_title(title or series.name, fontsize=9)
    ax.legend(fontsize=7, loc="upper right", ncols=2 if n_att else 1)
    ax.grid(alpha=0.3)
    return fig


def plot_spectrogram(series: PlotSeries, *, title: str | None = None) -> Figure:
    """BSD spectrogram image: counts per time bin and energy channel, log colour scale."""
    fig = _new_figure()
    ax = fig.add_subplot()
    counts = np.asarray(series.columns["counts"], dtype=np.float64).reshape(len(series.time), -1)
    half = (series.timedel_s / 2 * 1e6).astype("timedelta64[us]")
    t_edges = np.concatenate([series.time - half, series.time[-1:] + half[-1:]])
    e = series.energies
    if e is not None and len(e["e_low"]) == counts.shape[1]:
        high = np.where(np.isfinite(e["e_high"]), e["e_high"], e["e_low"] + 1.0)
        e_edges, e_label = np.concatenate([e["e_low"], high[-1:]]), "energy (keV)"
    else:
        e_edges, e_label = np.arange(counts.shape[1] + 1, dtype=np.float64), "energy channel"
    positive = counts[counts > 0]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size else None
    mesh = ax.pcolormesh(
        t_edges, e_edges, np.where(counts > 0, counts, np.nan).T, norm=norm, cmap="viridis"
    )
    fig.colorbar(mesh, ax=ax, label="counts")
    ax.set_ylabel(e_label)
    ax.set_xlabel(series.time_label)
    ax.set_title(title or series.name, fontsize=9)
    return fig


def plot_hk(
    series: PlotSeries,
    *,
    columns: dict[str, Sequence[str]] | None = None,
    title: str | None = None,
) -> Figure:
    """HK trends: one panel per group (temperatures, voltages) of the columns present."""
    groups = {
        g: [c for c in cols if c in series.columns]
        for g, cols in (columns or HK_DEFAULT_COLUMNS).items()
    }
    groups = {g: cols for g, cols in groups.items() if cols}
    fig = _new_figure()
    axes = fig.subplots(max(len(groups), 1), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (group, cols) in zip(axes, groups.items(), strict=False):
        for c in cols:
            ax.plot(series.time, series.columns[c], lw=0.8, label=c)
        unit = {series.units.get(c) or "raw" for c in cols}
        ax.set_ylabel(f"{group} ({', '.join(sorted(unit))})", fontsize=8)
        ax.legend(fontsize=6, loc="upper right", ncols=min(len(cols), 3))
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel(series.time_label)
    axes[0].set_title(title or series.name, fontsize=9)
    return fig


def figure_bytes(fig: Figure, *, fmt: str = "png", dpi: int = DPI) -> bytes:
    """Render a figure to PNG or SVG bytes (deterministic: no date or software stamp)."""
    buffer = io.BytesIO()
    canvas = FigureCanvasSVG(fig) if fmt == "svg" else FigureCanvasAgg(fig)
    with mpl.rc_context({"svg.hashsalt": "stix-assets", "svg.fonttype": "path"}):
        canvas.print_figure(buffer, format=fmt, dpi=dpi, metadata=_METADATA[fmt])
    FigureCanvasAgg(fig)  # leave the figure on the raster canvas
    return buffer.getvalue()


def thumbnail_png(
    source: Figure | bytes, *, width_px: int = THUMB_WIDTH_PX, max_bytes: int = THUMB_MAX_BYTES
) -> bytes:
    """A small PNG of a figure for event metadata: few pixels, a palette of 16 colours or fewer.

    ``source`` is the figure, or its full PNG (`figure_bytes`) when that was rendered already:
    the figure is drawn once, and the thumbnail is that image scaled down (Lanczos), reduced to
    an adaptive palette (median cut, deterministic) and compressed; fewer colours and pixels are
    tried until it fits in ``max_bytes``. The last attempt is returned even if it is larger.
    """
    from PIL import Image  # matplotlib's own dependency

    full_png = figure_bytes(source) if isinstance(source, Figure) else source
    full = Image.open(io.BytesIO(full_png)).convert("RGB")
    png = b""
    for scale, colours in ((1.0, 16), (1.0, 8), (0.8, 8), (0.6, 4)):
        width = max(1, round(width_px * scale))
        height = max(1, round(full.height * width / full.width))
        small = full.resize((width, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        small.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(
            buffer, format="PNG", optimize=True
        )
        png = buffer.getvalue()
        if len(png) <= max_bytes:
            break
    return png


def markdown_image(png: bytes, *, alt: str = "plot") -> str:
    """Markdown with the PNG inlined (for ``dg.MetadataValue.md``); give it a `thumbnail_png`."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def write_figure(fig: Figure, path: Path | str) -> Path:
    """Write a figure atomically; the format comes from the suffix (``.png`` or ``.svg``)."""
    path = Path(path)
    _write_plot_bytes(figure_bytes(fig, fmt=path.suffix.lstrip(".").lower()), path)
    return path


def write_png_with_thumbnail(fig: Figure, path: Path | str) -> tuple[Path, bytes]:
    """Write a figure's PNG atomically and return it with its `thumbnail_png` (one rendering)."""
    path = Path(path)
    payload = figure_bytes(fig)
    _write_plot_bytes(payload, path)
    return path, thumbnail_png(payload)


def _write_plot_bytes(payload: bytes, path: Path) -> None:
    """Write rendered plot bytes atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    logger.info("plot written file=%s bytes=%d", path.name, len(payload))


_PLOTTERS = {"lightcurve": plot_lightcurve, "spectrogram": plot_spectrogram, "hk": plot_hk}


def write_quicklook_plot(
    product: Path | str,
    kind: str,
    *,
    formats: Sequence[str] = ("png",),
    sclk: SclkModel | None = None,
) -> list[Path]:
    """Plot a product file and write ``<stem>.<fmt>`` next to it.

    Parameters
    ----------
    product : the FITS file
    kind : ``"lightcurve"``, ``"spectrogram"`` or ``"hk"``
    formats : ``"png"`` and/or ``"svg"`` (SVG for LL03)
    sclk : SCET -> UTC clock model for L0 files

    Returns
    -------
    the files written
    """
    if kind not in _PLOTTERS:
        raise ValueError(f"kind must be one of {sorted(_PLOTTERS)}, got {kind!r}")
    product = Path(product)
    fig = _PLOTTERS[kind](read_plot_series(product, sclk=sclk))
    return [write_figure(fig, product.with_suffix(f".{fmt}")) for fmt in formats]


PLOT_KIND_BY_PRODUCT = {
    "ql_lightcurve": "lightcurve",
    "xray_spec": "spectrogram",
    "hk_maxi": "hk",
    "hk_mini": "hk",
}
"""Products that get a quick-look plot next to their L1 file (registry key -> plot kind)."""


def plot_product(product: Path | str, product_key: str) -> tuple[Path, bytes] | None:
    """Write the quick-look PNG of a product file next to it; return it and a small thumbnail.

    Returns ``None`` for products without a plot kind (`PLOT_KIND_BY_PRODUCT`). The thumbnail
    (`thumbnail_png`, under 3 KB) is for Dagster materialization metadata, which is stored
    forever.
    """
    kind = PLOT_KIND_BY_PRODUCT.get(product_key)
    if kind is None:
        return None
    product = Path(product)
    fig = _PLOTTERS[kind](read_plot_series(product))
    return write_png_with_thumbnail(fig, product.with_suffix(".png"))
