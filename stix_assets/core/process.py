"""Run TM files through the levels directly, without Dagster (the ``stix-assets process`` core).

Every file is indexed with `stix_assets.core.ingest.index_tm_file` and recorded in the archive's
catalog (the TM files and the SCET days each touched); then every level-day those days affect is
rebuilt by `stix_assets.core.levels.build_level_day`, the one function the Dagster assets call
too. A level-day takes its inputs from the catalog for its whole input window, not from this run:
re-delivering one TM file rebuilds its days from everything known for them, never from that file
alone. The files this run has indexed are handed over in memory and not read again.

Error policy (domain 8.5, STIXCore ``--stop_on_error``/``--continue_on_error``): with
``stop_on_error`` the first file that cannot be read, or the first quarantined packet, raises and
nothing is written; otherwise such files and packets are recorded in the summary (and catalog) and
every good packet is processed. Unlike STIXCore no configuration flag decides whether an error is
swallowed inside the core: the caller chooses, and the choice is a keyword argument.
"""

import datetime as dt
import fnmatch
import hashlib
import logging
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stix_assets.core.catalog import Catalog
from stix_assets.core.errors import PacketDecodeError, StixError, TMFileError
from stix_assets.core.idb import IdbStore
from stix_assets.core.ingest import TmIndex, index_tm_file
from stix_assets.core.levels import LevelContext, run_chain
from stix_assets.core.manifest import write_manifest
from stix_assets.core.spice import KernelStore
from stix_assets.core.steps import step, step_seconds
from stix_assets.core.tmtc import TMFile
from stix_assets.core.tmtc.gates import PacketGates

__all__ = [
    "CATALOG_NAME",
    "IMPLEMENTED_LEVELS",
    "LEVELS",
    "OUTPUT_LEVEL_DIRS",
    "FileOutcome",
    "ProcessSummary",
    "clean_archive",
    "collect_inputs",
    "process_tm_files",
]

logger = logging.getLogger(__name__)

LEVELS = ("TM", "LB", "L0", "L1", "L2")
IMPLEMENTED_LEVELS = ("TM", "LB", "L0", "L1", "L2")
OUTPUT_LEVEL_DIRS = ("LB", "L0", "L1", "L2", "CAL")
TM_GLOB = "*PktTmRaw*.xml"
TC_GLOB = "*PktTcReport*.xml"
CATALOG_NAME = "stix_catalog.duckdb"
_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one input file.

    Attributes
    ----------
    name : file name
    kind : ``"TM"``, ``"TC"`` (recorded and skipped) or ``"failed"`` (could not be read at all)
    n_packets : good packets indexed
    n_quarantined : packets set aside
    error : why the file failed, else ``None``
    warnings : what was odd about the file but did not stop it (no packets, IDB fallback, ...)
    """

    name: str
    kind: str
    n_packets: int = 0
    n_quarantined: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProcessSummary:
    """Result of `process_tm_files`: counts, files written, quarantine and errors."""

    end_level: str
    files: tuple[FileOutcome, ...]
    packets_by_kind: dict[str, int]
    lb_files: tuple[str, ...]
    lb_new_packets: int
    quarantined_by_reason: dict[str, int]
    quarantine_examples: tuple[dict[str, object], ...]
    idb_versions: tuple[str, ...]
    errors: tuple[str, ...] = field(default=())
    level_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    level_issues: tuple[dict[str, object], ...] = field(default=())
    waiting_sequences: int = 0
    level_seconds: dict[str, float] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)

    def _count(self, kind: str) -> int:
        return sum(1 for f in self.files if f.kind == kind)

    @property
    def n_packets(self) -> int:
        """Good packets over all files."""
        return sum(self.packets_by_kind.values())

    @property
    def n_quarantined(self) -> int:
        """Packets set aside over all files."""
        return sum(self.quarantined_by_reason.values())

    @property
    def n_failed_files(self) -> int:
        """Input files that could not be read at all (the CLI exits 3 when there is one)."""
        return self._count("failed")

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able values (the ``--json`` output)."""
        return {
            "end_level": self.end_level,
            "files_in": {
                "total": len(self.files),
                "tm": self._count("TM"),
                "tc": self._count("TC"),
                "failed": self._count("failed"),
            },
            "packets": self.n_packets,
            "packets_by_kind": dict(sorted(self.packets_by_kind.items())),
            "lb_files_written": len(self.lb_files),
            "lb_new_packets": self.lb_new_packets,
            "lb_files": list(self.lb_files),
            "quarantined": self.n_quarantined,
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "quarantine_examples": list(self.quarantine_examples),
            "idb_versions": list(self.idb_versions),
            "files_written": {lvl: len(paths) for lvl, paths in self.level_files.items()},
            "level_files": {lvl: list(paths) for lvl, paths in self.level_files.items()},
            "level_issues": list(self.level_issues[:_EXAMPLES]),
            "waiting_sequences": self.waiting_sequences,
            "level_seconds": {lvl: round(t, 3) for lvl, t in self.level_seconds.items()},
            "step_seconds": dict(self.step_seconds),
            "errors": list(self.errors),
            "files": [
                {
                    "name": f.name,
                    "kind": f.kind,
                    "packets": f.n_packets,
                    "quarantined": f.n_quarantined,
                    "error": f.error,
                    "warnings": list(f.warnings),
                }
                for f in self.files
            ],
        }

    def summary_line(self) -> str:
        """One line: files in, packets, files written, quarantined, errors."""
        return (
            f"files in: {len(self.files)} (TM {self._count('TM')} / TC {self._count('TC')} / "
            f"failed {self._count('failed')}); packets: {self.n_packets}; "
            f"LB files written: {len(self.lb_files)}; "
            + "".join(
                f"{lvl} files written: {len(paths)}; "
                for lvl, paths in self.level_files.items()
                if lvl != "LB"
            )
            + f"quarantined packets: {self.n_quarantined}; errors: {len(self.errors)}"
        )


