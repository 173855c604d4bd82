"""Loading STX-GSW's SAS parameter files (IDL save files written by the test)."""

import numpy as np
import pytest

from stix_assets.core.aspect import SasParamsError, load_sas_params
from stix_assets_tests.core.aspect.conftest import BIAS_NA, GAIN, RADII_M
from stix_assets_tests.core.aspect.idl_save import write_idl_save


def test_loads_plate_and_newest_calibration(sas_param_dir):
    params = load_sas_params(sas_param_dir)
    a = params.arms[0]
    # the image sees an aperture at (-apxtab, -apytab), as STX-GSW's expected-signal code
    np.testing.assert_allclose(a.x_m, -RADII_M / np.sqrt(2))
    np.testing.assert_allclose(a.y_m, -RADII_M / np.sqrt(2))
    np.testing.assert_allclose(a.diameter_m, 0.3e-3)
    np.testing.assert_allclose(params.bias_a, BIAS_NA * 1e-9)  # nA in the file
    np.testing.assert_allclose(params.gain, GAIN)
    assert [name for name, _ in params.sources] == ["apcoord_FM_circ.sav", "SAS_calib_20211005.sav"]
    assert all(len(sha) == 64 for _, sha in params.sources)
    assert params.rsol_max_m == pytest.approx(RADII_M[-1] + 0.15e-3)


def test_named_calibration_file(sas_param_dir):
    params = load_sas_params(sas_param_dir, "SAS_calib_2020.sav")
    np.testing.assert_allclose(params.bias_a, 0.0)
    assert params.sources[1][0] == "SAS_calib_2020.sav"


def test_missing_aperture_file(tmp_path):
    with pytest.raises(SasParamsError, match="not found") as err:
        load_sas_params(tmp_path)
    assert "apcoord_FM_circ.sav" in str(err.value)


def test_missing_calibration(sas_param_dir):
    for path in sas_param_dir.glob("SAS_calib_*.sav"):
        path.unlink()
    with pytest.raises(SasParamsError, match=r"no SAS_calib_\*\.sav"):
        load_sas_params(sas_param_dir)


def test_missing_variable_is_named(sas_param_dir):
    write_idl_save(sas_param_dir / "SAS_calib_20211005.sav", {"bias": BIAS_NA})
    with pytest.raises(SasParamsError, match="'gain' missing") as err:
        load_sas_params(sas_param_dir)
    assert "SAS_calib_20211005.sav" in str(err.value)


def test_wrong_sizes_and_values(sas_param_dir):
    write_idl_save(sas_param_dir / "SAS_calib_20211005.sav", {"bias": BIAS_NA[:3], "gain": GAIN})
    with pytest.raises(SasParamsError, match="3 values, not 4"):
        load_sas_params(sas_param_dir)
    write_idl_save(sas_param_dir / "SAS_calib_20211005.sav", {"bias": BIAS_NA, "gain": -GAIN})
    with pytest.raises(SasParamsError, match="positive"):
        load_sas_params(sas_param_dir)


def test_corrupt_file(sas_param_dir):
    (sas_param_dir / "apcoord_FM_circ.sav").write_bytes(b"not an IDL save file")
    with pytest.raises(SasParamsError, match="not a readable IDL save file"):
        load_sas_params(sas_param_dir)


def test_truncated_file(sas_param_dir):
    path = sas_param_dir / "SAS_calib_20211005.sav"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(SasParamsError, match="not a readable IDL save file"):
        load_sas_params(sas_param_dir)
