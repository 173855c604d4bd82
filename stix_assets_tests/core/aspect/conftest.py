"""A synthetic SAS parameter folder in STX-GSW's file layout.

The flight aperture plate (``apcoord_FM_circ.sav``) and diode calibration (``SAS_calib_*.sav``)
are not available here, so these files describe a plate of the SAS's kind: four arms of 0.3 mm
apertures on the two diagonals, 2.8-12 mm from the axis (the solar limb at 0.28-0.75 AU), and
plausible dark currents and gains. They are written as real IDL save files, read by the real loader.
"""

from pathlib import Path

import numpy as np
import pytest

from stix_assets_tests.core.aspect.idl_save import write_idl_save

RADII_M = np.round(np.arange(2.8e-3, 12.01e-3, 0.4e-3), 7)
DIRECTIONS = ((1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0))  # arms A, B, C, D
BIAS_NA = np.array([1.5, 2.0, 1.2, 1.8])
GAIN = np.array([1.0, 0.97, 1.04, 0.99])


def write_sas_param_dir(folder: Path) -> Path:
    """Write the synthetic plate and two calibration files (2020 and 20211005) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    aper = {}
    for k, (dx, dy) in enumerate(DIRECTIONS, start=1):
        aper[f"apxtab{k}"] = RADII_M * dx / np.sqrt(2.0)
        aper[f"apytab{k}"] = RADII_M * dy / np.sqrt(2.0)
        aper[f"d_ap{k}"] = np.full(RADII_M.size, 0.3e-3)
    write_idl_save(folder / "apcoord_FM_circ.sav", aper)
    write_idl_save(folder / "SAS_calib_2020.sav", {"bias": np.zeros(4), "gain": np.ones(4)})
    write_idl_save(folder / "SAS_calib_20211005.sav", {"bias": BIAS_NA, "gain": GAIN})
    return folder


@pytest.fixture
def sas_param_dir(tmp_path: Path) -> Path:
    """A SAS_param folder with the synthetic plate and calibration."""
    return write_sas_param_dir(tmp_path / "SAS_param")
