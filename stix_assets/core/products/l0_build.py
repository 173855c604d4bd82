"""Building L0 products: every LB file through its family builder, then stacked and split by day.

Flow of `build_l0_day` (domain doc 3.3-3.5, 3.7, 7):

1. every LB file is read and decoded into an `LbInput` (the files of a window together,
   `stix_assets.core.products.l0_decode.decode_lb_files`); undecodable packets are reported;
2. the builder registered for the file's product (`stix_assets.core.products.builders.BUILDERS`)
   gets the `LbInput` and returns `L0Product` objects (`run_builder`), each checked for
   consistent column shapes; if the builder raises `ProductBuildError` (or a shape error) for the
   whole file and the family allows it, the failing packets are searched by halving and only
   they are dropped and reported (`L0Issue`): one bad packet never costs the day;
3. the products of one family from several LB files are stacked
   (`stix_assets.core.products.l0_stack.concat_products`), one stack per column layout, then daily
   products are split by the SCET day of the DATA bin centres (`split_by_day`) and only
   ``scet_day`` is kept; if two layouts have rows on the day, the larger part is kept and the
   packets of the other are reported. BSD (per-request) products are passed through whole.

Nothing is written here; `stix_assets.core.products.l0_writer.write_l0` writes the files.
"""

import dataclasses
import logging
from collections.abc import Collection, Iterable
from datetime import date
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.energies import check_channel_index
from stix_assets.core.errors import ProductBuildError
from stix_assets.core.idb import IdbStore
from stix_assets.core.products.builders import BUILDERS
from stix_assets.core.products.file_cache import FileCache
from stix_assets.core.products.l0_decode import decode_lb_files
from stix_assets.core.products.l0_stack import (
    keep_largest,
    shape_difference,
    split_by_day,
    stack_by_shape,
)
from stix_assets.core.products.model import BuilderEntry, L0Build, L0Issue, L0Product, LbInput

__all__ = ["build_l0_day", "build_l0_files", "packet_issue", "run_builder"]

logger = logging.getLogger(__name__)


def _subset(inp: LbInput, sel: NDArray[np.int64]) -> LbInput:
    """The input restricted to some decoded packets (positions in ``inp.params``, ascending)."""
    p = inp.params
    values, counts = {}, {}
    for name, vals in p.values.items():
        off = p.offsets(name)
        take = np.concatenate(
            [np.arange(off[i], off[i + 1]) for i in sel.tolist()] or [np.zeros(0, np.int64)]
        ).astype(np.int64)
        values[name] = np.asarray(vals)[take]
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


_SHAPE_ERRORS = (ProductBuildError, ValueError, IndexError, KeyError, OverflowError)


def _products_of(built: object, inp: LbInput) -> tuple[list[L0Product], list[object], list[object]]:
    """A builder's products (checked), waiting sequences and failed sequences.

    A builder returns its products, or an object with ``products``, ``waiting`` (BSD) and
    ``failed`` (sequences that could not be built; the BSD builder checks its own products).

    Raises
    ------
    ProductBuildError
        If a product's columns disagree in shape or its times are impossible for its packets.
    """
    if isinstance(built, list):
        products, waiting, failed = built, [], []
    else:
        products = list(built.products)
        waiting = list(getattr(built, "waiting", []))
        failed = list(getattr(built, "failed", []))
    coarse = inp.batch.headers["scet_coarse"][inp.params.rows]
    for prod in products:
        problem = prod.shape_problem() or prod.time_problem(coarse)
        if problem is not None:
            raise ProductBuildError(f"{prod.spec.key}: {problem}")
    return products, waiting, failed


def packet_issue(inp: LbInput, row: int, reason: str) -> L0Issue:
    """An `L0Issue` for the packet at batch row ``row`` of an LB input (TM file, packet id)."""
    tm = _text(np.asarray(inp.raw_file)[row])
    spid = int(inp.params.spid) if inp.params.spid else None
    return L0Issue(inp.parent, int(row), reason, int(inp.packet[row]), tm, spid)


