"""SOC kernel zips: extracted into the kernel store once, after SPICE accepted every kernel."""

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stix_assets.core.catalog import (
    Catalog,
    CatalogBusyError,
    extracted_kernel_zips,
    record_kernel_zip,
)
from stix_assets.core.errors import SpiceKernelError
from stix_assets.core.spice import _member_target
from stix_assets.core.sync.rsync import _last_line

__all__ = [
    "KERNEL_ZIP_PATTERN",
    "KernelZipResult",
    "extract_kernel_zips",
    "find_kernel_zips",
]

logger = logging.getLogger(__name__)


KERNEL_ZIP_PATTERN = "solo_ANC*20*zip"
"""The old cron's ``find -name`` pattern of SOC kernel zips."""
_KERNEL_SUFFIXES = {".bc", ".bsp", ".bpc", ".tf", ".ti", ".tpc", ".tls", ".tsc"}
_VALIDATE_SCRIPT = """
import sys, spiceypy
for path in sys.argv[1:]:
    try:
        spiceypy.furnsh(path)
    except Exception as err:
        print(path + "\\t" + " ".join(str(err).split()))
        sys.exit(3)
    spiceypy.kclear()
"""


@dataclass(frozen=True, slots=True)
class KernelZipResult:
    """What one extraction pass did.

    Attributes
    ----------
    extracted : ``(zip name, kernel files relative to the kernel root)`` per extracted zip
    failed : ``(zip name, message)`` per zip that was rejected (nothing of it was written)
    deferred : True if the catalog was locked, so no zip was looked at (next run does it)
    spooled : True if an extraction record went to the catalog spool
    """

    extracted: tuple[tuple[str, tuple[str, ...]], ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    deferred: bool = False
    spooled: bool = False

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata."""
        return {
            "zips_extracted": [name for name, _ in self.extracted],
            "kernels_written": sorted(f for _, files in self.extracted for f in files)[:200],
            "zips_failed": {name: msg for name, msg in self.failed},
            "extraction_deferred": self.deferred,
            "catalog_spooled": self.spooled,
        }


def find_kernel_zips(soc_dir: Path) -> list[Path]:
    """Every ``solo_ANC*20*zip`` below ``soc_dir`` (recursive, as ``find`` did), sorted by name."""
    if not Path(soc_dir).is_dir():
        return []
    return sorted(Path(soc_dir).rglob(KERNEL_ZIP_PATTERN), key=lambda p: (p.name, str(p)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unpack(zip_path: Path, scratch: Path) -> list[Path]:
    """Unpack a zip into ``scratch`` (``kernels/`` prefix dropped) after checking every CRC."""
    out = []
    try:
        with zipfile.ZipFile(zip_path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise SpiceKernelError(f"corrupt member {bad} in kernel zip", path=str(zip_path))
            for info in archive.infolist():
                rel = _member_target(info.filename)
                if rel is None:
                    continue
                (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, (scratch / rel).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                out.append(rel)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise SpiceKernelError(f"cannot read kernel zip: {err}", path=str(zip_path)) from err
    return out


def _validate_kernels(scratch: Path, files: Sequence[Path]) -> None:
    """Load each kernel with SPICE in a child process (the pool of this process is untouched).

    Raises
    ------
    SpiceKernelError
        Naming the first kernel SPICE rejects.
    """
    for rel in files:
        if rel.suffix.lower() == ".tm" and "KERNELS_TO_LOAD" not in (scratch / rel).read_text(
            encoding="ascii", errors="replace"
        ):
            raise SpiceKernelError("meta-kernel without KERNELS_TO_LOAD", path=str(rel))
    kernels = [str(scratch / r) for r in files if r.suffix.lower() in _KERNEL_SUFFIXES]
    if not kernels:
        return
    done = subprocess.run(
        [sys.executable, "-c", _VALIDATE_SCRIPT, *kernels],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        path, _, why = done.stdout.strip().partition("\t")
        rel = Path(path).relative_to(scratch) if path.startswith(str(scratch)) else path
        raise SpiceKernelError(
            f"SPICE rejects the kernel: {why or _last_line(done.stderr)}", path=str(rel)
        )


def _extract_validated(zip_path: Path, root: Path) -> list[str]:
    """Unpack, validate, then move every kernel into place; a bad zip leaves nothing behind."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".unzip-", dir=root) as scratch_dir:
        scratch = Path(scratch_dir)
        files = _unpack(zip_path, scratch)
        _validate_kernels(scratch, files)
        for rel in files:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch / rel, root / rel)
    return [r.as_posix() for r in files]


def extract_kernel_zips(
    zips: Sequence[Path], kernel_dir: Path, catalog: Catalog, *, run_id: str | None = None
) -> KernelZipResult:
    """Extract every kernel zip the catalog does not know yet, each exactly once.

    A zip is known when the catalog (table ``kernel_zips``, pending spool records included) has
    its name with the same size and mtime; a re-delivered zip (new size or mtime) is extracted
    again. Each zip is unpacked into a scratch folder, its CRCs checked, every kernel loaded by
    SPICE in a child process, and only then moved into the kernel store and recorded. A zip that
    fails is reported in ``failed`` and changes nothing; the others are still extracted. A locked
    catalog defers the whole pass (``deferred``) instead of failing.
    """
    try:
        known = extracted_kernel_zips(catalog)
    except CatalogBusyError as err:
        logger.warning("kernel zip extraction deferred: catalog busy error=%s", err)
        return KernelZipResult(deferred=True)
    extracted, failed, spooled = [], [], False
    for zip_path in zips:
        st = zip_path.stat()
        if known.get(zip_path.name) == (st.st_size, st.st_mtime_ns):
            continue
        try:
            files = _extract_validated(zip_path, Path(kernel_dir))
        except SpiceKernelError as err:
            logger.error("kernel zip rejected zip=%s error=%s", zip_path.name, err)
            failed.append((zip_path.name, str(err)))
            continue
        outcome = record_kernel_zip(
            catalog,
            name=zip_path.name,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            sha256=_sha256(zip_path),
            files=files,
            run_id=run_id,
        )
        spooled = spooled or outcome.spooled
        known[zip_path.name] = (st.st_size, st.st_mtime_ns)
        extracted.append((zip_path.name, tuple(files)))
        logger.info("kernel zip extracted zip=%s files=%d", zip_path.name, len(files))
    return KernelZipResult(tuple(extracted), tuple(failed), False, spooled)
