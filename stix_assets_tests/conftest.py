"""Shared fixtures: the real-data kit and small derived fixtures."""

import importlib.util
import os
from pathlib import Path

import pytest

try:
    from hypothesis import settings

    settings.register_profile("stix", deadline=None)
    settings.load_profile("stix")
except ImportError:  # hypothesis is part of the test extra; without it property tests are skipped
    pass


@pytest.fixture(scope="session")
def testdata() -> Path:
    """Root of the STIX real-data kit (``STIX_TESTDATA``, default ``../shared/testdata``).

    Skips when absent; with ``STIX_REQUIRE_TESTDATA=1`` (CI) a missing kit is an error instead.
    """
    root = Path(os.environ.get("STIX_TESTDATA", "../shared/testdata")).resolve()
    if not (root / "README.md").is_file():
        if os.environ.get("STIX_REQUIRE_TESTDATA") == "1":
            pytest.fail(f"STIX real-data kit required but not found at {root}")
        pytest.skip(f"STIX real-data kit not found at {root}; set STIX_TESTDATA to its root")
    return root


@pytest.fixture(scope="session")
def idb_root(testdata: Path) -> Path:
    """The kit's IDB folder (``<version>/idb.sqlite`` + ``idbVersionHistory.json``)."""
    return testdata / "idb"


@pytest.fixture(scope="session")
def reference_root(testdata: Path) -> Path:
    """What STIXCore wrote for the three reference inputs."""
    return testdata / "reference" / "stixcore"


def _missing(what: str) -> None:
    """Skip for a missing tool; in CI (``STIX_REQUIRE_TESTDATA=1``) fail instead."""
    if os.environ.get("STIX_REQUIRE_TESTDATA") == "1":
        pytest.fail(f"{what} (required in CI: STIX_REQUIRE_TESTDATA=1)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL cluster for the session (`stix_assets_tests.pg_server`).

    Skips without the server binaries or psycopg; with ``STIX_REQUIRE_TESTDATA=1`` (CI) they are
    required and their absence fails the test.
    """
    from stix_assets_tests.pg_server import find_pg_bin
    from stix_assets_tests.pg_server import pg_server as start

    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg not installed (pip install 'psycopg[binary]')")
    bin_dir = find_pg_bin()
    if bin_dir is None:
        _missing(
            "PostgreSQL server binaries not found (apt-get install postgresql, or STIX_PG_BIN)"
        )
    with start(bin_dir) as server:
        yield server


@pytest.fixture
def dagster_postgres() -> None:
    """Skip without dagster-postgres; in CI (``STIX_REQUIRE_TESTDATA=1``) fail instead."""
    if importlib.util.find_spec("dagster_postgres") is None:
        what = "dagster-postgres not installed (pip install --no-deps dagster-postgres==0.29.27)"
        if os.environ.get("STIX_REQUIRE_TESTDATA") == "1":
            pytest.fail(f"{what} (required in CI)")
        pytest.skip(what)


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server."""
    return pg_server.create_database()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo (2 days) run through the assets once per test process. Read-only: a module that
    writes into it takes `stix_assets_tests.demo_copies.copy_demo_run` of it."""
    from stix_assets.demo_runner import run_demo

    result = run_demo(tmp_path_factory.mktemp("demo_run") / "stix-demo", days=2)
    assert result.success, str(result.runs)
    return result


@pytest.fixture(scope="session")
def demo_l1(demo_run, tmp_path_factory):
    """A copy of `demo_run` with L1 files made from time-only kernels (`make_demo_l1`), once per
    test process. Read-only as well: modules that write take `copy_demo_run` of it."""
    from stix_assets_tests.core.test_flarelist import make_demo_l1

    return make_demo_l1(demo_run, tmp_path_factory.mktemp("demo_l1"))


@pytest.fixture(autouse=True)
def _fresh_dagster_defs_state():
    """Reset Dagster's current defs-state storage around each test.

    `dagster.build_schedule_context(instance=...)` (and friends) set a context variable that points
    at the instance's storage and is never reset when the context is not used in a ``with``
    block; once that instance is closed, the next test that resolves a `Definitions` fails with
    "Attempted to resolve undefined DagsterInstance weakref" (Dagster 1.13.28).
    """
    from dagster._core.storage.defs_state.base import _current_storage

    token = _current_storage.set(None)
    yield
    _current_storage.reset(token)


@pytest.fixture
def ssh_localhost(tmp_path):
    """An sshd on a free localhost port accepting one generated key; skipped if it cannot start."""
    import getpass
    import shutil
    import socket
    import subprocess
    import time

    sshd, keygen = shutil.which("sshd") or "/usr/sbin/sshd", shutil.which("ssh-keygen")
    if not (Path(sshd).exists() and keygen):
        pytest.skip("sshd / ssh-keygen not installed (apt-get install openssh-server)")
    d = tmp_path / "ssh"
    d.mkdir()
    for key in ("host", "client"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    shutil.copy(d / "client.pub", d / "authorized_keys")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin yes\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation folder sshd insists on
    proc = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE
    )
    options = (
        f"-p {port} -i {d / 'client'} -o BatchMode=yes -o StrictHostKeyChecking=no "
        f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    )
    for _ in range(100):
        probe = subprocess.run(
            ["ssh", *options.split(), f"{getpass.getuser()}@127.0.0.1", "true"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            break
        if proc.poll() is not None:
            pytest.skip(f"sshd could not start: {proc.stderr.read()!r}")
        time.sleep(0.1)
    else:
        proc.kill()
        proc.wait()
        proc.stderr.close()
        pytest.skip("sshd did not accept the test key")
    yield f"{getpass.getuser()}@127.0.0.1", options
    proc.kill()
    proc.wait()
    proc.stderr.close()


class Mounts:
    """Small tmpfs file systems for fault tests (a full disk, a read-only archive); root only."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self._mounted: list[Path] = []

    def tmpfs(self, size_kib: int, name: str = "tmpfs") -> Path:
        """Mount a tmpfs of ``size_kib`` KiB at ``<tmp_path>/<name>``; skip if not permitted."""
        import subprocess

        target = self._base / name
        target.mkdir()
        try:
            proc = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(target)],
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            pytest.skip("no mount command: a tmpfs is needed to fill a disk for real")
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs (root and mount permission needed): {proc.stderr}")
        self._mounted.append(target)
        return target

    def remount(self, target: Path, mode: str) -> None:
        """Remount a tmpfs of this fixture ``"ro"`` or ``"rw"``."""
        import subprocess

        subprocess.run(["mount", "-o", f"remount,{mode}", str(target)], check=True)

    def unmount_all(self) -> None:
        import subprocess

        for target in reversed(self._mounted):
            subprocess.run(["umount", "-l", str(target)], check=False)
        self._mounted.clear()


@pytest.fixture
def mounts(tmp_path):
    """`Mounts` under ``tmp_path``; every tmpfs is unmounted after the test."""
    m = Mounts(tmp_path)
    yield m
    m.unmount_all()
