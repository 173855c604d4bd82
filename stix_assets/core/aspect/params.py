"""The SAS instrument parameters that STX-GSW keeps in IDL save files, and their loader.

Two files of STX-GSW's ``stix/idl/processing/aspect/SAS_param`` folder hold what the optical model
(`stix_assets.core.aspect.optics`) cannot know by itself:

* ``apcoord_FM_circ.sav``: the aperture plate of the flight model. For arm ``k`` = 1..4 (A, B, C,
  D) the arrays ``apxtab<k>``, ``apytab<k>`` (m, position of each circular aperture relative to
  the optical axis) and ``d_ap<k>`` (m, aperture diameters). As in STX-GSW's
  ``stx_compute_sas_expected_signal``, the image sees an aperture at ``(-apxtab, -apytab)``.
* ``SAS_calib_<date>.sav``: per diode (A, B, C, D) the dark current ``bias`` (nA) and the relative
  ``gain``; STX-GSW subtracts the bias and divides by the gain (``stx_calib_sas_data``). Several
  dated files exist; the newest by name is taken unless one is named.

`load_sas_params` reads them with `scipy.io.readsav` and checks every array; a missing file or
variable is a `SasParamsError` naming the file. Without these files there is no aspect solution:
the ANC product then says so per report instead of inventing a geometry.
"""

import gc
import hashlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.io import readsav

from stix_assets.core.errors import StixError

__all__ = [
    "APERTURE_FILE",
    "CALIB_GLOB",
    "ArmApertures",
    "SasParams",
    "SasParamsError",
    "load_sas_params",
]

logger = logging.getLogger(__name__)

APERTURE_FILE = "apcoord_FM_circ.sav"
CALIB_GLOB = "SAS_calib_*.sav"
_ARMS = "ABCD"


class SasParamsError(StixError):
    """The SAS parameter files are missing or do not hold what the aspect solution needs."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.file = file

    def _fields(self) -> dict[str, object]:
        return {"file": self.file}


@dataclass(frozen=True, slots=True)
class ArmApertures:
    """The apertures in front of one photodiode, as the solar image sees them (m)."""

    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    diameter_m: NDArray[np.float64]

    @property
    def outer_radius_m(self) -> float:
        """Distance of the outermost aperture edge from the optical axis."""
        return float(np.max(np.hypot(self.x_m, self.y_m) + self.diameter_m / 2))


@dataclass(frozen=True, slots=True)
class SasParams:
    """Aperture plate and diode calibration, with the files they came from.

    Attributes
    ----------
    arms : apertures of arms A, B, C, D
    bias_a : dark current per diode (A)
    gain : relative gain per diode
    sources : (file name, sha256) of each file read, for lineage
    """

    arms: tuple[ArmApertures, ArmApertures, ArmApertures, ArmApertures]
    bias_a: NDArray[np.float64]
    gain: NDArray[np.float64]
    sources: tuple[tuple[str, str], ...] = ()

    @property
    def rsol_max_m(self) -> float:
        """Largest image radius whose limb still falls on apertures of every arm."""
        return min(arm.outer_radius_m for arm in self.arms)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path: Path) -> dict[str, object]:
    if not path.is_file():
        raise SasParamsError("SAS parameter file not found", file=str(path))
    error = ""
    with warnings.catch_warnings():
        # scipy leaves the file open when a save file is malformed; closing it is not our warning
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return dict(readsav(str(path), python_dict=True))
        except Exception as exc:  # scipy raises bare Exception/ValueError for bad save files
            error = str(exc) or type(exc).__name__
        gc.collect()
    raise SasParamsError(f"not a readable IDL save file: {error}", file=str(path))


def _array(content: dict[str, object], name: str, path: Path, size: int | None = None) -> NDArray:
    if name not in content:
        raise SasParamsError(f"variable {name!r} missing", file=path.name)
    values = np.atleast_1d(np.asarray(content[name], dtype=np.float64)).ravel()
    if size is not None and values.size != size:
        raise SasParamsError(
            f"variable {name!r} has {values.size} values, not {size}", file=path.name
        )
    if not np.all(np.isfinite(values)):
        raise SasParamsError(f"variable {name!r} has non-finite values", file=path.name)
    return values


def _arm(content: dict[str, object], k: int, path: Path) -> ArmApertures:
    x = _array(content, f"apxtab{k}", path)
    y = _array(content, f"apytab{k}", path, x.size)
    diameter = _array(content, f"d_ap{k}", path)
    if diameter.size == 1:
        diameter = np.full(x.size, diameter[0])
    if diameter.size != x.size or x.size == 0 or np.any(diameter <= 0):
        raise SasParamsError(f"arm {_ARMS[k - 1]}: bad aperture table", file=path.name)
    return ArmApertures(-x, -y, diameter)


def _calib_file(param_dir: Path, calib_file: str | None) -> Path:
    if calib_file:
        return param_dir / calib_file
    found = sorted(param_dir.glob(CALIB_GLOB))
    if not found:
        raise SasParamsError(f"no {CALIB_GLOB} in the SAS parameter folder", file=str(param_dir))
    return found[-1]


def load_sas_params(param_dir: Path | str, calib_file: str | None = None) -> SasParams:
    """The aperture plate and diode calibration of STX-GSW's ``SAS_param`` folder.

    Parameters
    ----------
    param_dir : the folder holding ``apcoord_FM_circ.sav`` and ``SAS_calib_*.sav``
    calib_file : calibration file name in it (default: the newest ``SAS_calib_*.sav`` by name)

    Raises
    ------
    SasParamsError
        If a file is missing or unreadable, or a variable is missing or malformed.
    """
    folder = Path(param_dir)
    aper_path = folder / APERTURE_FILE
    aper = _read(aper_path)
    arms = tuple(_arm(aper, k, aper_path) for k in range(1, 5))
    cal_path = _calib_file(folder, calib_file)
    cal = _read(cal_path)
    bias_na = _array(cal, "bias", cal_path, 4)
    gain = _array(cal, "gain", cal_path, 4)
    if np.any(gain <= 0):
        raise SasParamsError("gains must be positive", file=cal_path.name)
    sources = tuple((p.name, _sha256(p)) for p in (aper_path, cal_path))
    logger.info("sas params loaded apertures=%s calib=%s", aper_path.name, cal_path.name)
    return SasParams(arms, bias_na * 1e-9, gain, sources)  # type: ignore[arg-type]
