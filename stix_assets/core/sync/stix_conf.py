"""STIX-CONF: fetch the tags of the clone, check out the latest, write ``VERSION.TXT``."""

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stix_assets.core.sync.common import SyncError
from stix_assets.core.sync.rsync import _last_line

__all__ = [
    "StixConfResult",
    "checkout_stix_conf_tag",
    "sync_stix_conf",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StixConfResult:
    """The STIX-CONF clone after a sync: the tag checked out, its commit and what it was before."""

    tag: str
    commit: str
    previous_tag: str | None
    changed: bool

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            "tag": self.tag,
            "commit": self.commit,
            "previous_tag": self.previous_tag,
            "changed": self.changed,
        }


def _git(clone: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise SyncError("git is not installed", step="stix_conf")
    done = subprocess.run(
        [git, "-C", str(clone), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
    )
    if done.returncode != 0:
        raise SyncError(
            f"git {args[0]} failed: {_last_line(done.stderr)}",
            step="stix_conf",
            location=str(clone),
            code=done.returncode,
        )
    return done.stdout.strip()


def _read_version(clone: Path) -> str | None:
    try:
        return (clone / "VERSION.TXT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def _check_out(clone: Path, tag: str, previous: str | None) -> None:
    """Check out ``tag`` and replace ``VERSION.TXT`` atomically (only after the checkout)."""
    _git(clone, "-c", "advice.detachedHead=false", "checkout", "--quiet", tag)
    tmp = clone / ".VERSION.TXT.tmp"
    tmp.write_text(tag + "\n", encoding="utf-8")
    os.replace(tmp, clone / "VERSION.TXT")
    logger.info("stix-conf checked out tag=%s previous=%s", tag, previous)


def sync_stix_conf(clone: Path, *, remote: str | None = None) -> StixConfResult:
    """Fetch the tags of the STIX-CONF clone, check out the latest tag, write ``VERSION.TXT``.

    "Latest" is the highest tag in version order (``git tag --sort=-v:refname``). The old cron took
    the tag of the most recently committed tagged commit (``git describe --tags $(git rev-list
    --tags --max-count=1)``), which is ambiguous for commits with equal times and picks an old
    release when a tag is put on an older commit later. A missing clone is cloned from ``remote``.
    ``VERSION.TXT`` holds the tag and a newline, as ``echo $latestTag > VERSION.TXT`` wrote it,
    and is replaced atomically only after a successful checkout.

    Raises
    ------
    SyncError
        If the clone is missing and no remote is given, the remote cannot be fetched, it has no
        tags (nothing is changed then) or the checkout fails (local changes in the clone).
    """
    clone = Path(clone)
    if not (clone / ".git").exists():
        if not remote:
            raise SyncError(
                "STIX-CONF clone does not exist and no remote is configured",
                step="stix_conf",
                location=str(clone),
            )
        clone.parent.mkdir(parents=True, exist_ok=True)
        _git(clone.parent, "clone", "--quiet", "--no-checkout", remote, str(clone))
    previous = _read_version(clone)
    _git(clone, "fetch", "--quiet", "--tags")
    tags = _git(clone, "tag", "--list", "--sort=-v:refname").split()
    if not tags:
        raise SyncError(
            "STIX-CONF remote has no tags; clone left unchanged", step="stix_conf", location=remote
        )
    tag = tags[0]
    commit = _git(clone, "rev-list", "--max-count=1", tag)
    head = _git(clone, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") if previous else ""
    if head != commit or previous != tag:
        _check_out(clone, tag, previous)
    return StixConfResult(tag=tag, commit=commit, previous_tag=previous, changed=previous != tag)


def checkout_stix_conf_tag(clone: Path, tag: str) -> StixConfResult:
    """Check out one given tag of the STIX-CONF clone (fetching tags first when it has a remote).

    ``VERSION.TXT`` is replaced atomically after the checkout, as `sync_stix_conf` does.

    Raises
    ------
    SyncError
        If the folder is not a git clone, the tag does not exist or the checkout fails.
    """
    clone = Path(clone)
    if not (clone / ".git").exists():
        raise SyncError("not a STIX-CONF git clone", step="stix_conf", location=str(clone))
    previous = _read_version(clone)
    if _git(clone, "remote").strip():
        _git(clone, "fetch", "--quiet", "--tags")
    commit = _git(clone, "rev-list", "--max-count=1", tag)
    _check_out(clone, tag, previous)
    return StixConfResult(tag=tag, commit=commit, previous_tag=previous, changed=previous != tag)
