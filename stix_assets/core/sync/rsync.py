"""rsync in a subprocess, its exit codes in words, and the TM and SOC fetches built on it."""

import logging
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stix_assets.core.config import is_remote
from stix_assets.core.sync.common import SyncError

__all__ = [
    "RSYNC_EXIT_CODES",
    "RsyncResult",
    "rsync",
    "rsync_soc",
    "rsync_tm",
]

logger = logging.getLogger(__name__)


RSYNC_EXIT_CODES = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files or folders",
    5: "error starting client-server protocol",
    10: "error in socket I/O (host unreachable or connection refused?)",
    11: "error in file I/O (target full or read-only?)",
    12: "error in rsync protocol data stream (remote shell failed or connection dropped?)",
    20: "received SIGUSR1 or SIGINT",
    23: "partial transfer due to error (missing source, unreadable file or unwritable target?)",
    24: "partial transfer: source files vanished",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "ssh failed (host unreachable, authentication refused or host key unknown?)",
}
"""rsync exit status -> explanation (rsync(1) EXIT VALUES; 255 comes from ssh)."""


@dataclass(frozen=True, slots=True)
class RsyncResult:
    """What one rsync call changed (parsed from ``--itemize-changes``)."""

    transferred: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata (lists cut at 50)."""
        return {
            "n_transferred": len(self.transferred),
            "n_deleted": len(self.deleted),
            "transferred": list(self.transferred[:50]),
            "deleted": list(self.deleted[:50]),
        }


def _parse_itemized(stdout: str) -> RsyncResult:
    moved, deleted = [], []
    for line in stdout.splitlines():
        flags, _, name = line.partition(" ")
        if flags == "*deleting":
            deleted.append(name.strip())
        elif len(flags) == 11 and flags[0] in "<>ch" and flags[1] == "f":
            moved.append(name)
    return RsyncResult(tuple(moved), tuple(deleted))


def rsync(
    source: str,
    target: str,
    options: Sequence[str],
    *,
    step: str,
    timeout_s: int = 300,
    ssh_options: str = "",
) -> RsyncResult:
    """Run ``rsync --itemize-changes <options> <source> <target>`` and parse what it did.

    ``ssh_options`` are given to ``ssh`` (``-e``) when either side is ``[user@]host:path``.

    Raises
    ------
    SyncError
        With the rsync exit status explained (`RSYNC_EXIT_CODES`) and rsync's last error line.
    """
    rsync_bin = shutil.which("rsync")
    if rsync_bin is None:
        raise SyncError("rsync is not installed (apt-get install rsync)", step=step)
    args = [rsync_bin, "--itemize-changes", f"--timeout={int(timeout_s)}", *options]
    if ssh_options and (is_remote(source) or is_remote(target)):
        args += ["-e", "ssh " + ssh_options]
    args += [source, target]
    logger.debug("rsync step=%s args=%s", step, shlex.join(args))
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = RSYNC_EXIT_CODES.get(done.returncode, "unknown rsync error")
        detail = _last_line(done.stderr)
        raise SyncError(
            f"rsync failed: {reason}: {detail}", step=step, location=source, code=done.returncode
        )
    return _parse_itemized(done.stdout)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "rsync error" not in ln]
    return lines[0] if lines else text.strip()


def _as_folder(location: str | Path) -> str:
    """The rsync spelling of "the contents of this folder" (a trailing slash)."""
    text = str(location)
    return text if text.endswith("/") else text + "/"


def _check_local_source(source: str | Path, step: str) -> None:
    if not is_remote(str(source)) and not Path(source).is_dir():
        raise SyncError("sync source folder does not exist", step=step, location=str(source))


def rsync_tm(
    source: str | Path, waiting_dir: Path, *, timeout_s: int = 300, ssh_options: str = ""
) -> RsyncResult:
    """Copy the ``*PktTmRaw*.xml`` files of ``source`` (not its sub-folders) into ``waiting_dir``.

    rsync writes each file under a temporary name and renames it, so a half-copied file never
    carries a TM name. Files already in the waiting folder with the same size and time are skipped.
    """
    _check_local_source(source, "tm")
    Path(waiting_dir).mkdir(parents=True, exist_ok=True)
    options = ["-a", "--include=*PktTmRaw*.xml", "--exclude=*"]
    return rsync(
        _as_folder(source),
        _as_folder(waiting_dir),
        options,
        step="tm",
        timeout_s=timeout_s,
        ssh_options=ssh_options,
    )


def rsync_soc(
    source: str | Path, soc_dir: Path, *, timeout_s: int = 300, ssh_options: str = ""
) -> RsyncResult:
    """Mirror the SOC exchange folder (kernel zips, SOOP files) into ``soc_dir`` (no deletes)."""
    _check_local_source(source, "spice_soop")
    Path(soc_dir).mkdir(parents=True, exist_ok=True)
    return rsync(
        _as_folder(source),
        _as_folder(soc_dir),
        ["-a"],
        step="spice_soop",
        timeout_s=timeout_s,
        ssh_options=ssh_options,
    )
