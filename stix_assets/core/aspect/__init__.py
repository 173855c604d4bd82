"""The STIX aspect system (SAS): optics, instrument parameters and the aspect solution."""

from stix_assets.core.aspect.optics import SAS_OPTICS, SasOptics, limb_darkening, solar_profile
from stix_assets.core.aspect.params import ArmApertures, SasParams, SasParamsError, load_sas_params
from stix_assets.core.aspect.solution import (
    AspectSolution,
    arm_signals,
    calibrate_diodes,
    solve_aspect,
)

__all__ = [
    "SAS_OPTICS",
    "ArmApertures",
    "AspectSolution",
    "SasOptics",
    "SasParams",
    "SasParamsError",
    "arm_signals",
    "calibrate_diodes",
    "limb_darkening",
    "load_sas_params",
    "solar_profile",
    "solve_aspect",
]
