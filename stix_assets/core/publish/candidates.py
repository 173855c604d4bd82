"""Which archive files are due for SOAR delivery (domain reference 10.2).

`select_candidates` scans ``fits_dir`` for ``solo_*.svg`` (first) and ``solo_*.fits`` and keeps
a file when, in this order: its version is included, its level is included, it was last modified
at least the waiting period ago, its product type is included, and this state of the file (path
and modification time) has no decision in the publish history yet; collecting stops at
``batch_size``.

Differences from STIXCore (quirk 16):

* the waiting period runs from the last modification (``st_mtime``); STIXCore used ``st_ctime``,
  which any metadata change (chmod, a backup tool touching the inode) restarts;
* the version filter reads ``V02U``/``V02C`` names (STIXCore's ``int("02U")`` raised);
* "already published" is decided per (path, mtime) instead of per file name, so a file that
  changed after its delivery is offered again (it is delivered with a higher version, see
  `stix_assets.core.publish.deliver`). Rows imported from an old ``published.sqlite`` still
  match by name.
"""

import logging
import os
import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from stix_assets.core.publish.names import SoarName, parse_name

__all__ = [
    "Candidate",
    "PublishFilters",
    "Selection",
    "parse_levels",
    "parse_period",
    "parse_versions",
    "scan_products",
    "select_candidates",
]

logger = logging.getLogger(__name__)

_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PERIOD = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*")
_MAX_LISTED = 50


def parse_period(text: str) -> float:
    """Seconds of a period such as ``14d``, ``1min``, ``12h``, ``30s`` (bare number: seconds).

    Raises
    ------
    ValueError
        If the text is not a number with a known unit.

    Examples
    --------
    >>> parse_period("14d"), parse_period("1min")
    (1209600.0, 60.0)
    """
    match = _PERIOD.fullmatch(text.lower())
    if match is None or match.group(2) not in {*_UNITS, ""}:
        raise ValueError(f"bad period {text!r}: use <number><s|min|h|d|w>")
    return float(match.group(1)) * _UNITS.get(match.group(2), 1)


def parse_versions(text: str) -> frozenset[int] | None:
    """``*`` -> None (all), else the listed numbers (``"V02,3"`` -> {2, 3})."""
    if text.strip() == "*":
        return None
    return frozenset(int(v.strip().lstrip("vV")) for v in text.split(",") if v.strip())


def parse_levels(text: str) -> frozenset[str] | None:
    """Comma list lower-cased with spaces removed (``"L0, L1"`` -> {"l0", "l1"}); ``*`` -> None."""
    if text.strip() == "*":
        return None
    return frozenset(v.replace(" ", "").lower() for v in text.split(",") if v.strip())


