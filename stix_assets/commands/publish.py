"""``stix-assets publish``: deliver due archive files to ESA SOAR (replaces STIXCore's publish.py).

Every option of the old script, with dashes (``--target-dir`` for ``--target_dir``). The history
is the ``publish_history`` table of the DuckDB catalog (``--db-file``, default the archive's
``stix_catalog.duckdb``); ``--import-published-sqlite`` copies an old STIXCore
``published.sqlite`` into it once.

Output: one line per file decided (``REFUSED`` lines name the file and the HDU whose
``CHECKSUM``/``DATASUM`` failed), then ``publish delivered <n>, refused <n>, errors <n>, skipped
<n> (<reason> <n>, ...) | E<n> I<n> S<n> P<n>`` (STIXCore's mail-subject counts last); ``--json``
prints the same as `PublishReport.as_metadata` (``totals``, ``skipped_by_reason``, ``refused``).

Exit status: 0 when the run completed (per-file ERRORs and REFUSED files are in the summary), 1
when it failed (history locked, target not writable, a transfer failed, a delivered copy failed
verification and could not be removed), 2 for bad arguments.

Crash-test hook (tests only): ``STIX_PUBLISH_PAUSE_AT=before_rename|after_rename`` with
``STIX_PUBLISH_PAUSE_S=<s>`` makes each transfer sleep at that point, so a test can kill the
process there.
"""

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from stix_assets.core.catalog import Catalog
from stix_assets.core.errors import StixError
from stix_assets.core.manifest import write_manifest
from stix_assets.core.publish import (
    DEFAULT_RID_LUT_URL,
    PublishConfig,
    PublishFilters,
    PublishHistory,
    PublishReport,
    TransferHooks,
    import_published_sqlite,
    make_target,
    publish_archive,
    read_rid_lut,
    update_rid_lut,
)
from stix_assets.core.spice import KernelStore, LoadedKernels, loaded_kernels

__all__ = ["add_parser", "build_config", "main", "run"]

logger = logging.getLogger(__name__)

