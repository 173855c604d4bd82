"""``stix-assets manifest``: rebuild ``<archive>/manifest/``, or ask it which CAL file holds.

``stix-assets manifest [--archive DIR] [--catalog FILE]`` rebuilds ``products`` and
``cal_index`` (Parquet and JSON) from the catalog; ``--cal-for 2021-01-16T12:00:00 [--elut
NAME]`` prints the CAL file for that time (same ELUT, closest in time) from the existing index,
without rebuilding. Without ``--elut`` the ELUT is the one valid at that time in STIX-CONF
(``--conf-dir``, default the configured ``stix_conf_dir``) when that folder has an ELUT index,
else the ELUT of the last calibration before that time.

Exit status: 0 on success, 1 when no CAL file matches or the catalog is locked, 2 for bad
arguments.
"""

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from stix_assets.commands._common import (
    add_config_option,
    catalog_arg,
    out,
    settings_from_args,
)
from stix_assets.core.catalog import Catalog
from stix_assets.core.errors import StixError
from stix_assets.core.manifest import cal_file_for, read_cal_index, write_manifest

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``manifest``."""
    p = subparsers.add_parser(
        "manifest",
        help="rebuild <archive>/manifest/ or find the CAL file for a time",
        description="Rebuild the archive manifest (products, cal_index; Parquet and JSON), or "
        "with --cal-for print the CAL file for a time (same ELUT, closest in time).",
    )
    add_config_option(p)
    p.add_argument("--archive", type=Path, help="archive root (default: configured archive_dir)")
    p.add_argument(
        "--catalog",
        type=catalog_arg,
        metavar="FILE|URL",
        help="catalog file or postgresql:// URL (default <archive>/stix_catalog.duckdb; without "
        "--archive the settings' [catalog] url if set)",
    )
    p.add_argument("--cal-for", metavar="TIME", help="UTC time, ISO (2021-01-16T12:00:00)")
    p.add_argument("--elut", help="ELUT name of the data at --cal-for (ob_elut_name)")
    p.add_argument("--conf-dir", type=Path, help="STIX-CONF root to find the ELUT of --cal-for")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.set_defaults(run=run)
    return p


def _elut_from_conf(conf_dir: Path | None, when: datetime) -> str | None:
    from stix_assets.core.energies import elut_file

    if conf_dir is None or not (conf_dir / "elut" / "elut_index.csv").is_file():
        return None
    try:
        return elut_file(conf_dir, when).stem
    except (StixError, ValueError, OSError):
        return None  # no ELUT valid then: fall back to the calibrations' own ELUT


def _cal_for(args: argparse.Namespace, archive: Path, conf_dir: Path | None) -> int:
    try:
        when = datetime.fromisoformat(args.cal_for)
    except ValueError:
        print(f"stix-assets manifest: error: not an ISO time: {args.cal_for!r}", file=sys.stderr)
        return 2
    when = when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
    elut = args.elut or _elut_from_conf(conf_dir, when)
    index = read_cal_index(archive)
    entry = cal_file_for(when, elut, index)
    if args.json:
        found = None if entry is None else {"path": entry.path, "elut": entry.elut}
        out(json.dumps({"time": when.isoformat(), "elut": elut, "cal_file": found}))
    elif entry is not None:
        out(str(archive / entry.path))
    if entry is None:
        print(
            f"stix-assets manifest: no CAL file for {when.isoformat()} "
            f"(elut {elut or 'unknown'}, {len(index)} CAL files in the index)",
            file=sys.stderr,
        )
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Rebuild the manifest, or print the CAL file for ``--cal-for``."""
    settings = None
    if args.archive is None or (args.cal_for and args.conf_dir is None and not args.elut):
        settings = settings_from_args(args)
    archive = args.archive or settings.archive_dir
    if args.cal_for:
        conf_dir = args.conf_dir or (settings.stix_conf_dir if settings else None)
        return _cal_for(args, Path(archive), Path(conf_dir) if conf_dir else None)
    url = settings.catalog_url if settings is not None and args.archive is None else None
    catalog = args.catalog or url or Path(archive) / "stix_catalog.duckdb"
    try:
        result = write_manifest(Catalog(catalog, archive_root=archive))
    except StixError as err:
        print(f"stix-assets manifest: failed: {err}", file=sys.stderr)
        return 1
    meta = result.as_metadata()
    if args.json:
        out(json.dumps(meta))
    else:
        out(
            f"manifest {meta['manifest']}: {meta['products']} product files, "
            f"{meta['cal_files']} CAL files ({meta['headers_read']} headers read)"
        )
    return 0