@dataclass(frozen=True, slots=True)
class PublishFilters:
    """Candidate selection options (defaults: the fallbacks of STIXCore's ``publish.py``).

    Attributes
    ----------
    include_versions : version numbers, None = all
    include_levels : lower-case levels, None = all
    include_products : lower-case product types (``ql``, ``hk``, ...), None = all
    waiting_period_s : minimum age since the last modification (s)
    ll_waiting_period_s : the same for levels starting with ``ll`` (s)
    batch_size : stop after this many candidates (< 0: unlimited)
    sort_files : candidates in name order (else directory order, SVG first)
    """

    include_versions: frozenset[int] | None = None
    include_levels: frozenset[str] | None = frozenset({"l0", "l1", "l2", "anc", "ll03", "cal"})
    include_products: frozenset[str] | None = frozenset({"ql", "hk", "sci", "asp", "cal"})
    waiting_period_s: float = 14 * 86400.0
    ll_waiting_period_s: float = 60.0
    batch_size: int = -1
    sort_files: bool = False

    @classmethod
    def from_text(
        cls,
        *,
        include_versions: str,
        include_levels: str,
        include_products: str,
        waiting_period: str,
        ll_waiting_period: str,
        batch_size: int,
        sort_files: bool,
    ) -> "PublishFilters":
        """The filters from the option texts of ``publish.py`` (``"*"``, ``"1,2"``, ``"14d"``).

        Raises
        ------
        ValueError
            If a version list or a period cannot be parsed.
        """
        return cls(
            include_versions=parse_versions(include_versions),
            include_levels=parse_levels(include_levels),
            include_products=parse_levels(include_products),
            waiting_period_s=parse_period(waiting_period),
            ll_waiting_period_s=parse_period(ll_waiting_period),
            batch_size=batch_size,
            sort_files=sort_files,
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file due for a delivery decision."""

    path: Path
    name: SoarName
    mtime: float
    size: int


@dataclass(frozen=True, slots=True)
class Selection:
    """Result of `select_candidates`: the candidates and why the other files were skipped."""

    candidates: tuple[Candidate, ...]
    skipped: dict[str, int] = field(default_factory=dict)
    waiting: tuple[str, ...] = ()

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            "n_candidates": len(self.candidates),
            "skipped_by_reason": dict(self.skipped),
            "waiting_files": list(self.waiting),
        }


def scan_products(fits_dir: Path | str, *, sort_files: bool = False) -> list[Path]:
    """``solo_*.svg`` then ``solo_*.fits`` below ``fits_dir`` (name order if ``sort_files``)."""
    root = Path(fits_dir)
    out: list[Path] = []
    for pattern in ("solo_*.svg", "solo_*.fits"):
        found = [p for p in root.rglob(pattern) if p.is_file()]
        out.extend(sorted(found, key=lambda p: p.name) if sort_files else found)
    return out


def _skip_reason(name: SoarName, age_s: float, filters: PublishFilters) -> str | None:
    if filters.include_versions is not None and name.version not in filters.include_versions:
        return "version not included"
    level = name.level.lower()
    if filters.include_levels is not None and level not in filters.include_levels:
        return "level not included"
    wait = filters.ll_waiting_period_s if level.startswith("ll") else filters.waiting_period_s
    if age_s < wait:
        return "waiting period"
    if filters.include_products is not None and name.product_type not in filters.include_products:
        return "product not included"
    return None


def _iter_named(paths: list[Path]) -> Iterator[tuple[Path, SoarName | None]]:
    for path in paths:
        try:
            yield path, parse_name(path.name)
        except ValueError:
            yield path, None


def select_candidates(
    fits_dir: Path | str,
    filters: PublishFilters,
    *,
    now: float,
    decided: Collection[tuple[str, float]] = (),
    decided_names: Collection[str] = (),
    product_day: date | None = None,
) -> Selection:
    """Files of ``fits_dir`` due for a delivery decision.

    Parameters
    ----------
    fits_dir : archive root to scan
    filters : selection options
    now : current UNIX time (s)
    decided : (source path, mtime) pairs that already have a decision in the history
    decided_names : file names decided by an imported STIXCore history (matched by name)
    product_day : only files whose name dates them on this day (`SoarName.product_day`)

    Returns
    -------
    Selection
    """
    skipped: Counter[str] = Counter()
    waiting: list[str] = []
    out: list[Candidate] = []
    decided_set = {(p, round(m, 6)) for p, m in decided}
    for path, name in _iter_named(scan_products(fits_dir, sort_files=filters.sort_files)):
        if name is None:
            skipped["not a product name"] += 1
            continue
        if product_day is not None and name.product_day() != product_day:
            continue
        st = path.stat()
        reason = _skip_reason(name, now - st.st_mtime, filters)
        if reason is None and (
            (str(path), round(st.st_mtime, 6)) in decided_set
            or name.name in decided_names
            or name.complete().name in decided_names
        ):
            reason = "already decided"
        if reason is not None:
            skipped[reason] += 1
            if reason == "waiting period" and len(waiting) < _MAX_LISTED:
                waiting.append(name.name)
            continue
        out.append(Candidate(path, name, st.st_mtime, st.st_size))
        if 0 <= filters.batch_size <= len(out):
            break
    logger.info(
        "publish candidates dir=%s n=%d skipped=%s", os.fspath(fits_dir), len(out), dict(skipped)
    )
    return Selection(tuple(out), dict(skipped), tuple(waiting))
