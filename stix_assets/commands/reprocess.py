"""``stix-assets reprocess``: a backfill of ranges, level by level, on the Dagster instance."""

import argparse
import datetime as dt
import json

from stix_assets.commands._common import add_config_option

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``reprocess`` sub-command to ``stix-assets``."""
    p = subparsers.add_parser(
        "reprocess",
        help="rebuild days LB -> L0 -> L1 -> L2 on the Dagster instance (a backfill from the shell)",
        description=(
            "Rebuild a date range level by level as Dagster runs on the instance of DAGSTER_HOME "
            "(the UI shows them), with level and product filters: one range run per level and "
            "31 days, like a UI backfill. Days are SCET days for LB/L0 and UTC days for L1 and "
            "L2 (CAL)."
        ),
    )
    p.add_argument("--start", type=dt.date.fromisoformat, required=True, help="first day (ISO)")
    p.add_argument("--end", type=dt.date.fromisoformat, help="last day (default: --start)")
    p.add_argument("--levels", default="L0,L1", help="comma list of LB, L0, L1, L2 (default L0,L1)")
    p.add_argument("--products", help="comma list of registry keys, e.g. ql_lightcurve,hk_maxi")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_config_option(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the reprocessing; exit 1 if a run failed."""
    import dagster as dg

    from stix_assets.dagster_runner import reprocess_days
    from stix_assets.resources import StixSettings

    end = args.end or args.start
    if end < args.start:
        raise SystemExit("stix-assets reprocess: --end is before --start")
    settings = StixSettings(config_file=str(args.config) if args.config else None)
    levels = [lvl.strip().upper() for lvl in args.levels.split(",") if lvl.strip()]
    products = [p.strip() for p in args.products.split(",")] if args.products else None
    with dg.DagsterInstance.get() as instance:
        summary = reprocess_days(
            args.start, end, settings, instance, levels=levels, products=products
        )
    if args.json:
        print(json.dumps({"success": summary.success, "summary": str(summary)}, indent=2))
    else:
        print(str(summary))
    return 0 if summary.success else 1
