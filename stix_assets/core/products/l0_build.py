"""Building L0 products: every LB file through its family builder, then stacked and split by day.

Flow of `build_l0_day` (domain doc 3.3-3.5, 3.7, 7):

1. every LB file is read and decoded into an `LbInput`
   (`stix_assets.core.products.l0_decode.decode_lb_file`); undecodable packets are reported;
2. the builder registered for the file's product (`stix_assets.core.products.builders.BUILDERS`)
   gets the `LbInput` and returns `L0Product` objects (`run_builder`); if it raises
   `ProductBuildError` (or a shape error) for the whole file and the family allows it, the file
   is rebuilt packet by packet and only the failing packets are dropped and reported
   (`L0Issue`): one bad packet never costs the day;
3. the products of one family from several LB files are stacked
   (`stix_assets.core.products.l0_stack.concat_products`), then daily products are split by the
   SCET day of the DATA bin centres (`split_by_day`) and only ``scet_day`` is kept. BSD
   (per-request) products are passed through whole.

Nothing is written here; `stix_assets.core.products.l0_writer.write_l0` writes the files.
"""

import dataclasses
import logging
from collections.abc import Collection, Iterable
from datetime import date
from pathlib import Path

import numpy as np

from stix_assets.core.energies import check_channel_index
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import IdbStore
from stix_assets.core.products.builders import BUILDERS
from stix_assets.core.products.file_cache import FileCache
from stix_assets.core.products.l0_decode import decode_lb_file
from stix_assets.core.products.l0_stack import concat_products, split_by_day
from stix_assets.core.products.model import BuilderEntry, L0Build, L0Issue, L0Product, LbInput

__all__ = ["build_l0_day", "build_l0_files", "run_builder"]

logger = logging.getLogger(__name__)


def _subset(inp: LbInput, packet: int) -> LbInput:
    """The input restricted to one packet (for the packet-by-packet retry)."""
    p = inp.params
    keep = p.rows == packet
    sel = np.flatnonzero(keep)
    values, counts = {}, {}
    for name, vals in p.values.items():
        off = p.offsets(name)
        values[name] = np.asarray(vals)[off[sel[0]] : off[sel[0] + 1]] if len(sel) else vals[:0]
        counts[name] = p.counts[name][sel]
    table = dataclasses.replace(
        p,
        rows=p.rows[sel],
        values=values,
        counts=counts,
        end_bits=p.end_bits[sel],
        length_bits=p.length_bits[sel],
        engineering={},
    )
    return dataclasses.replace(inp, params=table)


_SHAPE_ERRORS = (ProductBuildError, ValueError, IndexError, KeyError)


def _products_of(built: object) -> tuple[list[L0Product], list[object]]:
    # a builder returns its products, or an object with ``products`` and ``waiting`` (BSD)
    if isinstance(built, list):
        return built, []
    return list(built.products), list(getattr(built, "waiting", []))


def run_builder(
    entry: BuilderEntry, inp: LbInput
) -> tuple[list[L0Product], list[L0Issue], list[object]]:
    """Run a family builder; on a shape error retry packet by packet (if the entry allows).

    Returns
    -------
    products : what could be built
    issues : the LB file (retry not allowed) or the packets that failed, with the reason
    waiting : incomplete BSD sequences the builder left for later TM
    """
    try:
        products, waiting = _products_of(entry.build(inp))
        return products, [], waiting
    except _SHAPE_ERRORS as err:
        if not entry.per_packet_retry or len(inp.params) <= 1:
            return [], [L0Issue(inp.parent, None, f"{type(err).__name__}: {err}")], []
        logger.warning(
            "l0 build failed, retrying per packet file=%s product=%s error=%s",
            inp.parent,
            inp.spec.key,
            err,
        )
    products = []
    issues: list[L0Issue] = []
    for row in inp.params.rows.tolist():
        try:
            products.extend(_products_of(entry.build(_subset(inp, row)))[0])
        except _SHAPE_ERRORS as err:
            issues.append(
                L0Issue(inp.parent, row, f"{type(err).__name__}: {err}", int(inp.packet[row]))
            )
    return products, issues, []


