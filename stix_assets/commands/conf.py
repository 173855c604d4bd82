"""``stix-assets conf add TAG``: roll out a STIX-CONF tag and mark the days it changes stale.

The tag is checked out in the STIX-CONF clone (``VERSION.TXT`` updated); the per-day table
versions before and after (`stix_assets.core.conf_days`) give the UTC days whose energy-channel
or ELUT tables changed. With ``DAGSTER_HOME`` set, one observation of ``conf/energy_tables`` per
changed day is recorded, so those L1/CAL days show as stale; the reprocessing is then one
backfill per run of days, printed as ``stix-assets reprocess`` commands.
"""

import argparse
import datetime as dt
import json
from pathlib import Path

from stix_assets.commands._common import (
    add_config_option,
    day_ranges,
    out,
    record_day_observations,
    settings_from_args,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``conf`` sub-command to ``stix-assets``."""
    p = subparsers.add_parser("conf", help="STIX-CONF tags as registered reference data")
    sub = p.add_subparsers(dest="conf_command", required=True)
    add = sub.add_parser("add", help="check out a STIX-CONF tag and mark the changed days stale")
    add.add_argument("tag", help="the tag to roll out, e.g. v1.3.0")
    add.add_argument("--conf-dir", type=Path, help="STIX-CONF clone (default: the settings')")
    add.add_argument("--json", action="store_true", help="print the result as JSON")
    add_config_option(add)
    add.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Check out the tag, compare the per-day tables, record, print the backfills."""
    from stix_assets.core.conf_days import changed_days, day_table_versions
    from stix_assets.core.sync.stix_conf import checkout_stix_conf_tag
    from stix_assets.partitions import scet_day_range

    conf_dir = args.conf_dir or settings_from_args(args).stix_conf_dir
    first, last = scet_day_range(dt.datetime.now(dt.UTC))
    before = day_table_versions(conf_dir, first, last)
    result = checkout_stix_conf_tag(conf_dir, args.tag)
    after = day_table_versions(conf_dir, first, last)
    changed = changed_days(before, after)
    message = record_day_observations(
        ("conf", "energy_tables"), {d: after[d] for d in changed}, label="tables"
    )
    commands = [
        f"stix-assets reprocess --start {a} --end {b} --levels L1,L2"
        for a, b in day_ranges(changed)
    ]
    if args.json:
        out(json.dumps({
            "tag": result.tag, "previous_tag": result.previous_tag,
            "changed_days": [d.isoformat() for d in changed], "observations": message,
            "reprocess": commands,
        }, indent=2))  # fmt: skip
        return 0
    out(f"STIX-CONF {result.previous_tag or '(none)'} -> {result.tag}: {len(changed)} days changed")
    out(message)
    for command in commands:
        out(command)
    return 0
