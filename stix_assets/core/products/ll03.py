"""LL03: the quick-look light-curve plot of one UTC day (PNG and SVG) from the L1 light curve.

Domain doc 3.2, 3.3 and 9. STIXCore's daily pipeline plotted every full day of
``solo_L1_stix-ql-lightcurve`` into an SVG; here the plot is drawn by
`stix_assets.core.plots.plot_lightcurve` (counts per band on a log axis, attenuator periods
shaded instead of STIXCore's second RCR axis) and written as SVG and PNG, deterministically.

Naming (quirk 18 decided): the name STIXCore's code produces for a daily file, not the one its
unit test expects, since the code is what wrote the archive:
``solo_LL03_stix-ql-lightcurve_<YYYYMMDD>T000000-<YYYYMMDD>T235959_V02C.svg`` (status ``C``), the
PNG with the same stem, under ``LL03/<YYYY>/<MM>/<DD>/QL/``.

Completeness: STIXCore only plotted a day with at least `FULL_DAY_ROWS` bins (4 s cadence, four
minutes of margin) unless its data ended more than `COMPLETE_AFTER` ago. `is_complete_day`
states that rule; the plot is written either way and the result says whether the day was full.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from stix_assets.core.errors import ProductBuildError
from stix_assets.core.plots import (
    plot_lightcurve,
    read_plot_series,
    write_figure,
    write_png_with_thumbnail,
)

__all__ = [
    "COMPLETE_AFTER",
    "FULL_DAY_ROWS",
    "LL03_VERSION",
    "Ll03Result",
    "is_complete_day",
    "ll03_file_stem",
    "write_ll03",
]

logger = logging.getLogger(__name__)

LL03_VERSION = 2
FULL_DAY_ROWS = 60 // 4 * 60 * 24 - 60  # 21540
COMPLETE_AFTER = timedelta(days=30)
_L1_DAY = re.compile(r"_(\d{8})_V\d+U?\.fits$")


@dataclass(frozen=True, slots=True)
class Ll03Result:
    """The LL03 plot files of one day.

    Attributes
    ----------
    svg, png : the files written
    utc_day : the day
    source : the L1 light-curve file plotted
    n_rows : its DATA rows
    complete : the day is full (`is_complete_day`)
    thumbnail : a small PNG of the same figure (for metadata)
    """

    svg: Path
    png: Path
    utc_day: date
    source: str
    n_rows: int
    complete: bool
    thumbnail: bytes

    def as_metadata(self) -> dict[str, object]:
        """Plain values for metadata."""
        return {
            "svg": str(self.svg),
            "png": str(self.png),
            "utc_day": self.utc_day.isoformat(),
            "source": self.source,
            "rows": self.n_rows,
            "complete_day": self.complete,
        }


def ll03_file_stem(utc_day: date) -> str:
    """``solo_LL03_stix-ql-lightcurve_<day>T000000-<day>T235959_V02C`` (no suffix)."""
    d = f"{utc_day:%Y%m%d}"
    return f"solo_LL03_stix-ql-lightcurve_{d}T000000-{d}T235959_V{LL03_VERSION:02d}C"


def is_complete_day(n_rows: int, data_end: datetime, now: datetime) -> bool:
    """STIXCore's rule: enough 4 s bins for a full day, or data older than 30 days."""
    return n_rows >= FULL_DAY_ROWS or now - data_end > COMPLETE_AFTER


def write_ll03(l1_lightcurve: Path | str, archive_root: Path | str, *, now: datetime) -> Ll03Result:
    """Plot an L1 ``ql-lightcurve`` file into ``LL03/<YYYY>/<MM>/<DD>/QL/<stem>.{svg,png}``.

    Parameters
    ----------
    l1_lightcurve : the daily L1 file (its name gives the UTC day)
    archive_root : archive root
    now : timezone-aware current time (completeness rule only; nothing of it enters the files)

    Raises
    ------
    ProductBuildError
        If the file name carries no ``_YYYYMMDD_`` day or the file has no DATA rows.
    """
    path = Path(l1_lightcurve)
    found = _L1_DAY.search(path.name)
    if not found:
        raise ProductBuildError(f"not a daily L1 light-curve file name: {path.name}")
    utc_day = datetime.strptime(found[1], "%Y%m%d").replace(tzinfo=UTC).date()
    series = read_plot_series(path)
    if len(series.time) == 0:
        raise ProductBuildError(f"{path.name}: no data rows to plot")
    stem = ll03_file_stem(utc_day)
    fig = plot_lightcurve(series, title=f"STIX quick-look light curves {utc_day.isoformat()}")
    folder = Path(archive_root, "LL03", f"{utc_day:%Y}", f"{utc_day:%m}", f"{utc_day:%d}", "QL")
    svg = write_figure(fig, folder / f"{stem}.svg")
    png, thumbnail = write_png_with_thumbnail(fig, folder / f"{stem}.png")
    end = series.time[-1].astype("datetime64[us]").astype(datetime).replace(tzinfo=UTC)
    complete = is_complete_day(len(series.time), end, now)
    logger.info("ll03 written day=%s rows=%d complete=%s", utc_day, len(series.time), complete)
    return Ll03Result(
        svg=svg,
        png=png,
        utc_day=utc_day,
        source=path.name,
        n_rows=len(series.time),
        complete=complete,
        thumbnail=thumbnail,
    )
