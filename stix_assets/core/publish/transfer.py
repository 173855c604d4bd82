"""Where deliveries go: a local folder, or a folder on another host over SSH.

A delivery is atomic at the target: the bytes go to ``.<name>.part`` in the target folder, are
flushed, and are then renamed to ``<name>``. SOAR (or anyone) only ever sees whole files, a crash
leaves at most a ``.part`` file, and an existing file is never replaced: SOAR names are
write-once (a changed product is delivered under a higher version).

`SshTarget` uses the system ``ssh``/``rsync`` (host keys and keys of the user running it, like
STIXCore's paramiko ``load_system_host_keys`` + SCP); without rsync it falls back to ``scp``.
"""

import hashlib
import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stix_assets.core.errors import PublishError

__all__ = ["LocalTarget", "SshTarget", "Target", "TransferHooks", "file_sha256", "make_target"]

logger = logging.getLogger(__name__)

_PART = ".part"


def file_sha256(path: Path | str) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class TransferHooks:
    """Callbacks at the two points where a crash matters (tests use them to kill the process).

    Attributes
    ----------
    before_rename : called with the target name after the ``.part`` file is complete
    after_rename : called with the target name once the final name exists
    """

    before_rename: Callable[[str], None] | None = None
    after_rename: Callable[[str], None] | None = None


class Target(Protocol):
    """A delivery folder."""

    @property
    def label(self) -> str:
        """``host:dir`` of the folder (recorded in the history)."""
        ...

    def check_writable(self) -> None:
        """Raise `PublishError` unless files can be delivered."""
        ...

    def put(self, local: Path, name: str, hooks: TransferHooks = ...) -> None:
        """Deliver ``local`` as ``name`` (temp + rename); raise `PublishError` on failure."""
        ...

    def sha256(self, name: str) -> str | None:
        """sha256 of ``name`` in the folder, None if absent."""
        ...

    def remove_partial(self, name: str) -> None:
        """Remove a leftover ``.part`` file of ``name``."""
        ...

    def remove(self, name: str) -> None:
        """Remove the delivered ``name`` (a copy that failed verification); raise `PublishError`."""
        ...

    def local_file(self, name: str) -> Path | None:
        """Path of ``name`` when the folder is on this machine, else None."""
        ...


def _part_name(name: str) -> str:
    return f".{name}{_PART}"


