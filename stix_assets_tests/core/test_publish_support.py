"""Builders shared by the publish tests: small STIX-like FITS products in a temp archive.

(Named ``test_publish_*`` so it belongs to the publish test files; it holds no tests.)
"""

import os
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

OLD_S = 30 * 86400  # well past the 14-day waiting period


def make_product(
    root: Path,
    name: str,
    *,
    values: list[int] | None = None,
    level: str | None = None,
    date_beg: str = "2020-05-05T00:00:00.000",
    date_end: str = "2020-05-05T00:10:00.000",
    age_s: float = OLD_S,
    subdir: str = "",
    extra: dict[str, object] | None = None,
) -> Path:
    """Write a PRIMARY + CONTROL + DATA product named ``name`` with mtime ``age_s`` ago."""
    values = [1, 2, 3] if values is None else values
    folder = root / subdir if subdir else root
    folder.mkdir(parents=True, exist_ok=True)
    parts = name.split("_")
    hdr = fits.Header()
    hdr["FILENAME"] = name
    hdr["LEVEL"] = level or parts[1]
    hdr["VERSION"] = parts[4][1:3]
    hdr["DATE-BEG"] = date_beg
    hdr["DATE-AVG"] = date_beg
    hdr["DATE-END"] = date_end
    hdr["OBT_BEG"] = 641865600.0
    for key, value in (extra or {}).items():
        hdr[key] = value
    control = fits.BinTableHDU.from_columns(
        [fits.Column(name="index", format="J", array=np.arange(1))], name="CONTROL"
    )
    data = fits.BinTableHDU.from_columns(
        [fits.Column(name="counts", format="K", array=np.asarray(values, dtype=np.int64))],
        name="DATA",
    )
    path = folder / name
    fits.HDUList([fits.PrimaryHDU(header=hdr), control, data]).writeto(path, checksum=True)
    set_age(path, age_s)
    return path


def set_age(path: Path, age_s: float) -> None:
    """Set the file's mtime to ``age_s`` seconds ago."""
    t = time.time() - age_s
    os.utime(path, (t, t))


BSD_NAME = "solo_L1_stix-sci-xray-spec_20200505T000000-20200505T001000_V02_{rid:010d}-00001.fits"


def reference_bsd_files(root: Path) -> dict[int, Path]:
    """The 8 spectrogram files of STIXCore's test_publish: rids 123..130, one ESA name.

    DATA: 123 A, 124 A (identical), 125 B, 126 B (identical to the first supplement), 127 C,
    128 D, 129 E, 130 F (blacklisted).
    """
    data = {123: [1], 124: [1], 125: [2], 126: [2], 127: [3], 128: [4], 129: [5], 130: [6]}
    return {
        rid: make_product(root, BSD_NAME.format(rid=rid), values=v, subdir="L1/sci")
        for rid, v in data.items()
    }


def flip_data_byte(path: Path, *, hdu: str = "DATA", offset: int = 5) -> None:
    """Flip one bit of a data byte of ``hdu`` in place, keeping the file's mtime (bit rot)."""
    with fits.open(path, memmap=False) as hdul:
        info = hdul.fileinfo(hdul.index_of(hdu))
    st = path.stat()
    with path.open("r+b") as fh:
        fh.seek(info["datLoc"] + offset)
        byte = fh.read(1)[0]
        fh.seek(info["datLoc"] + offset)
        fh.write(bytes([byte ^ 0x01]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def reference_l0(testdata: Path, archive: Path) -> dict[str, Path]:
    """Two STIXCore L0 reference products (daily ``U`` files: no ephemeris refresh) in ``archive``.

    Keys ``hk`` (``solo_L0_stix-hk-maxi_0660096000_V02U.fits``) and ``ql``
    (``solo_L0_stix-ql-lightcurve_0659318400_V02U.fits``), both from the ``pkttmraw`` dataset.
    """
    src = testdata / "reference" / "stixcore" / "L0" / "pkttmraw"
    out = {}
    for key, rel in (
        ("hk", "3/25/2/solo_L0_stix-hk-maxi_0660096000_V02U.fits"),
        ("ql", "21/6/30/solo_L0_stix-ql-lightcurve_0659318400_V02U.fits"),
    ):
        dest = archive / "L0" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((src / rel).read_bytes())
        set_age(dest, OLD_S)
        out[key] = dest
    return out
