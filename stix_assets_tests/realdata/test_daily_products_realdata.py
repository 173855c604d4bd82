"""Daily products made from STIXCore's own L1 files of the kit (reference/stixcore/L1/pkttmraw).

What the daily pipeline in use today reads is what these read: STIXCore's L1 ``ql-lightcurve`` of
2020-11-22 becomes an LL03 plot, its L1 ``hk-maxi`` of 2020-12-01 an ANC aspect ephemeris with the
kit's SPICE kernels. Our own L1 of the same days is tested in ``core/products``.
"""

from datetime import UTC, date, datetime

import numpy as np
import pytest
from astropy.io import fits

from stix_assets.core.products.anc import write_anc_ephemeris
from stix_assets.core.products.ll03 import write_ll03
from stix_assets.core.spice import KernelStore, loaded_kernels

pytestmark = pytest.mark.realdata

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
L1 = "reference/stixcore/L1/pkttmraw"


def test_ll03_from_stixcore_l1(testdata, tmp_path):
    source = testdata / L1 / "2020/11/22/QL/solo_L1_stix-ql-lightcurve_20201122_V02U.fits"
    result = write_ll03(source, tmp_path, now=NOW)
    stem = "solo_LL03_stix-ql-lightcurve_20201122T000000-20201122T235959_V02C"
    assert result.svg == tmp_path / "LL03/2020/11/22/QL" / f"{stem}.svg"
    assert result.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.n_rows == len(fits.getdata(source, "DATA"))
    # the kit holds a few minutes of that day, far from 21,540 rows: complete only once a month old
    assert result.complete
    next_day = write_ll03(source, tmp_path, now=datetime(2020, 11, 23, 8, tzinfo=UTC))
    assert not next_day.complete


def test_anc_from_stixcore_l1(testdata, tmp_path):
    source = testdata / L1 / "2020/12/01/HK/solo_L1_stix-hk-maxi_20201201_V02U.fits"
    with loaded_kernels(KernelStore(testdata / "spice/kernels")) as kernels:
        result = write_anc_ephemeris(source, tmp_path, kernels, created=NOW, software_version="t")
    assert result.path.name == "solo_ANC_stix-asp-ephemeris_20201201_V02U.fits"
    assert result.utc_day == date(2020, 12, 1)
    assert result.parent == "solo_L1_stix-hk-maxi_20201201_V02.fits"
    with fits.open(result.path, checksum=True) as hdul:
        data = hdul["DATA"].data
        assert len(data) == len(fits.getdata(source, "DATA"))
        np.testing.assert_array_equal(data["time"], fits.getdata(source, "DATA")["time"])
        # SOLO at 0.87 AU: too far for the aspect system, as STX-GSW would say
        assert set(data["sas_error"]) == {"SUN_TOO_FAR"}
        assert (np.abs(data["spice_disc_size"] - fits.getheader(source)["RSUN_ARC"]) < 0.5).all()
        assert hdul[0].header["PARENT"] == result.parent
