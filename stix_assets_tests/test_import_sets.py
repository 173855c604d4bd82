"""What ``stix-assets process`` imports, per end level (deterministic, not timed).

One process (``--workers 1``; worker processes are forks of it). Start-up is a large part of a
short run: the LB route must not import astropy (0.4-0.9 s: its FITS, units and time packages),
scipy, matplotlib or Dagster, and the L1 route not scipy, matplotlib, Dagster or the CAL fit.
"""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.realdata

_PROBE = """
import json, sys
from stix_assets.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def _modules(*args: object) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == 0
    return set(out["modules"])


def _tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_lb_route_imports_no_astropy_scipy_matplotlib_or_dagster(tmp_path, testdata):
    modules = _modules(
        "process", "--tm", testdata / "reference" / "stixcore" / "input" / "PktTmRaw.xml",
        "--archive", tmp_path / "archive", "--idb-dir", testdata / "idb",
        "--end-level", "LB", "--quiet", "--workers", "1",
    )  # fmt: skip
    assert "stix_assets.core.levels.day" in modules  # the route really ran
    assert _tops(modules).isdisjoint(
        {"astropy", "scipy", "matplotlib", "dagster", "sunpy", "pandas"}
    )


def test_l1_route_imports_no_scipy_matplotlib_dagster_or_cal_fit(tmp_path, testdata):
    modules = _modules(
        "process", "--tm", testdata / "reference" / "stixcore" / "input" / "PktTmRaw.xml",
        "--archive", tmp_path / "archive", "--idb-dir", testdata / "idb",
        "--conf-dir", testdata / "conf", "--spice-dir", testdata / "spice" / "kernels",
        "--end-level", "L1", "--quiet", "--workers", "1",
    )  # fmt: skip
    assert "stix_assets.core.products.l1_build" in modules
    # the IDB's spline curves are evaluated without scipy (stix_assets.core.idb.spline)
    assert _tops(modules).isdisjoint({"scipy", "matplotlib", "dagster", "sunpy", "pandas"})
    assert "stix_assets.core.products.cal" not in modules
