"""Quick-look plots from the demo mission's L0 files: files, formats, attenuator shading."""

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from stix_assets.core import plots
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import index_tm_file
from stix_assets.core.products import housekeeping, science
from stix_assets.core.products.l0 import build_l0_day, split_by_day
from stix_assets.core.products.l0_decode import decode_lb_file
from stix_assets.core.products.l0_writer import write_l0
from stix_assets.core.products.lb import write_lb
from stix_assets.demo import build_demo_root

CREATED = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
QUIET_DAY, FLARE_DAY = dt.date(2024, 5, 14), dt.date(2024, 5, 15)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _conf(root: Path) -> Path:
    det = root / "detector"
    det.mkdir(parents=True)
    (det / "science_echan_index.csv").write_text(
        "index, start_date, end_date, sci_chan_file\n0, 2019-06-15T00:00:00, none, ch.csv\n"
    )
    rows = ["Channel Number,Channel Edge,Energy Edge ,Elower,Eupper ,BinWidth,dE/E,QL channel"]
    rows += [f"{i},{i},{i},{4 + i},{5 + i},1,0.1,0" for i in range(31)]
    rows.append("31,31,150,150,maxADC,n/a,n/a,n/a")
    (det / "ch.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def l0_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """L0 files of the demo: light curves of both days, the spectrogram request, HK maxi."""
    base = tmp_path_factory.mktemp("demo_plots")
    root = build_demo_root(base / "stix-demo", start=QUIET_DAY, days=2)
    store, conf = IdbStore(root.idb_root), _conf(base / "conf")
    lb = write_lb(
        [index_tm_file(p, store) for p in root.tm_files],
        base / "archive",
        created=CREATED,
        software_version="test",
    )
    out: dict[str, Path] = {}
    lb_paths = [r.path for r in lb]
    for day in (QUIET_DAY, FLARE_DAY):
        built = build_l0_day(lb_paths, day, store, conf, products={"ql_lightcurve"})
        (w,) = write_l0(built.products, base / "archive", created=CREATED, software_version="t")
        out[f"lc_{day.isoformat()}"] = w.path
    spec_lb = next(r.path for r in lb if r.product_key == "xray_spec")
    inp, _ = decode_lb_file(spec_lb, store, conf)
    (w,) = write_l0(
        science.build_science_l0(inp).products, base / "archive", created=CREATED,
        software_version="t",
    )  # fmt: skip
    out["spectrogram"] = w.path
    hk_lb = next(r.path for r in lb if r.product_key == "hk_maxi" and r.scet_day == FLARE_DAY)
    inp, _ = decode_lb_file(hk_lb, store, conf)
    days = [p for prod in housekeeping.build_hk_l0(inp) for p in split_by_day(prod)]
    written = write_l0(days, base / "archive", created=CREATED, software_version="t")
    out["hk"] = next(w.path for w in written if w.scet_day == FLARE_DAY)
    return out


def _attenuator_patches(fig: Figure) -> list:
    return [p for p in fig.axes[0].patches if p.get_gid() == "attenuator"]


def test_flare_day_light_curve_shades_the_attenuator(l0_files):
    series = plots.read_plot_series(l0_files["lc_2024-05-15"])
    assert not series.utc  # L0 without a clock model: SCET read as UTC, and the axis says so
    fig = plots.plot_lightcurve(series)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert "approx. UTC" in ax.get_xlabel()
    assert len(ax.get_lines()) == 5  # the five QL energy bands
    shaded = _attenuator_patches(fig)
    rcr = series.columns["rcr"] > 0
    assert len(shaded) >= 1
    # the shaded span covers exactly the bins with RCR > 0
    first, last = series.time[rcr][0], series.time[rcr][-1]
    x0, x1 = (np.datetime64("1970-01-01") + np.timedelta64(round(v * 86400e6), "us")
              for v in shaded[0].get_x() + np.array([0, shaded[0].get_width()]))  # fmt: skip
    assert abs(x0 - (first - np.timedelta64(2, "s"))) < np.timedelta64(1, "ms")
    assert x1 >= last
    assert plots.ATTENUATOR_LABEL in [t.get_text() for t in ax.get_legend().get_texts()]


def test_quiet_day_has_no_shading(l0_files):
    fig = plots.plot_lightcurve(plots.read_plot_series(l0_files["lc_2024-05-14"]))
    assert _attenuator_patches(fig) == []


def test_plots_are_written_next_to_the_product(l0_files):
    for kind, key in (
        ("lightcurve", "lc_2024-05-15"),
        ("spectrogram", "spectrogram"),
        ("hk", "hk"),
    ):
        product = l0_files[key]
        written = plots.write_quicklook_plot(product, kind, formats=("png", "svg"))
        assert written == [product.with_suffix(".png"), product.with_suffix(".svg")]
        png, svg = (p.read_bytes() for p in written)
        assert png.startswith(PNG_MAGIC)
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert (width, height) == (800, 400)
        assert 10_000 < len(png) < 200_000
        assert b"<svg" in svg[:500]
        assert b"<dc:date>" not in svg  # no timestamp: same input, same bytes


def test_output_is_deterministic(l0_files):
    # a fresh figure per rendering (a re-drawn figure may shift by the constrained layout)
    def render(fmt: str) -> bytes:
        fig = plots.plot_spectrogram(plots.read_plot_series(l0_files["spectrogram"]))
        return plots.figure_bytes(fig, fmt=fmt)

    assert render("png") == render("png")
    assert render("svg") == render("svg")


def test_spectrogram_and_hk_axes(l0_files):
    fig = plots.plot_spectrogram(plots.read_plot_series(l0_files["spectrogram"]))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "energy (keV)"
    (mesh,) = ax.collections
    assert mesh.norm.__class__.__name__ == "LogNorm"
    hk = plots.plot_hk(plots.read_plot_series(l0_files["hk"]))
    assert [a.get_ylabel().split(" ")[0] for a in hk.axes] == ["temperature", "voltage"]
    assert {line.get_label() for line in hk.axes[0].get_lines()} <= set(
        plots.HK_DEFAULT_COLUMNS["temperature"]
    )


def test_utc_series_and_thumbnail_markdown(l0_files):
    series = plots.read_plot_series(l0_files["lc_2024-05-15"])
    as_utc = dataclasses.replace(series, utc=True)
    fig = plots.plot_lightcurve(as_utc)
    assert fig.axes[0].get_xlabel() == "time (UTC)"
    thumb = plots.thumbnail_png(fig)
    assert len(thumb) <= plots.THUMB_MAX_BYTES  # lean events: about 4 KB once base64-encoded
    assert thumb == plots.thumbnail_png(fig)  # deterministic, like the full plot
    md = plots.markdown_image(thumb, alt="lc")
    assert md.startswith("![lc](data:image/png;base64,iVBORw0KGgo")


def test_unknown_kind_is_refused(l0_files):
    with pytest.raises(ValueError, match="kind must be one of"):
        plots.write_quicklook_plot(l0_files["hk"], "histogram")