def collect_inputs(
    *,
    tm_dir: Path | None = None,
    tm_files: Sequence[Path] = (),
    input_list: Path | None = None,
    name_filter: str | None = None,
) -> list[Path]:
    """Select the input files of a run, in processing order.

    Parameters
    ----------
    tm_dir : directory scanned for ``*PktTmRaw*.xml`` (and ``*PktTcReport*.xml``, which are
        recorded and skipped), sorted by name; also the base of relative names in ``input_list``
    tm_files : explicit files, kept in the given order
    input_list : text file with one TM file name or path per line (``#`` starts a comment);
        relative names resolve against ``tm_dir`` if given, else against the list's folder
    name_filter : glob on the file name that further restricts the selection

    Returns
    -------
    list of paths without duplicates.
    """
    paths: list[Path] = list(tm_files)
    if input_list is not None:
        base = tm_dir if tm_dir is not None else input_list.parent
        for line in input_list.read_text().splitlines():
            entry = line.split("#", 1)[0].strip()
            if entry:
                p = Path(entry)
                paths.append(p if p.is_absolute() else base / p)
    elif tm_dir is not None:
        found = [*tm_dir.glob(TM_GLOB), *tm_dir.glob(TC_GLOB)]
        paths.extend(sorted({p for p in found if p.is_file()}, key=lambda p: p.name))
    if name_filter:
        paths = [p for p in paths if fnmatch.fnmatch(p.name, name_filter)]
    unique: dict[Path, None] = {}
    for p in paths:
        unique.setdefault(p, None)
    return list(unique)


def clean_archive(
    archive: Path, levels: Iterable[str] = OUTPUT_LEVEL_DIRS, *, catalog: Catalog | None = None
) -> list[Path]:
    """Remove the level folders (``LB``, ``L0``, ``L1``, ``L2``, ``CAL``) under ``archive``.

    Nothing else under ``archive`` is touched (foreign files stay, and so does the catalog file
    with its publish history). The catalog forgets the removed levels' files and every TM file
    known so far, so that it still mirrors the archive and the next run starts over from its own
    inputs. A level folder that is a symbolic link is refused rather than followed.

    Parameters
    ----------
    archive : the archive root
    levels : the level folders to remove
    catalog : the archive's catalog; default ``<archive>/stix_catalog.duckdb`` when it exists

    Returns
    -------
    The folders removed.

    Raises
    ------
    StixError
        If a level folder is a symbolic link or not a directory.
    """
    chosen = list(levels)
    for level in chosen:
        if level not in OUTPUT_LEVEL_DIRS:
            raise StixError(f"refusing to clean unknown level folder {level!r}")
        target = archive / level
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            raise StixError(f"refusing to clean {target}: not a plain directory")
    if catalog is None and (archive / CATALOG_NAME).is_file():
        catalog = Catalog(archive / CATALOG_NAME)
    if catalog is not None:
        catalog.forget_archive(chosen)
    removed = []
    for level in chosen:
        target = archive / level
        if target.is_dir():
            shutil.rmtree(target)
            removed.append(target)
            logger.info("archive cleaned folder=%s", target)
    return removed