def run_builder(
    entry: BuilderEntry, inp: LbInput
) -> tuple[list[L0Product], list[L0Issue], list[object]]:
    """Run a family builder; on a shape error, find the failing packets (if the entry allows).

    A product is checked (`L0Product.shape_problem`) before it is accepted, so a packet whose
    counters disagree with its data fails here. When the whole file fails, the packets are split
    in halves and each half built again, down to single packets: the packets that fail on their
    own are dropped and reported, the rest is built (about ``2 log2(n)`` builds per bad packet).

    Returns
    -------
    products : what could be built
    issues : the LB file (retry not allowed) or the packets that failed, with the reason
    waiting : incomplete BSD sequences the builder left for later TM
    """
    try:
        products, waiting, failed = _products_of(entry.build(inp), inp)
        issues = [packet_issue(inp, int(r), f.reason) for f in failed for r in f.rows]
        return products, issues, waiting
    except _SHAPE_ERRORS as err:
        if not entry.per_packet_retry or len(inp.params) <= 1:
            reason = f"{type(err).__name__}: {err}"
            if len(inp.params) == 1:
                return [], [packet_issue(inp, int(inp.params.rows[0]), reason)], []
            return [], [L0Issue(inp.parent, None, reason)], []
        logger.warning(
            "l0 build failed, searching the bad packets file=%s product=%s error=%s",
            inp.parent,
            inp.spec.key,
            err,
        )
    products: list[L0Product] = []
    issues: list[L0Issue] = []
    _bisect(entry, inp, np.arange(len(inp.params), dtype=np.int64), products, issues)
    products, minority = _one_layout(products)
    for prod, kept in minority:
        issues.extend(_minority_issues(inp, prod, kept))
    return products, issues, []


def _one_layout(
    products: list[L0Product],
) -> tuple[list[L0Product], list[tuple[L0Product, L0Product]]]:
    """Per product name, the parts of the column layout with the most rows; the others.

    The packets of one LB file (one SCET day of one kind) share their layout unless one of them
    is damaged: a packet whose counters say 5 energies among packets of 4 is left out here, so
    it can neither spoil the day nor become a day of its own next door.
    """
    by_name: dict[str, dict[tuple, list[L0Product]]] = {}
    for prod in products:
        by_name.setdefault(prod.spec.name, {}).setdefault(prod.signature(), []).append(prod)
    kept: list[L0Product] = []
    dropped: list[tuple[L0Product, L0Product]] = []
    for layouts in by_name.values():
        groups = sorted(layouts.values(), key=lambda g: -sum(p.n_rows for p in g))
        kept.extend(groups[0])
        dropped.extend((p, groups[0][0]) for g in groups[1:] for p in g)
    return kept, dropped


def _minority_issues(inp: LbInput, prod: L0Product, kept: L0Product) -> list[L0Issue]:
    reason = f"layout differs from the other packets of the file: {shape_difference(kept, prod)}"
    rows = {(_text(inp.raw_file[r]), int(inp.packet[r])): r for r in inp.params.rows.tolist()}
    out = [
        packet_issue(inp, rows[key], reason)
        for key in prod.packets_of_rows(np.arange(prod.n_rows))
        if key in rows
    ]
    return out or [L0Issue(inp.parent, None, f"{prod.n_rows} rows left out: {reason}")]


def _text(raw: object) -> str:
    return (raw.decode("ascii") if isinstance(raw, bytes) else str(raw)).strip()


