"""The L1 product model: a product ready to write (`L1Product`) and the results of a day.

`stix_assets.core.products.l1_build.build_l1_day` returns an `L1Build`;
`stix_assets.core.products.l1_writer.write_l1` returns one `L1FileResult` per file.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from stix_assets.core.ephemeris import DayCoverage
from stix_assets.core.products.model import L0Product

__all__ = ["L1Build", "L1FileResult", "L1Issue", "L1Product"]


@dataclass(frozen=True, slots=True)
class L1Issue:
    """An L0 file or product that did not make it into L1, and why."""

    file: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        """Plain values for metadata."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class L1Product:
    """One L1 product ready to write.

    Attributes
    ----------
    tables : CONTROL/DATA/IDB_VERSIONS/ENERGIES content (an `L0Product` with ``level = "L1"``)
    utc_day : UTC day of the product (daily: the partition day; BSD: the start day)
    file_name : file name (daily products with the ``U`` status)
    directory : ``L1/<YYYY>/<MM>/<DD>/<TYPE>`` relative to the archive root
    ids : ``(STYPE, SSTYPE, SSID, SCI_RID, SCI_TCC)`` header values
    utc : UTC of start, centre and end (FITS strings, ms)
    ephemeris : ``SPICE_MK``, ``SPICE_ER`` (only when not covered) and the ephemeris keywords
    extrapolated : some time lies after the SCLK kernel's last correlation point
    notes : fixes applied (for metadata)
    """

    tables: L0Product
    utc_day: date
    file_name: str
    directory: Path
    ids: tuple[object, object, object, str, str]
    utc: tuple[str, str, str]
    ephemeris: Mapping[str, float | str]
    extrapolated: bool = False
    notes: tuple[str, ...] = ()

    @property
    def spice_error(self) -> bool:
        """The ephemeris keywords are empty because the kernels do not cover the time."""
        return "SPICE_ER" in self.ephemeris

    @property
    def n_rows(self) -> int:
        """Number of DATA rows."""
        return self.tables.n_rows


@dataclass(frozen=True, slots=True)
class L1Build:
    """Result of `build_l1_day`.

    Attributes
    ----------
    products : what is ready to write
    issues : L0 files or products left out, with the reason
    coverage : how the kernels cover the day
    """

    products: list[L1Product]
    issues: list[L1Issue]
    coverage: DayCoverage

    @property
    def needs_reprocessing(self) -> bool:
        """Whether better kernels would change the day's files (see the module docstring)."""
        return self.coverage.orbit == "predicted" or any(
            p.spice_error or p.extrapolated for p in self.products
        )


@dataclass(frozen=True, slots=True)
class L1FileResult:
    """One L1 file written."""

    path: Path
    product_key: str
    utc_day: date
    request_id: str | None
    sha256: str
    n_rows: int
    inputs: tuple[str, ...]
    spice_error: bool = False
    needs_reprocessing: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_metadata(self) -> dict[str, object]:
        """Plain values for metadata and the catalog."""
        return {
            "path": str(self.path),
            "product": self.product_key,
            "utc_day": self.utc_day.isoformat(),
            "request_id": self.request_id,
            "rows": self.n_rows,
            "sha256": self.sha256,
            "inputs": list(self.inputs),
            "spice_error": self.spice_error,
            "needs_reprocessing": self.needs_reprocessing,
            "notes": list(self.notes),
        }
