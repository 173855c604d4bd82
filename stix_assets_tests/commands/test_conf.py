import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from stix_assets.assets.conf_tables import CONF_TABLES_KEY

SCRIPT = Path(sys.executable).with_name("stix-assets")
pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True, capture_output=True,
    )  # fmt: skip


def test_conf_add_checks_out_the_tag_and_marks_only_changed_days(testdata, tmp_path):
    conf = tmp_path / "STIX-CONF"
    shutil.copytree(testdata / "conf", conf)
    _git(conf, "init", "-q")
    _git(conf, "add", "-A")
    _git(conf, "commit", "-qm", "v1")
    _git(conf, "tag", "v1.0")
    index = conf / "detector" / "science_echan_index.csv"
    index.write_text(index.read_text().replace("2023-01-31T00:12:00", "2023-01-31T06:00:00"))
    _git(conf, "commit", "-qam", "move a boundary")
    _git(conf, "tag", "v1.1")
    _git(conf, "checkout", "-q", "v1.0")
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    proc = subprocess.run(
        [str(SCRIPT), "conf", "add", "v1.1", "--conf-dir", str(conf), "--json"],
        check=False, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["tag"] == "v1.1"
    assert result["changed_days"] == ["2023-01-31"]
    assert result["reprocess"] == [
        "stix-assets reprocess --start 2023-01-31 --end 2023-01-31 --levels L1,L2"
    ]
    assert (conf / "VERSION.TXT").read_text() == "v1.1\n"
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        records = instance.fetch_observations(CONF_TABLES_KEY, limit=10).records
    assert [r.partition_key for r in records] == ["2023-01-31"]
