"""``stix-assets demo``: build the self-contained demo mission, process it, optionally serve the UI.

Progress (`stix_assets.core.progress.Progress`): the steps are building the root, ingesting the
TM files (``i/n``), then the LB, L0 (and later) days, one line each. `run_demo` reports nothing
itself, so the runs are followed the way the UI follows them: a thread reads the finished runs of
the demo's instance (``stix/trigger=cli``) while `run_demo` works. ``--quiet`` prints only the
summary line (and the URL with ``--serve``); ``--json`` prints only JSON on stdout.
"""

import argparse
import datetime as dt
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from stix_assets.core.progress import Progress

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)

_POLL_S = 0.5
_LEVEL_NAMES = {
    "lb": "LB", "l0": "L0", "l1": "L1", "l2": "L2", "anc": "ANC", "plots": "LL03", "l3": "flare list",
}  # fmt: skip


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``demo`` sub-command to ``stix-assets``."""
    p = subparsers.add_parser(
        "demo",
        help="build and process the self-contained demo mission (then --serve the UI)",
        description=(
            "Build a demo data root (project-written IDB, simulated telemetry with a flare, "
            "SPICE kernels, STIX-CONF channels), process it through the assets into a Dagster "
            "instance under the root, and with --serve start the webserver and daemon."
        ),
    )
    p.add_argument("folder", nargs="?", type=Path, default=Path("stix-demo"), help="demo root")
    p.add_argument("--days", type=int, default=2, help="days of telemetry (default 2)")
    p.add_argument("--clean", action="store_true", help="wipe an existing demo root first")
    p.add_argument("--serve", action="store_true", help="start dagster-webserver and the daemon")
    p.add_argument("--port", type=int, default=3000, help="preferred port (a free one if taken)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--quiet", action="store_true", help="print only the summary line (and URL)")
    out.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)
    return p


class _RunWatcher(threading.Thread):
    """Report the demo's Dagster runs as they finish, read from the instance under the root.

    The instance is opened only once `run_demo` says its own instance is open (``ready``), and
    only read: two processes or threads initialising one SQLite instance at the same moment can
    both stamp its schema version, which leaves the instance unusable.
    """

    def __init__(
        self, dagster_home: Path, incoming: Path, progress: Progress, ready: threading.Event
    ) -> None:
        super().__init__(name="demo-progress", daemon=True)
        self.ready = ready
        self._home = dagster_home
        self._incoming = incoming
        self._progress = progress
        self._done = threading.Event()
        self._seen: set[str] = set()
        self._ingested = 0
        self._since = time.time()

    def stop(self) -> None:
        """Report what is left and end the thread."""
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self.ready.wait(_POLL_S):
            if self._done.is_set():
                return
        import dagster as dg

        with dg.DagsterInstance.from_config(str(self._home)) as instance:
            while not self._done.wait(_POLL_S):
                self._report(instance)
            self._report(instance)

    def _report(self, instance: Any) -> None:
        import dagster as dg

        records = instance.get_run_records(
            filters=dg.RunsFilter(
                tags={"stix/trigger": "cli"},
                statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
                updated_after=dt.datetime.fromtimestamp(self._since, tz=dt.UTC),
            ),
            ascending=True,
        )
        for record in records:
            run = record.dagster_run
            if run.run_id in self._seen:
                continue
            self._seen.add(run.run_id)
            planned = _asset_keys(instance, run.run_id, "ASSET_MATERIALIZATION_PLANNED")
            written = _asset_keys(instance, run.run_id, "ASSET_MATERIALIZATION")
            self._report_run(run, planned, written)

    def _report_run(self, run: Any, planned: list[tuple[str, ...]], written: list) -> None:
        ok = "ok" if run.status.value == "SUCCESS" else "FAILED"  # DagsterRunStatus
        partition = run.tags.get("dagster/partition", "")
        prefixes = {k[0] for k in planned}
        if prefixes == {"tm"}:
            self._ingested += 1
            n = max(len(list(self._incoming.glob("*PktTmRaw*.xml"))), self._ingested)
            self._progress.update(self._ingested, n, f"{partition}: {ok}", label="ingest")
            return
        level = "/".join(_LEVEL_NAMES.get(p, p) for p in sorted(prefixes)) or "run"
        period = "month" if prefixes == {"l3"} else "day"
        self._progress.step(f"{level} {period} {partition}: {ok}, {len(written)} products written")


def _asset_keys(instance: Any, run_id: str, event_type: str) -> list[tuple[str, ...]]:
    """Asset keys (as tuples) of one run's events of one type (planned or materialized)."""
    import dagster as dg

    conn = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType(event_type))
    return [tuple(r.event_log_entry.dagster_event.asset_key.path) for r in conn.records]


def _process(args: argparse.Namespace, progress: Progress) -> Any:
    from stix_assets.demo_runner import run_demo

    root = args.folder.resolve()
    progress.step(f"demo root {root}: building {args.days} days of telemetry, then processing")
    watcher = _RunWatcher(root / "dagster", root / "incoming", progress, threading.Event())
    watcher.start()
    try:
        return run_demo(args.folder, days=args.days, clean=args.clean, ready=watcher.ready)
    finally:
        watcher.stop()
        progress.close()


def run(args: argparse.Namespace) -> int:
    """Build and process the demo; with ``--serve`` block until Ctrl-C."""
    import json

    from stix_assets.demo_runner import serve_demo, stop_processes

    progress = Progress(lines=sys.stderr if args.json else sys.stdout, quiet=args.quiet)
    result = _process(args, progress)
    info = {
        "root": str(result.root.root),
        "tm_files": len(result.root.tm_files),
        "runs": result.summary(),
        "success": result.success,
        "archive": str(result.root.archive),
        "dagster_home": str(result.dagster_home),
    }
    if args.json and not args.serve:
        print(json.dumps(info, indent=2))
    elif args.quiet:
        print(f"demo root {info['root']}: {info['runs']}")
    else:
        print(f"demo root: {info['root']}\nprocessed: {info['runs']}\nproducts: {info['archive']}")
    if not result.success:
        return 1
    if not args.serve:
        if not (args.quiet or args.json):
            print(f"serve the UI: stix-assets demo {args.folder} --serve")
        return 0
    url, procs = serve_demo(result, port=args.port)
    print(f"Dagster UI: {url}  (Ctrl-C stops the webserver and the daemon)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if any(p.poll() is not None for p in procs):
                logger.error("a dagster process exited; stopping the demo")
                break
    except KeyboardInterrupt:
        logger.info("demo stopped by the user")
    finally:
        stop_processes(procs)
    return 0
