"""SOAR file names: the parts publishing reads and the names it derives (domain reference 3.3).

``solo_<LEVEL>_stix-<type>-<name>_<date>_V<NN><status>[_<rid>[-<tcc>]].<ext>`` split on ``_``:
part 1 level, part 2 descriptor, part 3 date, part 4 version (+ status ``U``/``C``), part 5 the
BSD request. The ESA name is parts 0-4 of the complete name (no status ``U``, no BSD part).

Difference from STIXCore (quirk 16): the version number is parsed without the status letter, so
the version filter works on ``V02U`` names (STIXCore's ``int("02U")`` raised).
"""

import re
from dataclasses import dataclass
from datetime import date

from stix_assets.core.time import scet_day

__all__ = ["SoarName", "parse_name"]

_VERSION = re.compile(r"[Vv](\d+)([A-Za-z]?)")


@dataclass(frozen=True, slots=True)
class SoarName:
    """A parsed product file name.

    Attributes
    ----------
    parts : the ``_`` separated parts of the stem
    ext : extension with dot (``.fits``, ``.svg``)
    version : processing version number (``V02U`` -> 2)
    status : status letter after the version (``U``, ``C`` or empty)
    version_width : digits of the version (2 for ``V02``, 12 for LL01 creation times)
    """

    parts: tuple[str, ...]
    ext: str
    version: int
    status: str
    version_width: int

    @property
    def name(self) -> str:
        """The file name."""
        return "_".join(self.parts) + self.ext

    @property
    def level(self) -> str:
        """Processing level as written (``L0``, ``L1``, ``ANC``, ``LL03``, ...)."""
        return self.parts[1]

    @property
    def descriptor(self) -> str:
        """Part 2, ``stix-<type>-<name>``."""
        return self.parts[2]

    @property
    def product_type(self) -> str:
        """Second dash token of the descriptor (``ql``, ``hk``, ``sci``, ``asp``, ``cal``, ...)."""
        tokens = self.descriptor.split("-")
        return tokens[1] if len(tokens) > 1 else ""

    @property
    def date_part(self) -> str:
        """Part 3, the date or time range."""
        return self.parts[3]

    @property
    def is_incomplete(self) -> bool:
        """True for a daily file still open (``_V<NN>U``)."""
        return self.status.upper() == "U"

    @property
    def is_fits(self) -> bool:
        """True for ``.fits`` files."""
        return self.ext.lower() == ".fits"

    @property
    def bsd_part(self) -> str | None:
        """Part 5 (``<rid>[-<tcc>]``) or None."""
        return self.parts[5] if len(self.parts) > 5 else None

    @property
    def request_id(self) -> int | None:
        """BSD request id (part 5 up to ``-``) or None."""
        part = self.bsd_part
        return int(part.split("-")[0]) if part and part.split("-")[0].isdigit() else None

    @property
    def esaname(self) -> str:
        """ESA name: parts 0-4 of the complete name (no ``U``, no BSD part, no extension)."""
        return "_".join(self.complete().parts[:5])

    @property
    def identity(self) -> str:
        """The name with the version replaced by ``V*``: one product across its versions."""
        parts = list(self.parts)
        parts[4] = "V*"
        return "_".join(parts) + self.ext

    def _with_version_part(self, version: int, status: str) -> "SoarName":
        parts = list(self.parts)
        parts[4] = f"V{version:0{self.version_width}d}{status}"
        return SoarName(tuple(parts), self.ext, version, status, self.version_width)

    def complete(self) -> "SoarName":
        """The name without the ``U`` status (other statuses are kept)."""
        return self._with_version_part(self.version, "" if self.is_incomplete else self.status)

    def with_version(self, version: int) -> "SoarName":
        """The same name with another version number (status kept)."""
        return self._with_version_part(version, self.status)

    def supplement(self, n: int) -> "SoarName":
        """The ``-sup<n>`` name: the descriptor gets the suffix (``stix-sci-xray-cpd-sup1``)."""
        parts = list(self.parts)
        parts[2] = f"{parts[2]}-sup{n}"
        return SoarName(tuple(parts), self.ext, self.version, self.status, self.version_width)

    def modified_esaname(self) -> str:
        """STIXCore's ``modified_esaname`` of a supplement: parts 0-4 plus ``.fits``."""
        return "_".join(self.parts[:5]) + self.ext

    def product_day(self) -> date | None:
        """The day of the product from the date part (UTC date, or SCET day for LB/L0).

        SCET days are counted from 2000-01-01 and taken as UTC dates (they differ by under a
        minute). None for the LB BSD literal range ``0000000000-9999999999``.
        """
        first = self.date_part.split("-")[0]
        if "T" in first or (len(first) == 8 and first.isdigit()):
            try:
                return date(int(first[:4]), int(first[4:6]), int(first[6:8]))
            except ValueError:
                return None
        if len(first) == 10 and first.isdigit() and self.date_part != "0000000000-9999999999":
            return scet_day(int(first))
        return None


def parse_name(name: str) -> SoarName:
    """Parse a ``solo_*`` product file name.

    Raises
    ------
    ValueError
        If the name has fewer than five ``_`` parts or part 4 is not a version.

    Examples
    --------
    >>> n = parse_name("solo_L1_stix-ql-lightcurve_20210117_V02U.fits")
    >>> n.version, n.status, n.esaname
    (2, 'U', 'solo_L1_stix-ql-lightcurve_20210117_V02')
    """
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    parts = tuple(stem.split("_"))
    if len(parts) < 5 or parts[0] != "solo":
        raise ValueError(f"not a SOAR product name: {name!r}")
    match = _VERSION.fullmatch(parts[4])
    if match is None:
        raise ValueError(f"no version in part 4 of {name!r}")
    digits, status = match.groups()
    return SoarName(parts, dot + ext if dot else "", int(digits), status, len(digits))
