"""The deploy/ files: instance YAMLs against Dagster's instance schema, systemd units, TOML.

What is validated: every ``deploy/dagster.*.yaml`` goes through
``dagster._core.instance.config.dagster_instance_config``, the function ``DagsterInstance``
uses to check ``$DAGSTER_HOME/dagster.yaml``: top-level keys, the whole ``storage.postgres``
block (its schema is part of dagster core), ``concurrency``, ``retention``, ``python_logs`` and the
``run_launcher`` shape (``module``/``class``/``config``). The launcher's own ``config`` keys are
checked only by its class, i.e. only where ``dagster_k8s`` / ``dagster_postgres`` are importable
(not in this environment), and then the instance is built with ``DagsterInstance.from_config``.
"""

import importlib.util
import shutil
from pathlib import Path

import pytest
import yaml
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config

DEPLOY = Path(__file__).parents[1] / "deploy"
YAMLS = sorted(DEPLOY.glob("dagster.*.yaml"))


def _check(tmp_path: Path, source: Path) -> dict:
    shutil.copy(source, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    return config


def test_every_instance_example_is_there():
    assert {p.name for p in YAMLS} == {
        "dagster.postgres.yaml",
        "dagster.k8s.yaml",
        "dagster.celery.yaml",
    }


@pytest.mark.parametrize("source", YAMLS, ids=lambda p: p.name)
def test_instance_yaml_passes_the_instance_schema(tmp_path, monkeypatch, source):
    for var in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(var, "x")
    config = _check(tmp_path, source)
    assert set(config["storage"]) == {"postgres"}
    assert config["concurrency"]["pools"]["default_limit"] == 1
    launcher = yaml.safe_load(source.read_text()).get("run_launcher")
    if launcher and importlib.util.find_spec(launcher["module"].split(".")[0]) is not None:
        from dagster import DagsterInstance

        with DagsterInstance.from_config(str(tmp_path)) as instance:
            assert type(instance.run_launcher).__name__ == launcher["class"]


def test_schema_check_catches_mistakes(tmp_path):
    bad = tmp_path / "src.yaml"
    bad.write_text("storage:\n  postgres:\n    postgres_db:\n      hostnme: x\n")
    with pytest.raises(DagsterInvalidConfigError):
        _check(tmp_path, bad)
    bad.write_text("run_launcher:\n  module: dagster_k8s\n  klass: K8sRunLauncher\n")
    with pytest.raises(DagsterInvalidConfigError):
        _check(tmp_path, bad)


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Parse a systemd unit (keys may repeat, e.g. Environment=)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = out.setdefault(line.strip("[]"), {})
            continue
        key, sep, value = line.partition("=")
        assert sep, line
        assert section is not None, line
        section.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize(
    ("unit", "program"),
    [
        ("dagster-webserver.service", "dagster-webserver"),
        ("dagster-daemon.service", "dagster-daemon"),
    ],
)
def test_systemd_units(unit, program):
    parsed = _unit(DEPLOY / unit)
    assert {"Unit", "Service", "Install"} <= set(parsed)
    service = parsed["Service"]
    assert service["Restart"] == ["always"]
    env = dict(e.split("=", 1) for e in service["Environment"])
    assert {"DAGSTER_HOME", "STIX_CONFIG"} <= set(env)
    exec_start = service["ExecStart"][0].split()
    assert Path(exec_start[0]).name == program
    assert "-w" in exec_start
    assert parsed["Install"]["WantedBy"] == ["multi-user.target"]
