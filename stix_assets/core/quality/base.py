"""What every quality check shares: the result type, severities and the table reader."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stix_assets.core.fits import read_fits

__all__ = [
    "ERROR",
    "LISTED",
    "WARN",
    "QualityResult",
    "QualityTable",
    "not_applicable",
    "read_table",
]

logger = logging.getLogger(__name__)


WARN = "WARN"
ERROR = "ERROR"
LISTED = 10  # examples kept in metadata; metadata lives in the event log forever


@dataclass(frozen=True, slots=True)
class QualityResult:
    """Outcome of one check on one partition.

    Attributes
    ----------
    passed : the statement holds
    severity : ``"WARN"`` or ``"ERROR"``: how bad a failure is (kept when it passes)
    summary : one line for the UI
    metadata : plain JSON-able values (counts, first examples, files)
    """

    passed: bool
    severity: str
    summary: str
    metadata: dict[str, Any] = field(default_factory=dict)


def not_applicable(severity: str, why: str, **metadata: Any) -> QualityResult:
    """A passing result that says the check does not apply here, and why."""
    return QualityResult(True, severity, why, {"applicable": False, **metadata})


@dataclass(frozen=True, slots=True)
class QualityTable:
    """The HDUs of one product file a check reads (name, primary header, CONTROL, DATA)."""

    name: str
    primary: Mapping[str, Any]
    control: NDArray[np.void] | None
    data: NDArray[np.void] | None


def read_table(path: Path | str) -> QualityTable:
    """Read the primary header, CONTROL and DATA of one product file."""
    content = read_fits(path)
    return QualityTable(
        Path(path).name,
        content.primary,
        content.tables.get("CONTROL"),
        content.tables.get("DATA"),
    )
