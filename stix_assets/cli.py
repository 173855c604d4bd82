"""``stix-assets`` command line: process TM files up to a level, outside or inside Dagster.

``stix-assets process`` replaces STIXCore's ``stix-pipeline-cli`` (domain 8.5) for manual
(re)processing. By default it calls the core functions directly (`stix_assets.core.process`), so
start-up stays short: Dagster is imported only for ``--dagster``, which materializes the same
asset partitions on the configured instance (``DAGSTER_HOME``) instead.

Exit status of ``process``:

* 0: every input file was read; quarantined packets (file, position, reason) and packets a level
  left out are listed in the summary, and are not failures of the run;
* 1: processing stopped on an error (``--stop-on-error`` at the first bad file or packet, or any
  error that stops the run);
* 2: bad arguments, or a level that is not implemented yet;
* 3: the run completed, but at least one input file could not be read at all (empty, not a SOC
  response, unreadable; ``--continue-on-error``): the summary names it, the other files were
  processed.

An error ends the run with one line on stderr, ``stix-assets: error: <ErrorType>: <what, with the
file>``, never a traceback: a missing, read-only or full archive, a locked, unreadable or
unwritable catalog. ``process`` checks the archive folder and the catalog before it reads any TM
file.
"""

import argparse
import datetime as dt
import importlib
import importlib.metadata
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from stix_assets.commands._common import catalog_arg
from stix_assets.core.errors import StixError

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)

LEVELS = ("TM", "LB", "L0", "L1", "L2")
_IMPLEMENTED = ("TM", "LB", "L0", "L1", "L2")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_CATALOG_NAME = "stix_catalog.duckdb"


class UsageError(Exception):
    """Bad or unsupported arguments (exit status 2)."""


def build_parser(
    *, process_only: bool = False, command: str | None = None
) -> argparse.ArgumentParser:
    """Build the argument parser of ``stix-assets``.

    ``process_only`` leaves the other sub-commands out: their modules import publishing and
    SPICE code that ``process`` never needs, and start-up time counts for ``process``.
    ``command`` names the one other sub-command to add (its module only, for the same reason:
    ``status`` is run by monitoring every minute); an unknown name adds them all.
    """
    parser = argparse.ArgumentParser(prog="stix-assets", description="STIX ground processing")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "process",
        help="process TM files up to a level (TM -> LB -> L0 -> L1 -> L2/CAL)",
        description="Process SOC TM files into the archive (replaces stix-pipeline-cli).",
    )
    src = p.add_argument_group("inputs (one of --tm-dir, --tm, --input-files)")
    src.add_argument("--tm-dir", type=Path, help="all *PktTmRaw*.xml in DIR, sorted by name")
    src.add_argument("--tm", type=Path, nargs="+", default=[], metavar="FILE", help="TM files")
    src.add_argument(
        "--input-files",
        type=Path,
        metavar="LIST",
        help="text file with one TM file name or path per line (relative to --tm-dir if given)",
    )
    src.add_argument("--filter", metavar="GLOB", help="glob on file names, e.g. '*2021.016*'")
    p.add_argument("--archive", type=Path, required=True, help="product archive root")
    p.add_argument("--idb-dir", type=Path, required=True, help="IDB root (<version>/idb.sqlite)")
    p.add_argument("--idb-version", help="force an IDB version label or idb.sqlite path")
    p.add_argument("--spice-dir", type=Path, help="SPICE kernels (used from L1 on)")
    p.add_argument(
        "--conf-dir", type=Path, help="STIX-CONF tree (energy channels; required from L0 on)"
    )
    p.add_argument(
        "--catalog",
        type=catalog_arg,
        metavar="FILE|URL",
        help=f"catalog file (default <archive>/{_CATALOG_NAME}), or a postgresql://user:pw@host/db "
        "URL (else $STIX_CATALOG_URL, else [catalog] url of the settings)",
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML settings, for the [ingest] packet gates (default $STIX_CONFIG)",
    )
    p.add_argument("--start-level", choices=LEVELS, default="TM", type=str.upper)
    p.add_argument("--end-level", choices=LEVELS, default="LB", type=str.upper)
    p.add_argument(
        "--clean", action="store_true", help="remove <archive>/LB, L0, L1, L2 before processing"
    )
    errors = p.add_mutually_exclusive_group()
    errors.add_argument(
        "--continue-on-error",
        dest="stop_on_error",
        action="store_false",
        help="report bad files and packets, process the rest (default)",
    )
    errors.add_argument(
        "--stop-on-error",
        dest="stop_on_error",
        action="store_true",
        help="stop at the first unreadable file or bad packet, before writing (exit 1)",
    )
    p.set_defaults(stop_on_error=False)
    p.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="processes for the days of a level, used when a level has 4 days or more "
        "(default: the cores, at most 4)",
    )
    p.add_argument("--log-file", type=Path, help="append the stix_assets log to this file")
    p.add_argument("--log-level", choices=_LOG_LEVELS, default="WARNING", type=str.upper)
    p.add_argument("--created", type=dt.datetime.fromisoformat, help=argparse.SUPPRESS)
    p.add_argument(
        "--dagster",
        action="store_true",
        help="materialize the asset partitions on the Dagster instance (DAGSTER_HOME)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--quiet", action="store_true", help="print only the summary line")
    out.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=_process)
    if not process_only:
        _add_commands(sub, only=command)
    return parser


