"""The demo end to end: build the root, process it through the assets, serve the UI."""

import json
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from astropy.io import fits

from stix_assets.demo import DemoRootError
from stix_assets.demo_runner import run_demo, serve_demo, stop_processes
from stix_assets_tests.demo_copies import copy_demo_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(demo_run, tmp_path_factory):
    """A copy of the session's demo run: these tests run it again, serve it and drop files in."""
    return copy_demo_run(demo_run, tmp_path_factory.mktemp("demo"))


def test_demo_processes_every_file_into_lb(demo):
    assert demo.runs.success
    assert len(demo.runs.tm_runs) == len(demo.root.tm_files)
    lb = sorted((demo.root.archive / "LB").rglob("*.fits"))
    names = {p.name.split("_")[2] for p in lb}
    assert {"stix-21-6-30", "stix-3-25-2", "stix-21-6-21", "stix-21-6-24"} <= names
    with fits.open(next(p for p in lb if "stix-21-6-30" in p.name)) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "CONTROL", "DATA"]
        assert hdul["CONTROL"].data["service_type"][0] == 21


def test_demo_makes_the_daily_products_of_its_days(demo):
    """ANC and LL03 per demo day, the flare list of the month: as runs, like the schedules."""
    assert [r.partition_key for r in demo.daily_runs] == ["2024-05-14", "2024-05-15", "2024-05-01"]
    assert all(r.success for r in demo.daily_runs)
    archive = demo.root.archive
    for day in ("2024/05/14", "2024/05/15"):
        stamp = day.replace("/", "")
        assert (archive / f"ANC/{day}/ASP/solo_ANC_stix-asp-ephemeris_{stamp}_V02U.fits").is_file()
        assert len(list((archive / f"LL03/{day}/QL").glob("*.png"))) == 1
    flarelists = list((archive / "L3").rglob("solo_L3_stix-flarelist-*.fits"))
    assert len(flarelists) == 1
    with fits.open(flarelists[0]) as hdul:
        assert len(hdul["DATA"].data) == 1  # the simulated flare


def test_rerun_is_idempotent(demo):
    before = {p: p.read_bytes() for p in (demo.root.archive / "LB").rglob("*.fits")}
    again = run_demo(demo.root.root, days=2)
    assert again.runs.tm_runs == ()
    assert again.runs.lb_runs == ()
    assert again.daily_runs == ()
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
    # a port in use is replaced by a free one
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        url, procs = serve_demo(demo, port=busy)
    assert not url.endswith(f":{busy}")
    try:
        data = _graphql(
            url,
            '{ assetNodeOrError(assetKey: {path: ["l1", "ql_lightcurve"]}) {'
            " ... on AssetNode { partitionStats { numMaterialized }"
            " assetChecksOrError { ... on AssetChecks { checks { name } } } } } }",
        )
        node = data["assetNodeOrError"]
        assert node["partitionStats"]["numMaterialized"] >= 2
        checks = {c["name"] for c in node["assetChecksOrError"]["checks"]}
        assert {"l1_has_no_time_gaps", "l1_has_increasing_times"} <= checks
    finally:
        stop_processes(procs)
    assert all(p.poll() is not None for p in procs)


def test_l1_light_curve_has_a_plot_in_the_ui_and_next_to_the_file(demo_run):
    demo = demo_run  # the run itself: the event names the plot of its own root
    with dg.DagsterInstance.from_config(str(demo.dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["l1", "ql_lightcurve"]))
    meta = event.asset_materialization.metadata
    assert meta["plot"].value.startswith("![solo_L1_stix-ql-lightcurve_")
    assert Path(meta["plot_path"].value).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert meta["stix_conf_version"].value == "demo-1"
    assert list((demo.root.archive / "L1").rglob("solo_L1_stix-hk-maxi_*.png"))


# stixpy 0.2.1 calls DataFrame.drop(inplace=True), deprecated in the installed pandas; not ours
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop is deprecated")
@pytest.mark.filterwarnings("ignore:Something went wrong. The inplace keyword")
def test_demo_products_open_in_astropy_and_sunpy(demo):
    pytest.importorskip("stixpy", reason="stixpy (test extra) is not installed")
    import stixpy.timeseries  # noqa: F401  (registers the STIX sources with sunpy)
    from sunpy.timeseries import TimeSeries

    for path in sorted((demo.root.archive / "L1").rglob("*.fits")):
        with fits.open(path) as hdul:
            hdul.verify("exception")
    (flare_day,) = [
        p for p in (demo.root.archive / "L1").rglob("solo_L1_stix-ql-lightcurve_*.fits")
        if "20240515" in p.name  # the second demo day holds the flare
    ]  # fmt: skip
    series = TimeSeries(flare_day).to_dataframe()
    assert len(series) > 20_000  # a full day of 4 s bins
    # the simulated M-class-like flare: the 4-10 keV peak stands far above the quiet Sun
    assert series["4-10 keV"].max() > 50 * series["4-10 keV"].median()


@pytest.mark.realdata
def test_daemon_sensors_ingest_a_dropped_tm_file(demo, testdata):
    # the operator's path: a new TM file in the inbox -> tm_inbox_sensor -> tm/raw ->
    # tm_to_days_sensor -> LB, all driven by the real daemon (no direct materialize calls)
    name = "PktTmRaw.hk-20201201.xml"  # ten real HK maxi packets of 2020-12-01
    # sensors tick every 3 s instead of 30 s, and a file is taken once 1 s old: the chain is the
    # same, the test waits less
    fast = {"STIX_SENSOR_INTERVAL_S": "3", "STIX_SETTLE_TIME_S": "1"}
    _url, procs = serve_demo(demo, extra_env=fast)
    try:
        shutil.copy(testdata / "tm" / name, demo.root.incoming / name)
        deadline = time.monotonic() + 240
        lb_key = dg.AssetKey(["lb", "hk_maxi"])
        done = False
        while time.monotonic() < deadline and not done:
            time.sleep(2)
            with dg.DagsterInstance.from_config(str(demo.dagster_home)) as instance:
                ingested = instance.fetch_materializations(
                    dg.AssetRecordsFilter(
                        asset_key=dg.AssetKey(["tm", "raw"]), asset_partitions=[name]
                    ),
                    limit=1,
                ).records
                lb = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=lb_key, asset_partitions=["2020-12-01"]),
                    limit=1,
                ).records
            done = bool(ingested and lb)
        assert done, "the daemon's sensors did not carry the file to LB within 4 minutes"
    finally:
        stop_processes(procs)
        (demo.root.incoming / name).unlink(missing_ok=True)
    assert list((demo.root.archive / "LB/3/25/2").glob("solo_LB_stix-3-25-2_0660096000_V02.fits"))
