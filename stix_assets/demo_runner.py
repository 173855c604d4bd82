"""``stix-assets demo``: build the demo root, process it through the assets, optionally serve the UI.

The demo's Dagster instance lives under the root (``<root>/dagster``), so its runs, partitions
and sensor cursors persist across reruns. Processing goes through `materialize_tm_files`, the
same path as ``stix-assets process --dagster``; with ``serve`` the webserver and the daemon are
started as child processes on a free local port with the environment that points the code
location at the demo root, and stopped on Ctrl-C.
"""

import datetime as dt
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from stix_assets.dagster_runner import (
    DagsterRun,
    DagsterRunSummary,
    materialize_daily_products,
    materialize_tm_files,
)
from stix_assets.demo import build_demo_root
from stix_assets.demo.root import DemoRoot
from stix_assets.resources import StixSettings
from stix_assets.sensors import ingested_stamps

__all__ = ["DEMO_START", "DemoResult", "demo_environment", "run_demo", "serve_demo"]

logger = logging.getLogger(__name__)

DEMO_START = dt.date(2024, 5, 14)
"""First UTC day of the demo mission (fixed, so every demo root is the same)."""
_INSTANCE_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
_PACKAGED_INSTANCE_YAML = """\
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
  pools:
    default_limit: 1
    granularity: op
python_logs:
  managed_python_loggers:
    - stix_assets
  python_log_level: INFO
telemetry:
  enabled: false
"""


@dataclass(frozen=True, slots=True)
class DemoResult:
    """The demo root that was built and the runs that processed it."""

    root: DemoRoot
    dagster_home: Path
    runs: DagsterRunSummary
    daily_runs: tuple[DagsterRun, ...] = ()

    @property
    def success(self) -> bool:
        """True when every level and daily-product run succeeded."""
        return self.runs.success and all(r.success for r in self.daily_runs)

    def summary(self) -> str:
        """One line: the level runs, then the daily-product runs."""
        ok = sum(r.success for r in self.daily_runs)
        return f"{self.runs}, {ok}/{len(self.daily_runs)} daily-product runs"


def demo_environment(root: DemoRoot, dagster_home: Path) -> dict[str, str]:
    """Environment that points the code location (and any child process) at the demo root."""
    return {
        "DAGSTER_HOME": str(dagster_home),
        "STIX_DATA_ROOT": str(root.root),
        "STIX_INCOMING_DIR": str(root.incoming),
        "STIX_ARCHIVE_DIR": str(root.archive),
        "STIX_IDB_DIR": str(root.idb_root),
        "STIX_STIX_CONF_DIR": str(root.conf_dir),
        "STIX_KERNEL_DIR": str(root.spice_kernels),
        # demo files are complete when written; the inbox sensor need not wait long
        "STIX_SETTLE_TIME_S": "5",
    }


def _prepare_instance(dagster_home: Path) -> None:
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists():
        if _INSTANCE_YAML.is_file():
            shutil.copyfile(_INSTANCE_YAML, target)
        else:  # installed without the repository's example file
            target.write_text(_PACKAGED_INSTANCE_YAML)


def run_demo(
    folder: Path, *, days: int = 2, clean: bool = False, ready: threading.Event | None = None
) -> DemoResult:
    """Build (or refresh) the demo root under ``folder`` and process it through the assets.

    ``ready`` is set once the demo's instance is open (its storage created and migrated), so that
    a reader may open it too without racing the initialisation.

    Raises
    ------
    stix_assets.demo.root.DemoRootError
        If ``folder`` is a non-empty folder that is not a demo root.
    """
    root = build_demo_root(Path(folder), start=DEMO_START, days=days, clean=clean)
    dagster_home = root.root / "dagster"
    _prepare_instance(dagster_home)
    env = demo_environment(root, dagster_home)
    settings = StixSettings(
        data_root=env["STIX_DATA_ROOT"],
        incoming_dir=env["STIX_INCOMING_DIR"],
        archive_dir=env["STIX_ARCHIVE_DIR"],
        idb_dir=env["STIX_IDB_DIR"],
        stix_conf_dir=env["STIX_STIX_CONF_DIR"],
        kernel_dir=env["STIX_KERNEL_DIR"],
    )
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        if ready is not None:
            ready.set()
        # a rerun leaves unchanged files alone: nothing new to ingest, no new runs
        stamps = ingested_stamps(instance, [p.name for p in root.tm_files])
        todo = [
            p
            for p in root.tm_files
            if stamps.get(p.name) != (p.stat().st_mtime_ns, p.stat().st_size)
        ]
        runs = materialize_tm_files(todo, settings, instance, end_level="L1")
        # the daily products (ANC, LL03, flare list) of the demo days that got new L1 files
        demo_days = {DEMO_START + dt.timedelta(days=i) for i in range(days)}
        fresh = {dt.date.fromisoformat(r.partition_key) for r in runs.l1_runs if r.success}
        daily_runs = materialize_daily_products(sorted(fresh & demo_days), settings, instance)
    logger.info("demo processed root=%s runs=%s daily=%d", root.root, runs, len(daily_runs))
    return DemoResult(root, dagster_home, runs, daily_runs)


def _free_port(preferred: int = 3000) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError("no free local port")


def _wait_for_server(url: str, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise TimeoutError(f"dagster-webserver did not answer at {url} within {timeout_s:.0f} s")


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def serve_demo(
    result: DemoResult, *, port: int | None = None, extra_env: Mapping[str, str] | None = None
) -> tuple[str, list[subprocess.Popen]]:
    """Start ``dagster-webserver`` and ``dagster-daemon`` for the demo; returns (URL, processes).

    A port in use is replaced by a free one. The caller stops the processes (`stop_processes`).
    """
    env = {**os.environ, **demo_environment(result.root, result.dagster_home), **(extra_env or {})}
    port = _free_port(port or 3000)
    url = f"http://127.0.0.1:{port}"
    target = ["-m", "stix_assets.definitions"]
    web = subprocess.Popen(
        [_bin("dagster-webserver"), *target, "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        cwd=result.root.root,
    )
    daemon = subprocess.Popen(
        [_bin("dagster-daemon"), "run", *target], env=env, cwd=result.root.root
    )
    try:
        _wait_for_server(url, web)
    except (RuntimeError, TimeoutError):
        stop_processes([web, daemon])
        raise
    return url, [web, daemon]


def stop_processes(procs: list[subprocess.Popen], timeout_s: float = 20.0) -> None:
    """Terminate child processes, killing the ones that do not stop in time."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