def _catalog_location(args: argparse.Namespace) -> Path | str:
    """The catalog of a ``process`` run: ``--catalog``, else the settings' URL, else the file.

    The URL comes from ``STIX_CATALOG_URL`` or ``[catalog] url`` of ``--config``/``STIX_CONFIG``;
    without one the catalog is ``<archive>/stix_catalog.duckdb``, as always.
    """
    from stix_assets.core.config import load_settings

    if args.catalog is not None:
        return args.catalog
    url = load_settings(config_file=args.config, env=os.environ).catalog_url
    return url or args.archive / _CATALOG_NAME


def _configure_logging(level: str, log_file: Path | None) -> None:
    """Configure the ``stix_assets`` logger (the only place that does)."""
    root = logging.getLogger("stix_assets")
    root.setLevel(level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(fmt)
    # the error that ends a run is printed once, as the "stix-assets: error:" line
    handler.addFilter(lambda record: getattr(record, "console", True))
    # the handler keeps the level even when Dagster's managed loggers raise the logger's own
    handler.setLevel(level)
    root.addHandler(handler)
    if log_file is not None:
        file_handler = logging.FileHandler(log_file)
        file_handler.setFormatter(fmt)
        file_handler.setLevel(level)
        root.addHandler(file_handler)
    root.propagate = False


def _check_levels(start: str, end: str) -> str | None:
    """Validate the level range; returns a 'nothing to do' message or ``None``."""
    if LEVELS.index(start) > LEVELS.index(end):
        raise UsageError(f"start level {start} is after end level {end}")
    if end not in _IMPLEMENTED:
        raise UsageError(
            f"end level {end} is not implemented yet (issue #3): this version processes "
            f"TM -> {_IMPLEMENTED[-1]}; use --end-level {_IMPLEMENTED[-1]} or lower"
        )
    if start != "TM":
        return (
            f"nothing to do: start level {start}, end level {end}; processing here always "
            "starts from TM files (later levels are rebuilt whole from the TM they come from)"
        )
    return None


def _inputs(args: argparse.Namespace) -> list[Path]:
    from stix_assets.core.steps import step

    with step("imports"):
        from stix_assets.core.process import collect_inputs

    if not (args.tm_dir or args.tm or args.input_files):
        raise UsageError("give the inputs: --tm-dir DIR, --tm FILE... or --input-files LIST")
    if args.tm and (args.tm_dir or args.input_files):
        raise UsageError("--tm cannot be combined with --tm-dir or --input-files")
    if args.tm_dir is not None and not args.tm_dir.is_dir():
        raise UsageError(f"--tm-dir {args.tm_dir} is not a directory")
    if args.input_files is not None and not args.input_files.is_file():
        raise UsageError(f"--input-files {args.input_files} not found")
    paths = collect_inputs(
        tm_dir=args.tm_dir,
        tm_files=args.tm,
        input_list=args.input_files,
        name_filter=args.filter,
    )
    if not paths:
        raise UsageError("no input files selected")
    return paths


def _packet_text(item: dict[str, object]) -> str:
    """``<file> packet <position> (packetID n, SPID s)``: where a packet is in its TM file."""
    where = str(item.get("file") or "?")
    position = item.get("packet_index")
    where += " (whole file)" if position is None and item.get("packet_id") is None else ""
    where += f" packet {position}" if position is not None else ""
    ids = [f"packetID {item['packet_id']}"] if item.get("packet_id") is not None else []
    ids += [f"SPID {item['spid']}"] if item.get("spid") is not None else []
    return where + (f" ({', '.join(ids)})" if ids else "")


def _print_problems(data: dict[str, object]) -> None:
    """File warnings, quarantined packets and packets a level left out, one line each."""
    for f in data["files"]:
        for warning in f["warnings"]:
            print(f"  warning: {f['name']}: {warning}")
    for q in data["quarantine_examples"]:
        print(f"  quarantined: {_packet_text(q)}: {q['reason']}")
    if data["quarantined"] > len(data["quarantine_examples"]):
        more = data["quarantined"] - len(data["quarantine_examples"])
        print(f"  ... {more} more quarantined packets (--json, or the catalog's quarantine)")
    for issue in data["level_issues"]:
        level = issue.get("level", "level")
        found = f" [in {issue['source']}]" if issue.get("source") else ""
        print(f"  left out of {level}: {_packet_text(issue)}: {issue['reason']}{found}")


def _print_summary(summary: "object", *, as_json: bool, quiet: bool) -> None:
    data = summary.as_dict()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    if not quiet:
        print(f"packets by kind: {json.dumps(data['packets_by_kind'])}")
        for level, paths in data["level_files"].items():
            for path in paths:
                print(f"  written {level}: {path}")
        _print_problems(data)
        if data["waiting_sequences"]:
            print(f"incomplete BSD sequences waiting for more TM: {data['waiting_sequences']}")
        if data["quarantined"]:
            print(f"quarantined by reason: {json.dumps(data['quarantined_by_reason'])}")
        for error in data["errors"]:
            print(f"  error: {error}")
    print(summary.summary_line())


def _run_direct(args: argparse.Namespace, paths: list[Path], created: dt.datetime) -> int:
    from stix_assets.core.catalog import Catalog
    from stix_assets.core.idb import IdbStore
    from stix_assets.core.levels import stix_conf_tag
    from stix_assets.core.process import process_tm_files
    from stix_assets.core.progress import Progress

    store = IdbStore(args.idb_dir, force_version=args.idb_version)
    catalog = Catalog(args.catalog_location, archive_root=args.archive)
    # a bar on a terminal (stderr), [i/n] lines otherwise; never on stdout under --json
    progress = Progress(lines=sys.stderr if args.json else sys.stdout, quiet=args.quiet)

    def on_file(i: int, n: int, outcome: object) -> None:
        detail = (
            outcome.error or f"{outcome.n_packets} packets, {outcome.n_quarantined} quarantined"
        )
        progress.update(i, n, f"{outcome.name}: {outcome.kind}, {detail}", label="files")

    with progress:
        summary = process_tm_files(
            paths,
            args.archive,
            store,
            catalog,
            end_level=args.end_level,
            stop_on_error=args.stop_on_error,
            created=created,
            software_version=importlib.metadata.version("stix_assets"),
            conf_dir=args.conf_dir,
            config_version=stix_conf_tag(args.conf_dir),
            spice_dir=args.spice_dir,
            on_file=on_file,
            on_step=progress.step,
            workers=max(1, args.workers),
            gates=_packet_gates(args),
        )
    _print_summary(summary, as_json=args.json, quiet=args.quiet)
    if summary.n_failed_files:
        print(
            f"stix-assets: {summary.n_failed_files} input file(s) could not be read (exit 3)",
            file=sys.stderr,
        )
        return 3
    return 0


def _packet_gates(args: argparse.Namespace) -> "object":
    """The packet plausibility gates of the settings (``[ingest]``), for the wall clock now."""
    from stix_assets.core.config import load_settings
    from stix_assets.core.tmtc.gates import gates_from_settings

    settings = load_settings(config_file=args.config, env=os.environ)
    return gates_from_settings(settings, now=dt.datetime.now(dt.UTC))


def _run_dagster(args: argparse.Namespace, paths: list[Path]) -> int:
    """Materialize the partitions on the instance of ``DAGSTER_HOME`` (Dagster imported here)."""
    import dagster as dg

    from stix_assets.dagster_runner import materialize_tm_files
    from stix_assets.resources import StixSettings

    location = args.catalog_location
    settings = StixSettings(
        archive_dir=str(args.archive.resolve()),
        idb_dir=str(args.idb_dir.resolve()),
        catalog_path=None if isinstance(location, str) else str(location.resolve()),
        catalog_url=location if isinstance(location, str) else None,
        idb_force_version=args.idb_version,
        stix_conf_dir=str(args.conf_dir.resolve()) if args.conf_dir else None,
        kernel_dir=str(args.spice_dir.resolve()) if args.spice_dir else None,
    )
    with dg.DagsterInstance.get() as instance:
        summary = materialize_tm_files(paths, settings, instance, end_level=args.end_level)
    if args.json:
        print(json.dumps({"success": summary.success, "summary": str(summary)}, indent=2))
    else:
        print(str(summary))
    return 0 if summary.success else 1


def _check_archive(args: argparse.Namespace) -> None:
    """Before any work: the archive exists or can be made, takes files, and its catalog opens.

    Raises ``ArchiveWriteError`` (missing parent folder, read-only, permission, full) or a
    ``CatalogError`` (locked, unreadable, unwritable).
    """
    from stix_assets.core.catalog import Catalog
    from stix_assets.core.filesystem import check_writable_folder

    check_writable_folder(args.archive)
    Catalog(args.catalog_location, archive_root=args.archive).check()


def _process(args: argparse.Namespace) -> int:
    from stix_assets.core.steps import add_seconds, process_age_s

    add_seconds({"startup": process_age_s() or 0.0})  # interpreter and CLI imports until now
    nothing = _check_levels(args.start_level, args.end_level)
    if nothing:
        print(nothing)
        return 0
    paths = _inputs(args)
    if not args.idb_dir.is_dir():
        raise UsageError(f"--idb-dir {args.idb_dir} is not a directory")
    if LEVELS.index(args.end_level) >= LEVELS.index("L0") and not (
        args.conf_dir and args.conf_dir.is_dir()
    ):
        raise UsageError(
            f"--end-level {args.end_level} needs --conf-dir (the STIX-CONF tree with "
            "detector/science_echan_index.csv for the energy channels)"
        )
    if LEVELS.index(args.end_level) >= LEVELS.index("L1") and not (
        args.spice_dir and (args.spice_dir / "mk").is_dir()
    ):
        raise UsageError(
            f"--end-level {args.end_level} needs --spice-dir (a SOC kernel tree with mk/, sclk/, "
            "lsk/, spk/ ...; the latest flown and predicted meta-kernels are loaded)"
        )
    args.catalog_location = _catalog_location(args)
    _check_archive(args)
    if args.clean:
        from stix_assets.core.catalog import Catalog
        from stix_assets.core.process import clean_archive

        location = args.catalog_location
        exists = isinstance(location, str) or location.is_file()
        catalog = Catalog(location, archive_root=args.archive) if exists else None
        for folder in clean_archive(args.archive, catalog=catalog):
            if not args.quiet and not args.json:
                print(f"cleaned {folder}")
    if args.dagster:
        return _run_dagster(args, paths)
    from stix_assets.core.levels.day import run_creation_time

    created = args.created or run_creation_time(os.environ.get("SOURCE_DATE_EPOCH"))
    return _run_direct(args, paths, created)


_COMMANDS = ("demo", "reprocess", "status", "config", "sync", "publish", "idb", "conf")
_COMMANDS += ("manifest", "diff")
"""The other sub-commands, in help order; each is the module of that name in `commands`."""


def _add_commands(sub: argparse._SubParsersAction, *, only: str | None = None) -> None:
    """The other sub-commands (only ``only`` when it names one)."""
    names = (only,) if only in _COMMANDS else _COMMANDS
    for name in names:
        importlib.import_module(f"stix_assets.commands.{name}").add_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stix-assets`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else None
    args = build_parser(process_only=command == "process", command=command).parse_args(argv)
    if args.command in ("process", "demo"):
        _configure_logging(getattr(args, "log_level", "WARNING"), getattr(args, "log_file", None))
    try:
        return args.run(args)
    except UsageError as err:
        print(f"stix-assets: error: {err}", file=sys.stderr)
        return 2
    except StixError as err:
        logger.error("run stopped error=%s", err, extra={"console": False})  # log file only
        print(f"stix-assets: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