CATALOG_NAME = "stix_catalog.duckdb"
DEFAULT_LEVELS = "L0, L1, L2, ANC, LL03, CAL"
DEFAULT_PRODUCTS = "ql,hk,sci,asp,cal"
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``publish`` sub-command to ``stix-assets``."""
    p = subparsers.add_parser(
        "publish",
        help="deliver due FITS/SVG products to ESA SOAR",
        description="Deliver due archive products to ESA SOAR (replaces STIXCore publish.py).",
    )
    p.add_argument("-f", "--fits-dir", type=Path, required=True, help="archive to publish from")
    p.add_argument("-t", "--target-dir", required=True, help="SOAR delivery folder")
    p.add_argument("-T", "--target-host", default="localhost", help="localhost or [user@]host")
    p.add_argument(
        "-s",
        "--same-esa-name-dir",
        type=Path,
        help="third+ clash folder (<target>/../esa_conflicts)",
    )
    p.add_argument("-r", "--rid-lut-file", type=Path, help="BSD request LUT (CSV)")
    p.add_argument(
        "--update-rid-lut", action="store_true", help="update the LUT from the API first"
    )
    p.add_argument("--rid-lut-url", default=DEFAULT_RID_LUT_URL, help="LUT API base URL")
    p.add_argument("--sort-files", action="store_true", help="publish in file-name order")
    p.add_argument("--blacklist-files", type=Path, help="text file, one file name per line")
    p.add_argument(
        "--supplement-report",
        type=Path,
        default=Path("~/supplement_report.csv").expanduser(),
        help="TSV appended with one row per supplement",
    )
    p.add_argument("-d", "--db-file", type=Path, help=f"catalog (<fits-dir>/{CATALOG_NAME})")
    p.add_argument("--import-published-sqlite", type=Path, help="STIXCore history to import")
    p.add_argument("--lock-timeout", type=float, default=30.0, help="history lock wait (s)")
    p.add_argument("-w", "--waiting-period", default="14d", help="since last modification")
    p.add_argument("--ll-waiting-period", default="1min", help="waiting period of LL levels")
    p.add_argument("-n", "--batch-size", type=int, default=-1, help="max files (-1: all)")
    p.add_argument("-v", "--include-versions", default="*", help="'*' or e.g. 'V02,3'")
    p.add_argument("-l", "--include-levels", default=DEFAULT_LEVELS)
    p.add_argument("-p", "--include-products", default=DEFAULT_PRODUCTS)
    p.add_argument("--product-day", type=date.fromisoformat, help="only files dated this day")
    p.add_argument("--spice-dir", type=Path, help="kernel store (latest flown MK is used)")
    p.add_argument("-S", "--spice-file", type=Path, help="explicit meta-kernel instead")
    p.add_argument("--dry-run", action="store_true", help="decide and report, change nothing")
    p.add_argument("--log-level", choices=_LOG_LEVELS, default="INFO", type=str.upper)
    p.add_argument("-o", "--log-file", type=Path, help="append the log to this file")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)
    return p


def _blacklist(path: Path | None) -> frozenset[str]:
    if path is None:
        return frozenset()
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip())


def build_config(args: argparse.Namespace, *, today: date) -> PublishConfig:
    """Turn parsed arguments into a `PublishConfig` (updating the RID LUT if asked)."""
    filters = PublishFilters.from_text(
        include_versions=args.include_versions,
        include_levels=args.include_levels,
        include_products=args.include_products,
        waiting_period=args.waiting_period,
        ll_waiting_period=args.ll_waiting_period,
        batch_size=args.batch_size,
        sort_files=args.sort_files,
    )
    rid_lut = None
    if args.rid_lut_file is not None:
        if args.update_rid_lut or not args.rid_lut_file.exists():
            rid_lut = update_rid_lut(args.rid_lut_file, args.rid_lut_url, today=today)
        else:
            rid_lut = read_rid_lut(args.rid_lut_file)
    same = args.same_esa_name_dir or Path(args.target_dir).parent / "esa_conflicts"
    return PublishConfig(
        fits_dir=args.fits_dir,
        target=make_target(args.target_dir, args.target_host),
        same_esa_name_dir=same,
        filters=filters,
        rid_lut=rid_lut,
        blacklist=_blacklist(args.blacklist_files),
        supplement_report=args.supplement_report,
        dry_run=args.dry_run,
        product_day=args.product_day,
    )


def _pause_hooks() -> TransferHooks:
    where = os.environ.get("STIX_PUBLISH_PAUSE_AT", "")
    seconds = float(os.environ.get("STIX_PUBLISH_PAUSE_S", "0") or 0)

    def pause(name: str) -> None:
        print(f"pause {where} {name}", file=sys.stderr, flush=True)
        time.sleep(seconds)

    if where == "before_rename" and seconds > 0:
        return TransferHooks(before_rename=pause)
    if where == "after_rename" and seconds > 0:
        return TransferHooks(after_rename=pause)
    return TransferHooks()


@contextlib.contextmanager
def _kernels(args: argparse.Namespace) -> Iterator[LoadedKernels | None]:
    if args.spice_dir is None and args.spice_file is None:
        yield None
        return
    store = KernelStore(args.spice_dir or args.spice_file.parent.parent)
    mks = [args.spice_file] if args.spice_file is not None else None
    with loaded_kernels(store, meta_kernels=mks, flown_only=True) as kernels:
        yield kernels


def _configure_logging(level: str, log_file: Path | None) -> None:
    root = logging.getLogger("stix_assets")
    root.setLevel(level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.propagate = False


def _print_report(report: PublishReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_metadata(), indent=1, default=str))
        return
    for o in report.outcomes:
        shown = f" -> {o.delivered_name}" if o.delivered_name else ""
        print(f"{o.report:11s} {o.source}{shown} {o.reason}".rstrip())
    print(f"publish {report.summary()}{' (dry run)' if report.dry_run else ''}")


def run(args: argparse.Namespace) -> int:
    """Run ``stix-assets publish`` with parsed arguments; return the exit status."""
    _configure_logging(args.log_level, args.log_file)
    now = datetime.now(UTC)
    try:
        config = build_config(args, today=now.date())
    except (ValueError, OSError) as err:
        print(f"stix-assets publish: error: {err}", file=sys.stderr)
        return 2
    catalog = Catalog(
        args.db_file or args.fits_dir / CATALOG_NAME,
        archive_root=args.fits_dir,
        lock_timeout_s=args.lock_timeout,
    )
    try:
        if args.import_published_sqlite is not None:
            history = PublishHistory(catalog)
            for row in import_published_sqlite(args.import_published_sqlite):
                history.upsert(row)
        with _kernels(args) as kernels:
            report = publish_archive(
                config, catalog, now=now, kernels=kernels, hooks=_pause_hooks()
            )
        if not config.dry_run:
            write_manifest(catalog)  # the manifest's published_as of the files delivered now
    except StixError as err:
        logger.error("publish failed error=%s", err)
        print(f"stix-assets publish: failed: {err}", file=sys.stderr)
        return 1
    _print_report(report, args.json)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m stix_assets.commands.publish`` (same options)."""
    parser = argparse.ArgumentParser(prog="stix-assets")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["publish", *(sys.argv[1:] if argv is None else argv)])
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
