"""What publishing reads from and changes in a product file (domain reference 10.3).

The archive file is never changed: the delivered copy is staged in a scratch folder with its
header edits, and only that copy goes to the target. STIXCore renamed the archive file in place
(``V02U`` -> ``V02``) and added HISTORY cards to it; here the archive stays what the level assets
wrote (their catalog rows keep pointing at it) and the history records what was delivered.

Header edits of the delivered copy:

* BSD files: ``COMMENT BSD request id: '<rid>' reason: '<reason from the RID LUT>'``;
* every level: ``FILENAME`` = the delivered name (STIXCore left the ``U`` in L0 headers, quirk
  19) and, when the version was raised for a changed product, ``VERSION``;
* L1, L2 and ANC files whose name had the ``U``: the ephemeris keywords recomputed with the
  latest flown meta-kernel and ``HISTORY updated ephemeris header with latest kernel at <now>``;
* supplements: ``COMMENT supplement data product combine with: ...``;
* ``HISTORY published to ESA SOAR as '<name>' on <now>``.
"""

import hashlib
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from astropy.io import fits
from astropy.time import Time

from stix_assets.core.ephemeris import EPHEMERIS_COMMENTS, ephemeris_header
from stix_assets.core.errors import PublishError
from stix_assets.core.spice import LoadedKernels
from stix_assets.core.time import nominal_utc, scet_float

__all__ = [
    "EPHEMERIS_LEVELS",
    "HeaderEdits",
    "ProductFileError",
    "data_start",
    "data_version",
    "stage_delivery",
]

logger = logging.getLogger(__name__)

EPHEMERIS_LEVELS = frozenset({"L1", "L2", "ANC"})


class ProductFileError(PublishError):
    """An archive file cannot be read or staged (recorded as ERROR; the run goes on)."""


def data_version(path: Path | str) -> str:
    """sha256 of the DATA HDU's data bytes (FITS with a DATA HDU), else of the whole file.

    Header edits (publish comments, checksums, dates) leave it unchanged, so it identifies the
    data content the way STIXCore's ``HDUDiff`` ignoring all keywords did.
    """
    path = Path(path)
    if path.suffix.lower() == ".fits":
        try:
            with fits.open(path, memmap=False) as hdul:
                names = [h.name for h in hdul]
                if "DATA" in names:
                    info = hdul.fileinfo(names.index("DATA"))
                    with path.open("rb") as fh:
                        fh.seek(info["datLoc"])
                        return hashlib.sha256(fh.read(info["datSpan"])).hexdigest()
        except OSError as err:
            raise ProductFileError(f"cannot read FITS {path.name}: {err}") from err
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_start(header: fits.Header) -> datetime | None:
    """Start of the data (UTC, aware): ``DATE-BEG`` as UTC, or as SCET (``c:f`` or ``OBT_BEG``).

    SCET is converted with the nominal epoch 2000-01-01T00:00 UTC and no leap seconds (no SCLK
    kernel: enough for the 7-day future guard, the error is about a minute).
    """
    beg = str(header.get("DATE-BEG", "") or "")
    if beg and "-" in beg[:8]:
        return datetime.fromisoformat(beg[:19]).replace(tzinfo=UTC)
    if beg and ":" in beg:
        coarse, _, fine = beg.partition(":")
        if coarse.isdigit():
            return nominal_utc(float(scet_float(int(coarse), int(fine or 0))))
    obt = header.get("OBT_BEG")
    if isinstance(obt, int | float):
        return nominal_utc(float(obt))
    return None


@dataclass(frozen=True, slots=True)
class HeaderEdits:
    """What to change in the delivered copy.

    Attributes
    ----------
    filename : new ``FILENAME``
    version : new ``VERSION`` (None: unchanged)
    comments : COMMENT cards to add
    refresh_ephemeris : recompute the ephemeris keywords (needs kernels)
    history : HISTORY cards to add (after the ephemeris one)
    """

    filename: str
    version: int | None = None
    comments: tuple[str, ...] = ()
    refresh_ephemeris: bool = False
    history: tuple[str, ...] = ()


def _product_times(header: fits.Header) -> tuple[Time, Time]:
    beg, avg, end = (header.get(k) for k in ("DATE-BEG", "DATE-AVG", "DATE-END"))
    if not beg or "-" not in str(beg)[:8]:
        raise PublishError(f"no UTC DATE-BEG for the ephemeris refresh of {header.get('FILENAME')}")
    start = Time(beg, scale="utc")
    if avg and "-" in str(avg)[:8]:
        return Time(avg, scale="utc"), start
    if end and "-" in str(end)[:8]:
        return start + (Time(end, scale="utc") - start) / 2, start
    return start, start


def _refresh_ephemeris(header: fits.Header, kernels: LoadedKernels) -> None:
    centre, start = _product_times(header)
    values = ephemeris_header(centre, kernels, utc_start=start)
    if "SPICE_ER" not in values and "SPICE_ER" in header:
        del header["SPICE_ER"]
    for key, value in values.items():
        header[key] = (value, _fitting_comment(key, value, EPHEMERIS_COMMENTS.get(key, "")))


def _fitting_comment(key: str, value: object, comment: str) -> str:
    """Cut a comment to what fits on the card (astropy would warn and cut it at write)."""
    room = 80 - len(fits.Card(key, value).image.rstrip()) - 3
    return comment[: max(room, 0)]


def stage_delivery(
    source: Path,
    staged: Path,
    edits: HeaderEdits,
    *,
    now: datetime,
    kernels: LoadedKernels | None = None,
) -> None:
    """Write the delivered copy of ``source`` to ``staged`` with the header edits applied.

    SVG (and any non-FITS) files are copied unchanged. FITS checksums are recomputed when the
    source had them.

    Raises
    ------
    PublishError
        If the file cannot be read, or the ephemeris must be refreshed without kernels.
    """
    if source.suffix.lower() != ".fits":
        shutil.copyfile(source, staged)
        return
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        with fits.open(source, memmap=False) as hdul:
            header = hdul[0].header
            checksum = "CHECKSUM" in header
            for text in edits.comments:
                header.add_comment(text)
            header["FILENAME"] = edits.filename
            if edits.version is not None:
                header["VERSION"] = f"{edits.version:02d}"
            if edits.refresh_ephemeris:
                if kernels is None:
                    raise PublishError(f"ephemeris refresh of {source.name} needs SPICE kernels")
                _refresh_ephemeris(header, kernels)
                header.add_history(f"updated ephemeris header with latest kernel at {stamp}")
            for text in edits.history:
                header.add_history(text)
            hdul.writeto(staged, checksum=checksum, overwrite=True, output_verify="silentfix")
    except (OSError, ValueError) as err:
        raise ProductFileError(f"cannot stage {source.name}: {err}") from err
    logger.debug("publish staged file=%s as=%s", source.name, edits.filename)
