"""``stix-assets publish`` end to end, including a process killed in the middle of a delivery."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stix_assets.commands.publish import main
from stix_assets.core.catalog import Catalog, read_publish_history
from stix_assets_tests.core.test_publish_support import (
    flip_data_byte,
    make_product,
    reference_bsd_files,
)

pytestmark = pytest.mark.slow

FILES = (
    "solo_L0_stix-hk-maxi_0641865600_V02U.fits",
    "solo_L0_stix-ql-lightcurve_0641865600_V02U.fits",
)


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    d = {k: tmp_path / k for k in ("archive", "esa", "conflicts")}
    for p in d.values():
        p.mkdir()
    for i, name in enumerate(FILES):
        make_product(d["archive"], name, values=[i])
    d["db"] = tmp_path / "catalog.duckdb"
    d["report"] = tmp_path / "supplement_report.tsv"
    return d


def _args(d: dict[str, Path]) -> list[str]:
    return [
        "--fits-dir", str(d["archive"]), "--target-dir", str(d["esa"]),
        "--same-esa-name-dir", str(d["conflicts"]), "--db-file", str(d["db"]),
        "--supplement-report", str(d["report"]), "--sort-files", "--log-level", "WARNING",
    ]  # fmt: skip


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _run_until_pause(d: dict[str, Path], where: str) -> str:
    env = {**os.environ, "STIX_PUBLISH_PAUSE_AT": where, "STIX_PUBLISH_PAUSE_S": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "stix_assets.commands.publish", *_args(d)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        for line in proc.stderr:
            if line.startswith(f"pause {where} "):
                os.kill(proc.pid, signal.SIGKILL)
                return line.split()[-1]
        pytest.fail("the publish process ended without pausing")
    finally:
        proc.wait()
        proc.stderr.close()


def test_cli_reference_scenario(tmp_path: Path, capsys):
    d = {k: tmp_path / k for k in ("archive", "esa", "conflicts")}
    for p in d.values():
        p.mkdir()
    files = reference_bsd_files(d["archive"])
    (tmp_path / "black.txt").write_text(files[130].name + "\n")
    d["db"], d["report"] = tmp_path / "c.duckdb", tmp_path / "s.tsv"
    assert main([*_args(d), "--blacklist-files", str(tmp_path / "black.txt"), "--dry-run"]) == 0
    assert _names(d["esa"]) == []
    assert main([*_args(d), "--blacklist-files", str(tmp_path / "black.txt")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "publish delivered 3, refused 0, errors 2, skipped 3 (blacklisted 1, "
        "re-requested data 2) | E2 I3 S2 P1"
    )
    assert len(_names(d["esa"])) == 3
    assert len(_names(d["conflicts"])) == 2


def test_cli_reports_refused_file_and_counts(setup, capsys):
    flip_data_byte(setup["archive"] / FILES[1])
    make_product(setup["archive"], "solo_L0_stix-hk-mini_0641865600_V02U.fits", age_s=60)
    assert main([*_args(setup), "--dry-run", "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["totals"] == {"delivered": 1, "refused": 1, "errors": 0, "skipped": 1}
    assert meta["skipped_by_reason"] == {"waiting period": 1}
    (refused,) = meta["refused"]
    assert refused["source"] == FILES[1]
    assert "HDU 2 DATA: DATASUM and CHECKSUM do not match" in refused["reason"]
    assert main(_args(setup)) == 0  # per-file problems are in the summary, not the exit status
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (
        "publish delivered 1, refused 1, errors 0, skipped 1 (waiting period 1) | E0 I0 S0 P1"
    )
    (line,) = [x for x in out if x.startswith("REFUSED")]
    assert FILES[1] in line
    assert "HDU 2 DATA" in line
    assert _names(setup["esa"]) == [FILES[0].replace("V02U", "V02")]
    rows = read_publish_history(Catalog(setup["db"]))
    assert sorted(r["result"] for r in rows) == [10, 15]


def test_cli_read_only_target_exit_1(setup, capsys):
    setup["esa"].chmod(0o555)
    try:
        assert main(_args(setup)) == 1
    finally:
        setup["esa"].chmod(0o755)
    assert "not writable" in capsys.readouterr().err
    assert _names(setup["esa"]) == []


def test_kill_before_rename_is_rolled_back(setup):
    name = _run_until_pause(setup, "before_rename")
    assert _names(setup["esa"]) == [f".{name}.part"]  # never under the final name
    rows = read_publish_history(Catalog(setup["db"]))
    assert [(r["delivered_name"], r["state"]) for r in rows] == [(name, "pending")]
    assert main(_args(setup)) == 0
    delivered = [n.replace("V02U", "V02") for n in FILES]
    assert _names(setup["esa"]) == sorted(delivered)
    rows = read_publish_history(Catalog(setup["db"]))
    assert sorted((r["delivered_name"], r["state"], r["result"]) for r in rows) == [
        (n, "done", 10) for n in sorted(delivered)
    ]


def test_kill_after_rename_is_completed(setup):
    name = _run_until_pause(setup, "after_rename")
    assert _names(setup["esa"]) == [name]
    assert [r["state"] for r in read_publish_history(Catalog(setup["db"]))] == ["pending"]
    assert main(_args(setup)) == 0
    rows = read_publish_history(Catalog(setup["db"]))
    assert sorted((r["delivered_name"], r["state"]) for r in rows) == sorted(
        (n.replace("V02U", "V02"), "done") for n in FILES
    )
    assert len(_names(setup["esa"])) == 2  # the first file was not delivered twice
