"""``stix-assets demo``: build the self-contained demo mission, process it, optionally serve the UI."""

import argparse
import logging
import signal
import threading
from pathlib import Path

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)


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
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Build and process the demo; with ``--serve`` block until Ctrl-C."""
    import json

    from stix_assets.demo_runner import run_demo, serve_demo, stop_processes

    result = run_demo(args.folder, days=args.days, clean=args.clean)
    info = {
        "root": str(result.root.root),
        "tm_files": len(result.root.tm_files),
        "runs": str(result.runs),
        "success": result.runs.success,
        "archive": str(result.root.archive),
        "dagster_home": str(result.dagster_home),
    }
    if args.json and not args.serve:
        print(json.dumps(info, indent=2))
    else:
        print(f"demo root: {info['root']}\nprocessed: {info['runs']}\nproducts: {info['archive']}")
    if not result.runs.success:
        return 1
    if not args.serve:
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
        pass
    finally:
        stop_processes(procs)
    return 0
