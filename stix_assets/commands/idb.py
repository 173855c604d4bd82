"""``stix-assets idb add FILE``: validate, install and register a new IDB, and mark its days stale.

The core (`stix_assets.core.idb.register.add_idb`) validates the file, copies it to
``<idb_dir>/<version>/idb.sqlite`` and extends ``idbVersionHistory.json``. This command then
compares the per-SCET-day IDB data versions before and after (`stix_assets.core.idb.days`) and,
when ``DAGSTER_HOME`` names an instance, records one observation of ``idb/versions`` per changed
day, so exactly those L0 days (and what follows from them) become stale. It prints the
``stix-assets reprocess`` commands that rebuild them.
"""

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

from stix_assets.commands._common import (
    add_config_option,
    day_ranges,
    out,
    record_day_observations,
    settings_from_args,
)
from stix_assets.core.errors import StixError
from stix_assets.core.idb.days import changed_days, day_data_versions
from stix_assets.core.idb.register import IdbAddition, add_idb
from stix_assets.core.idb.store import HISTORY_FILE, IdbStore
from stix_assets.core.spice import KernelStore, loaded_kernels
from stix_assets.partitions import scet_day_range

__all__ = ["add_parser", "run"]


def _utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``idb add``."""
    p = subparsers.add_parser(
        "idb",
        help="manage the installed IDB versions (idb add FILE)",
        description="Manage the installed IDB versions and their version history.",
    )
    sub = p.add_subparsers(dest="idb_command", required=True)
    a = sub.add_parser(
        "add",
        help="validate a new idb.sqlite, install it and start its validity at --valid-from",
        description=(
            "Validate an IDB SQLite file, place it at <idb-dir>/<version>/idb.sqlite and add an "
            "open-ended history entry from --valid-from (OBT through the SPICE SCLK kernel). "
            "With DAGSTER_HOME set, the SCET days whose IDB changed are recorded as new data "
            "versions of idb/versions, so their L0 becomes stale."
        ),
    )
    a.add_argument("file", type=Path, help="the new idb.sqlite")
    a.add_argument("--idb-dir", type=Path, help="IDB folder (default: idb_dir of the config)")
    a.add_argument("--valid-from", type=_utc, help="UTC start of validity (default: now)")
    a.add_argument("--asw-version", type=int, help="flight software version (default: previous)")
    a.add_argument("--version", help="version label if the file has no IDB table")
    a.add_argument("--spice-dir", type=Path, help="SPICE kernel store (default: kernel_dir)")
    a.add_argument("--dry-run", action="store_true", help="validate and show, write nothing")
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    add_config_option(a)
    a.set_defaults(run=run)
    return p


def _preview_store(addition: IdbAddition, idb_dir: Path, scratch: Path, fallback: str) -> IdbStore:
    """A store as it would be after the addition (for --dry-run), built from symlinks."""
    for version_dir in idb_dir.iterdir():
        if version_dir.is_dir():
            (scratch / version_dir.name).symlink_to(version_dir.resolve())
    target = scratch / addition.check.version
    if not target.exists():
        target.mkdir()
        (target / "idb.sqlite").symlink_to(addition.check.path.resolve())
    (scratch / HISTORY_FILE).write_text(json.dumps(addition.history_after))
    return IdbStore(scratch, fallback_version=fallback)


def run(args: argparse.Namespace) -> int:
    """Add the IDB; 0 done, 1 refused (the error names the file)."""
    settings = settings_from_args(args)
    idb_dir = args.idb_dir or settings.idb_dir
    spice_dir = args.spice_dir or settings.kernel_dir
    valid_from = args.valid_from or dt.datetime.now(dt.UTC)
    fallback = settings.idb_fallback_version
    first, last = scet_day_range(dt.datetime.now(dt.UTC))
    try:
        before = day_data_versions(IdbStore(idb_dir, fallback_version=fallback), first, last)
        with loaded_kernels(KernelStore(spice_dir)) as kernels:
            addition = add_idb(
                args.file, idb_dir, valid_from=valid_from, kernels=kernels,
                version=args.version, asw_version=args.asw_version, dry_run=args.dry_run,
            )  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="stix-idb-") as scratch:
            store = (
                _preview_store(addition, Path(idb_dir), Path(scratch), fallback)
                if args.dry_run
                else IdbStore(idb_dir, fallback_version=fallback)
            )
            after = day_data_versions(store, first, last)
    except StixError as err:
        out(f"refused: {err}")
        return 1
    changed = changed_days(before, after)
    message = (
        "dry run: nothing written, nothing recorded"
        if args.dry_run
        else record_day_observations(
            ("idb", "versions"), {d: after[d] for d in changed}, label="idb_versions"
        )
    )
    reprocess = [
        f"stix-assets reprocess --start {a} --end {b} --levels L0,L1"
        for a, b in day_ranges(changed)
    ]
    result = {
        "version": addition.check.version,
        "sha256": addition.check.sha256,
        "target": str(addition.target),
        "copied": addition.copied,
        "dry_run": addition.dry_run,
        "new_entry": addition.new_entry,
        "closed_entry": addition.history_after[-2] if len(addition.history_after) > 1 else None,
        "changed_scet_days": len(changed),
        "observations": message,
        "reprocess": reprocess,
    }
    if args.json:
        out(json.dumps(result, indent=2, default=str))
    else:
        for key, value in result.items():
            out(f"{key}: {json.dumps(value) if isinstance(value, dict | list) else value}")
    return 0
