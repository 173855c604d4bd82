"""The demo end to end: build the root, process it through the assets, serve the UI."""

import json
import urllib.request

import pytest
from astropy.io import fits

from stix_assets.demo import DemoRootError
from stix_assets.demo_runner import run_demo, serve_demo, stop_processes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "stix-demo", days=2)


def test_demo_processes_every_file_into_lb(demo):
    assert demo.runs.success
    assert len(demo.runs.tm_runs) == len(demo.root.tm_files)
    lb = sorted((demo.root.archive / "LB").rglob("*.fits"))
    names = {p.name.split("_")[2] for p in lb}
    assert {"stix-21-6-30", "stix-3-25-2", "stix-21-6-21", "stix-21-6-24"} <= names
    with fits.open(next(p for p in lb if "stix-21-6-30" in p.name)) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "CONTROL", "DATA"]
        assert hdul["CONTROL"].data["service_type"][0] == 21


def test_rerun_is_idempotent(demo):
    before = {p: p.read_bytes() for p in (demo.root.archive / "LB").rglob("*.fits")}
    again = run_demo(demo.root.root, days=2)
    assert again.runs.tm_runs == ()
    assert again.runs.lb_runs == ()
    after = {p: p.read_bytes() for p in (demo.root.archive / "LB").rglob("*.fits")}
    assert after == before


def test_foreign_folder_is_refused(tmp_path):
    (tmp_path / "thesis.tex").write_text("mine")
    with pytest.raises(DemoRootError, match=r"not a demo root|not empty"):
        run_demo(tmp_path)


def _graphql(url: str, query: str) -> dict:
    req = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["data"]


def test_serve_shows_the_processed_partitions(demo):
    url, procs = serve_demo(demo, port=None)
    try:
        data = _graphql(
            url,
            '{ assetNodeOrError(assetKey: {path: ["lb", "ql_lightcurve"]}) {'
            " ... on AssetNode { partitionStats { numMaterialized } } } }",
        )
        assert data["assetNodeOrError"]["partitionStats"]["numMaterialized"] >= 2
    finally:
        stop_processes(procs)
    assert all(p.poll() is not None for p in procs)
