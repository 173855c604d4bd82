"""A throwaway PostgreSQL cluster for tests: initdb in a temporary folder, a free local port.

PostgreSQL refuses to run as root, and CI runs as root: then ``initdb`` and ``postgres`` run as
the unprivileged user ``nobody`` through ``runuser`` (util-linux), in a folder under ``/tmp``
that user owns (pytest's own temporary folders are private to root). The server listens on
127.0.0.1 and on a Unix socket in that folder, trusts local logins (user ``stix``) and runs
without fsync: it holds nothing worth keeping.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PgServer", "find_pg_bin", "pg_server"]

_USER = "stix"


def find_pg_bin() -> Path | None:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres`` (``STIX_PG_BIN``, Debian's, PATH)."""
    given = os.environ.get("STIX_PG_BIN")
    candidates = [Path(given)] if given else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class PgServer:
    """A running test cluster.

    Attributes
    ----------
    root : folder of the cluster (data folder, socket, log)
    port : TCP port on 127.0.0.1
    """

    root: Path
    port: int

    def url(self, dbname: str = "postgres") -> str:
        """The URL of database ``dbname`` on this server (over TCP)."""
        return f"postgresql://{_USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a fresh name unless given); return its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_owner(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as ``nobody`` when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "nobody", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def pg_server(bin_dir: Path) -> Iterator[PgServer]:
    """Start a cluster with the tools in ``bin_dir``; stop it and remove it on exit.

    Raises
    ------
    RuntimeError
        If ``initdb`` or the server fails (with the tool's output).
    """
    root = Path(tempfile.mkdtemp(prefix="stix-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, user="nobody")
    data, log = root / "data", root / "server.log"
    port = _free_port()
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                _USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ]
        )
        options = (
            f"-h 127.0.0.1 -p {port} -k {root} -F -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
        )
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"])  # fmt: skip
        yield PgServer(root, port)
    finally:
        if (data / "postmaster.pid").exists():
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            subprocess.run(_as_owner(stop), capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(_as_owner(cmd), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed: {proc.stdout}{proc.stderr}")
