"""``stix-assets diff``: what differs between two product files (or two versions in the archive).

Exit status 0 when the files are equal, 1 when they differ, 2 for bad arguments or a file that
cannot be read, so the command serves regression checks. The comparison is
`stix_assets.core.diff.diff_files`.
"""

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from stix_assets.commands._common import catalog_arg, out

__all__ = ["add_parser", "run"]

_CATALOG_NAME = "stix_catalog.duckdb"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``diff``."""
    p = subparsers.add_parser(
        "diff",
        help="compare two product files: keywords, columns, values, lineage (exit 1 if different)",
        description="Compare two product files, or two versions of one product and day in the "
        "archive: header keywords added, removed and changed (DATE, CHECKSUM and DATASUM only "
        "with --all-keywords), HDUs and columns added, removed and changed with the largest "
        "value differences, and lineage (inputs, IDB versions, kernels, STIX-CONF, code "
        "version). Exit status: 0 equal, 1 different, 2 usage or read error.",
    )
    p.add_argument("files", nargs="*", type=Path, metavar="FILE", help="two product files A B")
    p.add_argument("--archive", type=Path, help="archive root (with --product, --day, --versions)")
    p.add_argument(
        "--catalog",
        type=catalog_arg,
        metavar="FILE|URL",
        help=f"catalog file or postgresql:// URL (default <archive>/{_CATALOG_NAME})",
    )
    p.add_argument("--product", help="<level>/<product>, e.g. l1/ql_lightcurve")
    p.add_argument("--day", type=dt.date.fromisoformat, help="partition day, YYYY-MM-DD")
    p.add_argument("--versions", type=int, nargs=2, metavar=("A", "B"), help="e.g. 2 3")
    p.add_argument("--all-keywords", action="store_true", help="compare DATE/CHECKSUM/DATASUM too")
    p.add_argument("--max-rows", type=int, default=5, help="largest differences shown per column")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.set_defaults(run=run)
    return p


def _usage(message: str) -> int:
    print(f"stix-assets diff: error: {message}", file=sys.stderr)
    return 2


def _catalog(args: argparse.Namespace):
    from stix_assets.core.catalog import Catalog

    path = args.catalog or (args.archive / _CATALOG_NAME if args.archive else None)
    if isinstance(path, str) and args.archive is not None:
        return Catalog(path, archive_root=args.archive)  # a PostgreSQL URL
    if path is None or not Path(path).is_file():
        return None
    return Catalog(path, archive_root=args.archive)


def _files(args: argparse.Namespace, catalog) -> list[Path] | str:
    from stix_assets.core.diff import version_files

    by_version = (args.product, args.day, args.versions)
    if args.files:
        if any(v is not None for v in by_version):
            return "give two files or --product/--day/--versions, not both"
        if len(args.files) != 2:
            return "give exactly two files A B"
        return list(args.files)
    if any(v is None for v in by_version) or args.archive is None:
        return "give two files, or --archive with --product, --day and --versions A B"
    if catalog is None:
        return f"no catalog found for archive {args.archive}"
    try:
        return version_files(catalog, args.product, args.day, args.versions)
    except LookupError as err:
        return str(err)


def run(args: argparse.Namespace) -> int:
    """Print the differences; exit 0 equal, 1 different, 2 usage or read error."""
    from stix_assets.core.diff import diff_files, format_diff

    catalog = _catalog(args)
    files = _files(args, catalog)
    if isinstance(files, str):
        return _usage(files)
    for f in files:
        if not f.is_file():
            return _usage(f"{f} not found")
    try:
        result = diff_files(
            files[0],
            files[1],
            all_keywords=args.all_keywords,
            catalog=catalog,
            n_largest=args.max_rows,
        )
    except OSError as err:
        return _usage(f"cannot read: {err}")
    out(json.dumps(result.as_dict(), indent=2) if args.json else format_diff(result))
    return 0 if result.is_equal else 1