def _index_one(path: Path, store: IdbStore, gates: PacketGates | None) -> TmIndex:
    try:
        return index_tm_file(path, store, gates=gates)
    except OSError as err:
        raise TMFileError(f"cannot read file: {err.strerror or err}", file=path.name) from err


def _record_failed(catalog: Catalog, path: Path, error: str) -> None:
    """Record a file that could not be indexed (when it exists at all)."""
    try:
        data = path.read_bytes()
    except OSError:
        logger.warning("tm file not recorded in catalog file=%s reason=unreadable", path.name)
        return
    tm = TMFile(path, path.name, len(data), hashlib.sha256(data).hexdigest(), "TM")
    catalog.record_tm_file(tm, status="failed", error=error)


def _raise_first_quarantined(index: TmIndex) -> None:
    q = index.report.quarantined[0]
    raise PacketDecodeError(
        f"quarantined packet: {q.reason}", file=q.file, packet_index=q.packet_index, spid=q.spid
    )


def _index_all(
    paths: Sequence[Path],
    store: IdbStore,
    catalog: Catalog | None,
    *,
    stop_on_error: bool,
    on_file: Callable[[int, int, FileOutcome], None] | None,
    gates: PacketGates | None = None,
) -> tuple[list[TmIndex], list[FileOutcome]]:
    indexes: list[TmIndex] = []
    outcomes: list[FileOutcome] = []
    to_record: list[tuple[TmIndex, str]] = []
    for i, path in enumerate(paths, start=1):
        try:
            index = _index_one(path, store, gates)
        except TMFileError as err:
            logger.error("tm file failed file=%s error=%s", path.name, err)
            if stop_on_error:
                raise
            outcome = FileOutcome(path.name, "failed", error=str(err))
            if catalog is not None:
                _record_failed(catalog, path, str(err))
        else:
            n_q = len(index.report.quarantined)
            if stop_on_error and n_q:
                _raise_first_quarantined(index)
            outcome = FileOutcome(
                index.tm.name, index.tm.kind, len(index.batch), n_q,
                warnings=tuple(dict.fromkeys(index.report.warnings)),
            )  # fmt: skip
            if index.tm.kind == "TM":
                indexes.append(index)
            to_record.append((index, "indexed" if index.complete else "incomplete"))
        outcomes.append(outcome)
        if on_file is not None:
            on_file(i, len(paths), outcome)
    if catalog is not None and to_record:
        with step("catalog"):
            catalog.record_tm_indexes(to_record)  # one transaction for all files (~30 ms each)
    return indexes, outcomes


