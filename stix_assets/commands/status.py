"""``stix-assets status``: runs, failing checks, TM backlog, last TM file, quarantine.

Replaces STIXCore's status socket (``stix-pipeline-status``). The Dagster part needs
``DAGSTER_HOME`` (the instance the daemon uses); without it only the file and catalog part is shown.
"""

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from stix_assets.commands._common import add_config_option, out

__all__ = ["add_parser", "format_completeness", "format_status", "parse_days", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``status``."""
    p = subparsers.add_parser(
        "status",
        help="what runs, what waits, what failed (replaces stix-pipeline-status)",
        description="Show running, queued and failed runs, failing asset checks (latest "
        "evaluation per check and day), TM files waiting, the last processed TM file and "
        "quarantined packets.",
    )
    add_config_option(p)
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.add_argument("--failed-hours", type=float, default=24.0, help="failed runs of the last H h")
    p.add_argument(
        "--days",
        metavar="START..END",
        help="instead: the day x product completeness table of these days (2024-05-01..2024-05-31)",
    )
    p.add_argument("--archive", type=Path, help="with --days: archive root (default: configured)")
    p.add_argument(
        "--gap-threshold", type=int, default=600, help="with --days: shortest TM gap shown (s)"
    )
    p.set_defaults(run=run)
    return p


def _runs(title: str, rows: list[dict[str, Any]]) -> list[str]:
    out = [f"{title}: {len(rows)}"]
    out += [
        f"  {r['run_id'][:8]} {r['job']} {r['partition'] or ''} {r['started'] or r['created']}"
        for r in rows
    ]
    return out


def _checks(checks: dict[str, Any]) -> list[str]:
    severities = ", ".join(f"{n} {sev}" for sev, n in sorted(checks["by_severity"].items()))
    out = [f"failing checks: {checks['n_failed']}" + (f" ({severities})" if severities else "")]
    out += [
        f"  {r['severity']:<5} {r['asset']} {r['partition'] or ''} {r['check']}: "
        f"{r['description'] or 'failed'}"
        for r in checks["failed"]
    ]
    if checks["n_failed"] > len(checks["failed"]):
        out.append(f"  ... {checks['n_failed'] - len(checks['failed'])} more (--json for counts)")
    return out


def _quarantined_text(q: dict[str, Any]) -> str:
    where = q["file"]
    if q.get("packet_index") is not None:
        where += f" packet {q['packet_index']}"
    if q.get("packet_id") is not None:
        where += f" (packetID {q['packet_id']})"
    return f"{where}: {q['reason']}"


def format_status(status: dict[str, Any]) -> str:
    """Human-readable text of a status dict."""
    lines = [f"status at {status['generated_at']}"]
    runs = status.get("runs")
    if runs is None:
        lines.append("runs: DAGSTER_HOME not set, instance not read")
    else:
        lines += _runs("running", runs["running"]) + _runs("queued", runs["queued"])
        lines += _runs(f"failed since {runs['failed_since']}", runs["failed"])
    if status.get("checks") is not None:
        lines += _checks(status["checks"])
    tm = status["tm"]
    lines.append(f"TM files waiting (stage and delay): {tm['n_waiting']}")
    lines.append(f"TM files in the inbox not ingested: {tm['n_incoming_not_ingested']}")
    cat = status["catalog"]
    if cat.get("busy"):
        lines.append(f"catalog busy: {cat['error']}")
        return "\n".join(lines)
    last = cat.get("last_tm_file")
    lines.append(
        "last processed TM file: "
        + (f"{last['name']} ({last['status']}, {last['processed_at']})" if last else "none")
    )
    lines.append(f"quarantined packets: {sum(cat['quarantine'].values())}")
    lines += [f"  {n:>6} {category}" for category, n in cat["quarantine"].items()]
    lines += [f"  latest: {_quarantined_text(q)}" for q in cat["quarantine_latest"]]
    return "\n".join(lines)


def parse_days(text: str) -> tuple[dt.date, dt.date]:
    """``2024-05-01..2024-05-31`` (or one day) -> (first, last).

    Raises
    ------
    ValueError
        For anything else, or a range that ends before it starts.
    """
    first, _, last = text.partition("..")
    start = dt.date.fromisoformat(first.strip())
    end = dt.date.fromisoformat(last.strip()) if last else start
    if end < start:
        raise ValueError(f"day range ends before it starts: {text!r}")
    return start, end


def _coverage_line(cov: dict[str, Any]) -> str:
    h, rest = divmod(cov["covered_s"], 3600)
    covered = f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}"
    gaps = ", ".join(f"{b}-{e}" for b, e in cov["gaps"]) or "none"
    return f"TM {len(cov['tm_files'])} files, covered {covered}, gaps: {gaps}"


def format_completeness(table: dict[str, Any]) -> str:
    """Compact text of a ``status --days`` table.

    Per day the TM coverage, then per product one letter per level (see the legend line).
    """
    from stix_assets.core.completeness import COMPLETENESS_LEVELS, STATE_CODES

    legend = " ".join(f"{code}={state}" for state, code in STATE_CODES.items())
    lines = [f"completeness {table['start']}..{table['end']} ({legend}; s=superseded p=published)"]
    lines.append(f"  {'product':<22} {' '.join(COMPLETENESS_LEVELS)}")
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for c in table["cells"]:
        cells.setdefault(c["day"], {}).setdefault(c["product"], {})[c["level"]] = c
    for cov in table["coverage"]:
        lines.append(f"{cov['day']}  {_coverage_line(cov)}")
        for product, by_level in sorted(cells.get(cov["day"], {}).items()):
            codes = " ".join(
                f"{STATE_CODES[by_level[lvl]['state']] if lvl in by_level else '.':<2}"
                for lvl in COMPLETENESS_LEVELS
            )
            sup = sum(c["superseded"] for c in by_level.values())
            pub = sum(c["published"] for c in by_level.values())
            lines.append(f"  {product:<22} {codes}  s{sup} p{pub}")
    totals = table["totals"]
    lines.append("total: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    return "\n".join(lines)


def _run_days(args: argparse.Namespace) -> int:
    from stix_assets.commands._common import settings_from_args
    from stix_assets.core.catalog import Catalog, catalog_location
    from stix_assets.core.completeness import completeness_table

    try:
        start, end = parse_days(args.days)
    except ValueError as err:
        print(f"stix-assets status: error: --days: {err}", file=sys.stderr)
        return 2
    if args.archive is not None:
        catalog = Catalog(args.archive / "stix_catalog.duckdb", archive_root=args.archive)
    else:
        settings = settings_from_args(args)
        catalog = Catalog(catalog_location(settings), archive_root=settings.archive_dir)
    table = completeness_table(catalog, start, end, gap_threshold_s=args.gap_threshold)
    out(json.dumps(table, indent=1) if args.json else format_completeness(table))
    return 0


def run(args: argparse.Namespace) -> int:
    """Print the status (or with ``--days`` the completeness table); exit 0."""
    if getattr(args, "days", None):
        return _run_days(args)
    from stix_assets.commands._common import settings_from_args
    from stix_assets.core.status import status_document

    settings = settings_from_args(args)
    now = dt.datetime.now(dt.UTC)
    window = dt.timedelta(hours=args.failed_hours)
    home = os.environ.get("DAGSTER_HOME")
    tables = None
    if home:
        from stix_assets.instance_tables import InstanceTables

        tables = InstanceTables.at(Path(home))
    if tables is not None:  # the instance's tables, read without importing Dagster (issue 12)
        status = status_document(
            settings,
            runs=tables.run_status(failed_since=now - window),
            checks=tables.failing_checks(),
            now=now,
        )
    elif home:  # a storage only Dagster knows how to read: its API (never the code location)
        import dagster as dg

        from stix_assets.status import status_from_settings

        with dg.DagsterInstance.get() as instance:
            status = status_from_settings(settings, instance, now=now, failed_window=window)
    else:
        status = status_document(settings, runs=None, checks=None, now=now)
    out(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0
