"""``stix-assets status``: runs, failing checks, TM backlog, last TM file, quarantine.

Replaces STIXCore's status socket (``stix-pipeline-status``). The Dagster part needs
``DAGSTER_HOME`` (the instance the daemon uses); without it only the file and catalog part is shown.
"""

import argparse
import datetime as dt
import json
import os
from typing import Any

from stix_assets.commands._common import add_config_option, out

__all__ = ["add_parser", "format_status", "run"]


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


def run(args: argparse.Namespace) -> int:
    """Print the status; exit 0."""
    import dagster as dg  # only this sub-command needs Dagster

    from stix_assets.resources import StixSettings
    from stix_assets.status import collect_status

    stix = StixSettings(config_file=str(args.config) if args.config else None)
    now = dt.datetime.now(dt.UTC)
    window = dt.timedelta(hours=args.failed_hours)
    if os.environ.get("DAGSTER_HOME"):
        with dg.DagsterInstance.get() as instance:
            status = collect_status(stix, instance, now=now, failed_window=window)
    else:
        status = collect_status(stix, None, now=now, failed_window=window)
    out(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0
