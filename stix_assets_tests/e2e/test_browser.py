"""The demo's asset catalog in a real browser: headless Chromium against dagster-webserver.

Needs Debian's ``chromium`` package (``/usr/bin/chromium``). Without it the tests skip, unless
``STIX_REQUIRE_BROWSER=1`` (set by CI), which turns the missing browser into a failure. The
screenshot is kept under ``$STIX_TEST_ARTIFACTS`` (default: the test's ``tmp_path``).

The catalog (``/assets``) is a single-page app that renders only the rows in view, so the DOM is
dumped from a tall window; ``--virtual-time-budget`` lets the page finish its GraphQL requests
before the dump (virtual time stands still while requests are pending).
"""

import json
import os
import re
import shutil
import struct
import subprocess
import urllib.request
from pathlib import Path

import pytest

from stix_assets.demo_runner import serve_demo, stop_processes
from stix_assets_tests.demo_copies import copy_demo_run

pytestmark = pytest.mark.slow

# every flag keeps Chromium off the network: this machine's closed network refuses (and slows)
# the background connections Chromium makes by default
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PRODUCT_ASSETS = ("lb/ql_lightcurve", "lb/hk_maxi", "l0/ql_lightcurve", "l0/hk_maxi")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chromium() -> str:
    found = os.environ.get("STIX_CHROMIUM") or shutil.which("chromium")
    found = found or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("STIX_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail("STIX_REQUIRE_BROWSER is set but no chromium binary was found on PATH")
    pytest.skip(
        "chromium not installed (apt-get install chromium); set STIX_REQUIRE_BROWSER=1 to fail"
    )


@pytest.fixture(scope="module")
def webserver(tmp_path_factory, chromium, demo_run):
    demo = copy_demo_run(demo_run, tmp_path_factory.mktemp("browser"))  # its daemon may start runs
    url, procs = serve_demo(demo, port=None)
    try:
        # what the dialog's "Skip" button does: without it the community dialog covers the page
        _graphql(url, "mutation { setNuxSeen }")
        yield url
    finally:
        stop_processes(procs)


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ.get("STIX_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _graphql(url: str, query: str) -> dict:
    req = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["data"]


def _chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        check=False,
        timeout=180,
    )


def _listed_assets(binary: str, profile: Path, page: str, budget_ms: int) -> set[str]:
    proc = _chromium(
        binary,
        profile,
        f"--virtual-time-budget={budget_ms}",
        "--window-size=1400,8000",  # tall enough for every row of the virtualised list
        "--dump-dom",
        page,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return set(re.findall(r'href="/assets/([^"?#]+)"', proc.stdout.decode(errors="replace")))


def test_asset_catalog_lists_the_product_assets(webserver, chromium, tmp_path):
    listed: set[str] = set()
    for attempt, budget_ms in enumerate((15_000, 30_000, 60_000)):  # a slow machine renders late
        listed = _listed_assets(
            chromium, tmp_path / f"profile{attempt}", f"{webserver}/assets", budget_ms
        )
        if set(PRODUCT_ASSETS) <= listed:
            break
    assert set(PRODUCT_ASSETS) <= listed, sorted(listed)
    assert "tm/raw" in listed


def test_asset_catalog_screenshot(webserver, chromium, tmp_path, artifacts):
    shot = artifacts / "asset_catalog.png"
    shot.unlink(missing_ok=True)
    proc = _chromium(
        chromium,
        tmp_path / "profile",
        "--virtual-time-budget=15000",
        "--window-size=1400,1000",
        f"--screenshot={shot}",
        f"{webserver}/assets",
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # IHDR, the first chunk
    assert (width, height) == (1400, 1000)
    assert len(data) > 20_000  # a rendered table, not a blank page (a blank 1400x1000 PNG is ~6 kB)