def _bisect(
    entry: BuilderEntry,
    inp: LbInput,
    sel: NDArray[np.int64],
    products: list[L0Product],
    issues: list[L0Issue],
) -> None:
    """Build the halves of ``sel``; recurse into a half that fails, report a single packet."""
    half = len(sel) // 2
    for part in (sel[:half], sel[half:]):
        if len(part) == 0:
            continue
        try:
            sub = _subset(inp, part)
            products.extend(_products_of(entry.build(sub), sub)[0])
        except _SHAPE_ERRORS as err:
            if len(part) == 1:
                row = int(inp.params.rows[part[0]])
                issues.append(packet_issue(inp, row, f"{type(err).__name__}: {err}"))
            else:
                _bisect(entry, inp, part, products, issues)


@dataclasses.dataclass(frozen=True, slots=True)
class _FileBuild:
    """What one LB file gives: its product key, products, issues and waiting sequences."""

    key: str | None
    products: tuple[L0Product, ...] = ()
    issues: tuple[L0Issue, ...] = ()
    waiting: tuple[object, ...] = ()


_FILES: FileCache[_FileBuild] = FileCache(maxsize=128)
"""Per-file builds, reused by the (up to three) L0 days whose window holds the file."""


def _build_file(
    path: Path, decoded: tuple[LbInput, list[L0Issue]] | ProductBuildError
) -> _FileBuild:
    """Build one decoded LB file, logging its issues once.

    The result is cached and reused by the up to three L0 days that read the file, so the issues
    are logged here rather than per day.
    """
    made = _build_decoded(path, decoded)
    for issue in made.issues:
        logger.warning(
            "l0 packet left out file=%s packet_id=%s lb_file=%s lb_row=%s reason=%s",
            issue.tm_file,
            issue.packet_id,
            issue.file,
            issue.packet_index,
            issue.reason,
        )
    return made


def _build_decoded(
    path: Path, decoded: tuple[LbInput, list[L0Issue]] | ProductBuildError
) -> _FileBuild:
    if isinstance(decoded, ProductBuildError):
        return _FileBuild(None, issues=(L0Issue(path.name, None, str(decoded)),))
    inp, decode_issues = decoded
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
    families, one stack per column layout (`stack_by_shape`: a family whose layout changed gives
    several products); BSD products stay one per request.
    """
    check_channel_index(conf_dir)
    by_key: dict[str, list[L0Product]] = {}
    issues: list[L0Issue] = []
    waiting: list[object] = []
    paths = sorted(Path(p) for p in lb_files)
    context = (store, str(conf_dir))
    # the files not built yet are decoded together (`decode_lb_files`: one batch per kind)
    decoded = decode_lb_files([p for p in paths if (p, context) not in _FILES], store, conf_dir)
    for path in paths:
        made = _FILES.get(
            path,
            context,
            lambda p=path: _build_file(
                p, decoded[p] if p in decoded else decode_lb_files([p], store, conf_dir)[p]
            ),
        )
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
            out.extend(stack_by_shape(prods))  # one product per column layout
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
    daily: dict[str, list[L0Product]] = {}
    for prod in built.products:
        if prod.spec.per_request:
            out.append(prod)
            continue
        for part in split_by_day(prod):
            if part.scet_day == scet_day:
                daily.setdefault(prod.spec.name, []).append(part)
    issues = list(built.issues)
    for name, parts in sorted(daily.items()):
        kept, others = keep_largest(parts)
        out.append(kept)
        for other in others:
            issues.extend(_layout_issues(name, kept, other))
    return L0Build(out, issues, built.waiting)


def _layout_issues(name: str, kept: L0Product, other: L0Product) -> list[L0Issue]:
    """The packets of a day's rows that do not share the layout of the day's larger part."""
    reason = (
        f"layout differs from the rest of the day's {name}: {shape_difference(kept, other)}; "
        f"{other.n_rows} rows left out, {kept.n_rows} kept"
    )
    logger.warning("l0 rows left out product=%s rows=%d reason=%s", name, other.n_rows, reason)
    parent = ";".join(other.parents)
    packets = other.packets_of_rows(np.arange(other.n_rows))
    if not packets:
        return [L0Issue(parent, None, reason)]
    return [L0Issue(parent, None, reason, pid, tm) for tm, pid in packets]
