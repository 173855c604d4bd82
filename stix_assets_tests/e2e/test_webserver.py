"""The webserver loads the code location from workspace.yaml (GraphQL, headless)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_LIMIT_S = 180

LOCATION_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
ASSETS_QUERY = """{ assetNodes { assetKey { path } groupName
  partitionDefinition { type name dimensionTypes { dynamicPartitionsDefinitionName } } } }"""
SENSORS_QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes { name
  sensors { name sensorState { status } } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read()


def _graphql(base: str, query: str) -> dict:
    req = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = json.loads(resp.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def webserver(tmp_path):
    port = _free_port()
    exe = Path(sys.executable).parent / "dagster-webserver"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "STIX_DATA_ROOT": str(tmp_path / "data")}
    log = (tmp_path / "webserver.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"webserver exited: {(tmp_path / 'webserver.log').read_text()}")
            try:
                _get(f"{base}/server_info")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail("webserver did not answer /server_info")
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert proc.returncode is not None


@pytest.mark.slow
def test_webserver_loads_the_code_location(webserver):
    entries = _graphql(webserver, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in entries] == ["stix_assets"]
    assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries

    nodes = {
        "/".join(n["assetKey"]["path"]): n for n in _graphql(webserver, ASSETS_QUERY)["assetNodes"]
    }
    tm_raw = nodes["tm/raw"]
    assert tm_raw["groupName"] == "ingest"
    assert tm_raw["partitionDefinition"]["type"] == "DYNAMIC"
    assert (
        tm_raw["partitionDefinition"]["dimensionTypes"][0]["dynamicPartitionsDefinitionName"]
        == "tm_files"
    )
    lightcurve = nodes["lb/ql_lightcurve"]
    assert lightcurve["groupName"] == "level_binary"
    assert lightcurve["partitionDefinition"]["type"] == "TIME_WINDOW"

    repos = _graphql(webserver, SENSORS_QUERY)["repositoriesOrError"]["nodes"]
    sensors = {s["name"]: s["sensorState"]["status"] for r in repos for s in r["sensors"]}
    assert sensors == {
        "tm_inbox_sensor": "RUNNING",
        "tm_to_days_sensor": "RUNNING",
        "stix_automation_sensor": "RUNNING",
        "bsd_l1_days_sensor": "RUNNING",
        "spice_kernel_sensor": "RUNNING",
    }