@dataclasses.dataclass(frozen=True, slots=True)
class _FileBuild:
    """What one LB file gives: its product key, products, issues and waiting sequences."""

    key: str | None
    products: tuple[L0Product, ...] = ()
    issues: tuple[L0Issue, ...] = ()
    waiting: tuple[object, ...] = ()


_FILES: FileCache[_FileBuild] = FileCache(maxsize=128)
"""Per-file builds, reused by the (up to three) L0 days whose window holds the file."""


def _build_file(path: Path, store: IdbStore, conf_dir: Path) -> _FileBuild:
    try:
        inp, decode_issues = decode_lb_file(path, store, conf_dir)
    except ProductBuildError as err:
        return _FileBuild(None, issues=(L0Issue(path.name, None, str(err)),))
    entry = BUILDERS.get(inp.spec.key)
    if entry is None:
        logger.debug("no l0 builder product=%s file=%s", inp.spec.key, path.name)
        return _FileBuild(inp.spec.key, issues=tuple(decode_issues))
    if len(inp.params) == 0:
        no_packet = L0Issue(path.name, None, "no decodable packet")
        return _FileBuild(inp.spec.key, issues=(*decode_issues, no_packet))
    built, build_issues, build_waiting = run_builder(entry, inp)
    return _FileBuild(
        inp.spec.key, tuple(built), (*decode_issues, *build_issues), tuple(build_waiting)
    )


def build_l0_files(
    lb_files: Iterable[Path | str],
    store: IdbStore,
    conf_dir: Path | str,
    *,
    products: Collection[str] | None = None,
) -> L0Build:
    """Build the L0 products of LB files, one family per file, without day splitting.

    Products of the same family from several files are stacked (`concat_products`) for daily
    families; BSD products stay one per request.
    """
    check_channel_index(conf_dir)
    by_key: dict[str, list[L0Product]] = {}
    issues: list[L0Issue] = []
    waiting: list[object] = []
    for path in sorted(Path(p) for p in lb_files):
        context = (store, str(conf_dir))
        made = _FILES.get(path, context, lambda p=path: _build_file(p, store, Path(conf_dir)))
        if made.key is not None and products is not None and made.key not in products:
            continue
        issues.extend(made.issues)
        waiting.extend(made.waiting)
        for prod in made.products:
            # generic families name their products per packet kind (events-1-33, ...)
            by_key.setdefault(prod.spec.name, []).append(prod)
    out: list[L0Product] = []
    for _key, prods in sorted(by_key.items()):
        if not prods:
            continue
        if prods[0].spec.per_request:
            out.extend(prods)
        else:
            out.append(concat_products(prods))
    for issue in issues:
        logger.warning(
            "l0 packet left out file=%s packet=%s reason=%s",
            issue.file,
            issue.packet_index,
            issue.reason,
        )
    return L0Build(out, issues, waiting)


def build_l0_day(
    lb_files: Iterable[Path | str],
    scet_day: date,
    store: IdbStore,
    conf_dir: Path | str,
    *,
    products: Collection[str] | None = None,
) -> L0Build:
    """Build the L0 products of one SCET day from the LB files that may hold it.

    Parameters
    ----------
    lb_files : LB files (a daily product's bins may come from the LB files of the day before or
        after: pass those too)
    scet_day : the SCET day (``coarse // 86400``) whose DATA bin centres are kept
    store : installed IDBs
    conf_dir : STIX-CONF root
    products : only these registry keys

    Returns
    -------
    L0Build
        Daily products restricted to ``scet_day`` (empty ones dropped) and BSD products whole.
    """
    built = build_l0_files(lb_files, store, conf_dir, products=products)
    out: list[L0Product] = []
    for prod in built.products:
        if prod.spec.per_request:
            out.append(prod)
            continue
        out.extend(p for p in split_by_day(prod) if p.scet_day == scet_day)
    return L0Build(out, built.issues, built.waiting)
