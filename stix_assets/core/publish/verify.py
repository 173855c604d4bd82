"""FITS checksum verification: publishing verifies a file before it touches it (issue 10).

Every FITS file stix-assets writes carries ``CHECKSUM`` and ``DATASUM`` in every HDU (the FITS
checksum convention, `stix_assets.core.fits`), and so did STIXCore's. Before this check, a file
whose bytes changed on disk after it was written (bit rot, a bad copy, a hand edit) was staged
by astropy, which recomputes both keywords over whatever bytes it reads: the corrupted data went
to SOAR with fresh, valid checksums.

Publishing now checks three times:

* the **archive file** before anything else (`verify_checksums`): a failure, or an HDU without
  the keywords, refuses the file (history result REFUSED; never staged, never delivered);
* the **staged copy** after the header edits: a failure is a bug of the staging, recorded as
  ERROR, and nothing is delivered;
* the **delivered copy** at the target (`verify_delivered`): its sha256 must be that of the
  staged copy and, on a local target, its checksums must verify.

The check is astropy's own (``verify_checksum``/``verify_datasum`` of each HDU, what
``fits.open(..., checksum=True)`` warns about as "Checksum/Datasum verification failed"), so a
file passes exactly when the community reader accepts it. Neither keyword covers the zero padding
after the data; the sha256 comparison of the delivered copy does.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits

from stix_assets.core.errors import PublishError
from stix_assets.core.publish.fitsedit import ProductFileError
from stix_assets.core.publish.transfer import Target

__all__ = [
    "ChecksumError",
    "HduChecksums",
    "check_checksums",
    "verify_checksums",
    "verify_delivered",
]

logger = logging.getLogger(__name__)

_STATES = {0: "failed", 1: "ok", 2: "missing"}


class ChecksumError(PublishError):
    """A FITS file fails checksum verification (or cannot be verified, or differs from its copy).

    Attributes
    ----------
    file : file name
    hdu : ``<index> <EXTNAME>`` of the first HDU that fails (None: the whole file, e.g. sha256)
    """

    def __init__(self, message: str, *, file: str, hdu: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.hdu = hdu

    def _fields(self) -> dict[str, object]:
        return {"file": self.file, "hdu": self.hdu}


@dataclass(frozen=True, slots=True)
class HduChecksums:
    """Verification of one HDU: ``checksum`` and ``datasum`` are ``ok``, ``failed`` or ``missing``."""

    index: int
    name: str
    checksum: str
    datasum: str

    @property
    def label(self) -> str:
        """``<index> <EXTNAME>`` (``2 DATA``)."""
        return f"{self.index} {self.name}"

    def problem(self) -> str | None:
        """Why this HDU does not verify (None: it does)."""
        failed = [
            k for k, s in (("DATASUM", self.datasum), ("CHECKSUM", self.checksum)) if s == "failed"
        ]
        if failed:
            return f"{' and '.join(failed)} {'do' if len(failed) > 1 else 'does'} not match"
        missing = [
            k for k, s in (("CHECKSUM", self.checksum), ("DATASUM", self.datasum)) if s == "missing"
        ]
        if missing:
            return f"no {' and no '.join(missing)} keyword, cannot be verified"
        return None


def check_checksums(path: Path | str) -> tuple[HduChecksums, ...]:
    """Verify ``CHECKSUM`` and ``DATASUM`` of every HDU of a FITS file (reads the whole file).

    Raises
    ------
    ProductFileError
        If the file cannot be read as FITS.
    """
    path = Path(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            return tuple(
                HduChecksums(
                    i, hdu.name, _STATES[hdu.verify_checksum()], _STATES[hdu.verify_datasum()]
                )
                for i, hdu in enumerate(hdul)
            )
    except (OSError, ValueError, fits.VerifyError) as err:
        raise ProductFileError(f"cannot read FITS {path.name}: {err}") from err


def verify_checksums(path: Path | str, *, what: str = "file") -> None:
    """Raise unless every HDU of ``path`` has a ``CHECKSUM`` and a ``DATASUM`` that verify.

    Parameters
    ----------
    path : the FITS file
    what : how the message names the file (``archive file``, ``delivered copy``)

    Raises
    ------
    ChecksumError
        Naming the file and each HDU that fails (``hdu`` is the first of them).
    ProductFileError
        If the file cannot be read as FITS.

    Examples
    --------
    A flipped data byte in the DATA HDU of a product gives ``ChecksumError: checksum
    verification of archive file solo_L1_...fits failed: HDU 2 DATA: DATASUM and CHECKSUM do not
    match (file=solo_L1_...fits hdu=2 DATA)``.
    """
    path = Path(path)
    bad = [(h, p) for h in check_checksums(path) if (p := h.problem()) is not None]
    if not bad:
        logger.debug("publish checksums ok file=%s", path.name)
        return
    detail = "; ".join(f"HDU {h.label}: {p}" for h, p in bad)
    raise ChecksumError(
        f"checksum verification of {what} {path.name} failed: {detail}",
        file=path.name,
        hdu=bad[0][0].label,
    )


def verify_delivered(target: Target, name: str, *, sha256: str, is_fits: bool) -> None:
    """Raise unless the delivered ``name`` at ``target`` is the verified staged copy.

    The delivered file must exist with the sha256 of the staged copy (which was verified before
    the transfer); on a local target a FITS file is also verified itself, so the message names
    the HDU.

    Raises
    ------
    ChecksumError
        If the delivered copy is missing, fails its checksums or differs from the staged copy.
    PublishError
        If the target cannot be asked (SSH down).
    """
    found = target.sha256(name)
    if found is None:
        raise ChecksumError(f"delivered copy {name} is not at {target.label}", file=name)
    local = target.local_file(name)
    if is_fits and local is not None:
        try:
            verify_checksums(local, what="delivered copy")
        except ProductFileError as err:
            raise ChecksumError(f"delivered copy {name} is not readable FITS", file=name) from err
    if found != sha256:
        raise ChecksumError(
            f"delivered copy {name} differs from the staged copy "
            f"(sha256 {found[:12]}... instead of {sha256[:12]}...)",
            file=name,
        )
