"""``stix-assets sync JOB``: run one sync job now, outside Dagster, under the same lock."""

import argparse
import json
import os

from stix_assets.commands._common import add_config_option, out, settings_from_args
from stix_assets.core.catalog import Catalog, catalog_location
from stix_assets.core.config import Settings
from stix_assets.core.sync import (
    SyncLockedError,
    run_archive_mirror,
    run_spice_soop_sync,
    run_stix_conf_sync,
    run_tm_sync,
    sync_lock,
)

__all__ = ["JOBS", "add_parser", "run"]


def _spice(s: Settings) -> object:
    catalog = Catalog(catalog_location(s), archive_root=s.archive_dir)
    return run_spice_soop_sync(s, catalog, run_id=f"cli-{os.getpid()}")


JOBS = {
    "tm": ("sync_tm", run_tm_sync),
    "spice-soop": ("sync_spice_soop", _spice),
    "stix-conf": ("sync_stix_conf", run_stix_conf_sync),
    "archive-mirror": ("sync_archive_mirror", run_archive_mirror),
}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sync``."""
    p = subparsers.add_parser(
        "sync",
        help="run one sync job now (tm, spice-soop, stix-conf, archive-mirror)",
        description="Run a sync job now with the real rsync/git, holding the job's lock.",
    )
    p.add_argument("job", choices=sorted(JOBS))
    add_config_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the job; 0 done, 1 failed (error raised to the caller), 3 skipped (lock held)."""
    settings = settings_from_args(args)
    lock_name, work = JOBS[args.job]
    try:
        with sync_lock(settings.lock_dir, lock_name, wait_s=settings.lock_wait_s):
            result = work(settings)
    except SyncLockedError as err:
        out(f"skipped: {err}")
        return 3
    metadata = result.as_metadata()
    if args.json:
        out(json.dumps(metadata, indent=2, default=str))
    else:
        for key, value in metadata.items():
            out(f"{key}: {value}")
    failed = metadata.get("zips_failed")
    return 1 if failed else 0