@dataclass(frozen=True, slots=True)
class LocalTarget:
    """A folder on this machine (``--target-host localhost``)."""

    directory: Path

    @property
    def label(self) -> str:
        """``localhost:<dir>``."""
        return f"localhost:{self.directory}"

    def check_writable(self) -> None:
        """Raise `PublishError` if the folder is missing or not writable."""
        if not self.directory.is_dir():
            raise PublishError(f"target folder does not exist: {self.directory}")
        # no write bit for anyone = read-only on purpose, honoured even when running as root
        if not self.directory.stat().st_mode & 0o222 or not os.access(
            self.directory, os.W_OK | os.X_OK
        ):
            raise PublishError(f"target folder is not writable: {self.directory}")

    def put(self, local: Path, name: str, hooks: TransferHooks = TransferHooks()) -> None:
        """Copy to ``.<name>.part``, fsync, rename to ``name`` (never over an existing file)."""
        final = self.directory / name
        part = self.directory / _part_name(name)
        if final.exists():
            raise PublishError(f"target already has {name}; SOAR names are never overwritten")
        try:
            with local.open("rb") as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            if hooks.before_rename:
                hooks.before_rename(name)
            os.link(part, final)  # fails instead of replacing if the name appeared meanwhile
            part.unlink()
            _fsync_dir(self.directory)
        except OSError as err:
            part.unlink(missing_ok=True)
            raise PublishError(f"cannot deliver {name} to {self.directory}: {err}") from err
        if hooks.after_rename:
            hooks.after_rename(name)

    def sha256(self, name: str) -> str | None:
        """sha256 of the delivered file, None if absent."""
        path = self.directory / name
        return file_sha256(path) if path.is_file() else None

    def remove_partial(self, name: str) -> None:
        """Remove ``.<name>.part`` if a crash left it."""
        (self.directory / _part_name(name)).unlink(missing_ok=True)

    def remove(self, name: str) -> None:
        """Remove the delivered ``name`` (absent: nothing to do)."""
        try:
            (self.directory / name).unlink(missing_ok=True)
            _fsync_dir(self.directory)
        except OSError as err:
            raise PublishError(f"cannot remove {name} from {self.directory}: {err}") from err

    def local_file(self, name: str) -> Path:
        """``<directory>/<name>``."""
        return self.directory / name


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class SshTarget:
    """A folder on another host, reached with the system ``ssh`` (``[user@]host``)."""

    host: str
    directory: str
    ssh_options: tuple[str, ...] = field(default=("-o", "BatchMode=yes"))

    @property
    def label(self) -> str:
        """``host:dir``."""
        return f"{self.host}:{self.directory}"

    def _ssh(self, command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                ["ssh", *self.ssh_options, self.host, command],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise PublishError(f"ssh to {self.host} failed: {err}") from err
        if check and proc.returncode != 0:
            raise PublishError(f"ssh {self.host} {command!r} failed: {proc.stderr.strip()}")
        return proc

    def _path(self, name: str) -> str:
        return shlex.quote(f"{self.directory.rstrip('/')}/{name}")

    def check_writable(self) -> None:
        """Raise `PublishError` unless the remote folder exists and is writable."""
        d = shlex.quote(self.directory)
        self._ssh(f"test -d {d} -a -w {d}")

    def put(self, local: Path, name: str, hooks: TransferHooks = TransferHooks()) -> None:
        """Copy to ``.<name>.part`` with rsync (or scp), then rename remotely without replacing."""
        part = f"{self.directory.rstrip('/')}/{_part_name(name)}"
        ssh = shlex.join(["ssh", *self.ssh_options])
        if shutil.which("rsync"):
            cmd = ["rsync", "-t", "-e", ssh, str(local), f"{self.host}:{part}"]
        else:
            cmd = ["scp", *self.ssh_options, str(local), f"{self.host}:{part}"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise PublishError(f"cannot deliver {name} to {self.label}: {err}") from err
        if proc.returncode != 0:
            raise PublishError(f"cannot deliver {name} to {self.label}: {proc.stderr.strip()}")
        if hooks.before_rename:
            hooks.before_rename(name)
        # ln fails if the final name exists: never overwrite a delivered file
        self._ssh(f"ln {shlex.quote(part)} {self._path(name)} && rm -f {shlex.quote(part)}")
        if hooks.after_rename:
            hooks.after_rename(name)

    def sha256(self, name: str) -> str | None:
        """sha256 of the remote file (``sha256sum``), None if absent."""
        proc = self._ssh(f"test -f {self._path(name)} && sha256sum {self._path(name)}", check=False)
        return proc.stdout.split()[0] if proc.returncode == 0 and proc.stdout else None

    def remove_partial(self, name: str) -> None:
        """Remove a leftover ``.part`` file."""
        self._ssh(f"rm -f {self._path(_part_name(name))}")

    def remove(self, name: str) -> None:
        """Remove the delivered ``name`` (``rm -f``)."""
        self._ssh(f"rm -f {self._path(name)}")

    def local_file(self, name: str) -> None:
        """None: the folder is on another host (the delivered copy is checked by sha256)."""
        return None


def make_target(directory: Path | str, host: str = "localhost") -> LocalTarget | SshTarget:
    """`LocalTarget` for ``localhost`` (or empty), else `SshTarget`."""
    if host in ("", "localhost", "127.0.0.1"):
        return LocalTarget(Path(directory))
    return SshTarget(host, str(directory))