def process_tm_files(
    paths: Sequence[Path],
    archive: Path,
    store: IdbStore,
    catalog: Catalog | None = None,
    *,
    end_level: str = "LB",
    stop_on_error: bool = False,
    created: dt.datetime,
    software_version: str,
    conf_dir: Path | None = None,
    config_version: str = "",
    spice_dir: Path | None = None,
    on_file: Callable[[int, int, FileOutcome], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    workers: int = 1,
    gates: PacketGates | None = None,
) -> ProcessSummary:
    """Index TM files and rebuild every level-day they affect, up to ``end_level``.

    Parameters
    ----------
    paths : TM (and TC report) files, processed in this order
    archive : root of the product archive (``LB/<st>/<sst>[/<ssid>]/...`` below it)
    store : IDB versions
    catalog : the archive's catalog; default ``<archive>/stix_catalog.duckdb``
    end_level : ``"TM"`` (index only), ``"LB"``, ``"L0"``, ``"L1"`` or ``"L2"`` (CAL)
    stop_on_error : raise on the first unreadable file or quarantined packet, before any write
    created : creation time written into the products (deterministic output)
    software_version : ``VERS_SW`` of the products
    conf_dir : STIX-CONF root (energy channels; needed from L0 on)
    config_version : STIX-CONF tag (``VERS_CFG``)
    spice_dir : SOC kernel tree (``mk/``, ``sclk/`` ...; needed for L1)
    on_file : progress callback ``(i, n, outcome)`` after each file
    on_step : progress callback ``(message)`` before each level (``"building L0: 5 days"``)
    workers : processes for the days of one level (used when a level has enough days)
    gates : packet plausibility limits (`stix_assets.core.tmtc.gates.mission_gates`, with the
        caller's "now"); default: no time window

    Raises
    ------
    TMFileError, PacketDecodeError
        Only with ``stop_on_error``.
    ValueError
        For an unknown end level, or a level without the reference data it needs.
    """
    if end_level not in IMPLEMENTED_LEVELS:
        raise ValueError(
            f"end level {end_level!r} is not implemented (only {', '.join(IMPLEMENTED_LEVELS)})"
        )
    if LEVELS.index(end_level) >= LEVELS.index("L0") and conf_dir is None:
        raise ValueError(f"end level {end_level} needs the STIX-CONF folder (conf_dir)")
    if LEVELS.index(end_level) >= LEVELS.index("L1") and spice_dir is None:
        raise ValueError(f"end level {end_level} needs the SPICE kernel folder (spice_dir)")
    if catalog is None:
        catalog = Catalog(Path(archive) / CATALOG_NAME)
    indexes, outcomes = _index_all(
        paths, store, catalog, stop_on_error=stop_on_error, on_file=on_file, gates=gates
    )
    by_kind, versions, reasons, examples = _tally(indexes)
    level_files: dict[str, tuple[str, ...]] = {}
    issues: list[dict[str, object]] = []
    seconds: dict[str, float] = {}
    new_packets = waiting = 0
    if end_level != "TM" and indexes:
        ctx = LevelContext(
            archive_root=Path(archive), catalog=catalog, store=store, created=created,
            software_version=software_version, conf_dir=conf_dir, config_version=config_version,
            tm_indexes={ix.tm.name: ix for ix in indexes}, gates=gates,
        )  # fmt: skip
        chain = run_chain(
            _lb_days(indexes), ctx, end_level=_CHAIN_LEVEL[end_level], on_step=on_step,
            kernel_store=KernelStore(spice_dir) if spice_dir is not None else None,
            workers=workers,
        )  # fmt: skip
        for level, results in chain.results.items():
            name = _OUTPUT_NAME.get(level, level)
            level_files[name] = tuple(sorted({str(w.path) for r in results for w in r.written}))
            seconds[name] = chain.seconds[level]
        issues = list({_issue_key(i): i for i in chain.issues()}.values())  # days share inputs
        new_packets = sum(w.n_new for w in chain.written("LB"))
        waiting = sum(r.n_waiting for r in chain.results.get("L0", []))
        write_manifest(catalog)  # <archive>/manifest/: what readers can trust after this run
    return ProcessSummary(
        end_level=end_level,
        files=tuple(outcomes),
        packets_by_kind=by_kind,
        lb_files=level_files.get("LB", ()),
        lb_new_packets=new_packets,
        quarantined_by_reason=reasons,
        quarantine_examples=tuple(examples),
        idb_versions=tuple(sorted(versions)),
        errors=tuple(f"{o.name}: {o.error}" for o in outcomes if o.error),
        level_files=level_files,
        level_issues=tuple(issues),
        waiting_sequences=waiting,
        level_seconds=seconds,
        step_seconds=step_seconds(),
    )


_CHAIN_LEVEL = {"LB": "LB", "L0": "L0", "L1": "L1", "L2": "CAL"}


def _issue_key(issue: dict[str, object]) -> tuple[object, ...]:
    return tuple(
        str(issue.get(k)) for k in ("level", "file", "packet_index", "packet_id", "reason")
    )


_OUTPUT_NAME = {"CAL": "L2"}


def _lb_days(indexes: Sequence[TmIndex]) -> dict[dt.date, set[str]]:
    """SCET day -> products that the indexed TM files touched there."""
    days: dict[dt.date, set[str]] = {}
    for index in indexes:
        for product, product_days in index.days_by_product.items():
            for day in product_days:
                days.setdefault(day, set()).add(product)
    return days


def _tally(
    indexes: Sequence[TmIndex],
) -> tuple[dict[str, int], set[str], dict[str, int], list[dict[str, object]]]:
    """Packets by kind, IDB versions, quarantine counts by reason and the first examples."""
    by_kind: dict[str, int] = {}
    versions: set[str] = set()
    reasons: dict[str, int] = {}
    examples: list[dict[str, object]] = []
    for index in indexes:
        versions.update(index.idb_versions)
        for kind, n in index.packets_by_kind.items():
            by_kind[kind] = by_kind.get(kind, 0) + n
        for key, n in index.report.counts_by_reason().items():
            reasons[key] = reasons.get(key, 0) + n
        examples.extend(q.as_dict() for q in index.report.quarantined[: _EXAMPLES - len(examples)])
    return by_kind, versions, reasons, examples
