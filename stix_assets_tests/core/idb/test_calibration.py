import astropy.units as u
import numpy as np
import pytest

from stix_assets.core.idb import Idb
from stix_assets.core.idb.bits import pack_bits
from stix_assets.core.idb.calibration import calibrate
from stix_assets.core.idb.decode import decode_parameters
from stix_assets_tests.core.idb.builders import batch_of, packet, pcf, write_idb

SPID = 54102
NAMES = ["TXT", "BOOL", "LIN", "SPL", "POLY", "TEMP", "NIX00276", "PLAIN", "SEC"]


@pytest.fixture(scope="module")
def idb(tmp_path_factory) -> Idb:
    path = write_idb(
        tmp_path_factory.mktemp("cal") / "idb.sqlite",
        version="t",
        pid=[(3, 25, 2, SPID, "HK", -1)],
        pcf_rows=[
            pcf("TXT", 8, categ="S", curtx="CAAT0005TM"),
            pcf("BOOL", 8, categ="S", curtx="CIXT0001TM"),
            pcf("LIN", 16, curtx="CIXP0034TM", unit="V"),
            pcf("SPL", 16, curtx="CIXP0024TM", unit="degC"),
            pcf("POLY", 16, curtx="CIX00035TM", unit="NULL"),  # 2.26.34 writes NULL as text
            pcf("TEMP", 16, curtx="CIX00099TM", unit="degC"),
            pcf("NIX00276", 8, categ="S", curtx="CAAT0005TM"),
            pcf("PLAIN", 8),
            pcf("SEC", 16, curtx="CIX01172TM", unit="S"),  # 'S' is seconds (IDB 2.26.36)
        ],
        plf=[(n, SPID, 16 + i * 2, 0) for i, n in enumerate(NAMES)],
        txp=[
            ("CAAT0005TM", "0", "0", "Disconnected"),
            ("CAAT0005TM", "1", "1", "Connected"),
            ("CAAT0005TM", "1", "5", "Shadowed by the row before"),
            ("CIXT0001TM", "0", "0", "False"),
            ("CIXT0001TM", "1", "1", "True"),
        ],
        cap=[
            ("CIXP0034TM", "0", "1"),
            ("CIXP0034TM", "10", "21"),
            *[
                ("CIXP0024TM", str(x), str(y))
                for x, y in [
                    (387, 99.99),
                    (1196, 55),
                    (1690, 40),
                    (3221, -0.01),
                    (3505, -10.01),
                    (3800, -25.02),
                ]
            ],
        ],
        mcf=[
            ("CIX00035TM", "1", "0.5", "0", "0", "2"),
            ("CIX00099TM", "-273.15", "1", "0", "0", "0"),
            ("CIX01172TM", "0", "0.1", "0", "0", "0"),
        ],
        pic=[(3, 25, 16, 8)],
    )
    return Idb.open(path, version="t")


def test_calibrations(idb):
    rows = [
        [0, 1, 5, 1196, 2, 300, 1, 7, 39],
        [1, 0, 20, 3505, 0, 0, 0, 7, 40],
        [9, 1, 0, 387, 1, 10, 0, 7, 0],
    ]
    # every field sits in a 16-bit slot; 8-bit ones are the high byte
    packets = []
    for r in rows:
        fields = []
        for name, v in zip(NAMES, r, strict=True):
            width = idb.parameter(name).width
            fields += [(v, width), (0, 16 - width)] if width < 16 else [(v, 16)]
        packets.append(packet(3, 25, pack_bits(fields)))
    t = calibrate(decode_parameters(batch_of(packets), idb, SPID), idb)
    eng = t.engineering
    # first matching row wins; no row for 9: the raw value is kept and reported
    assert eng["TXT"].tolist() == ["Disconnected", "Connected", 9]
    assert any("TXT: 1 raw values outside CAAT0005TM" in i for i in t.calibration_issues)
    assert eng["BOOL"].dtype == bool
    assert eng["BOOL"].tolist() == [True, False, True]
    assert eng["LIN"].unit == u.V
    np.testing.assert_allclose(eng["LIN"].value, [11, 41, 1])  # 2 points: line, extrapolated
    assert eng["SPL"].unit == u.K
    np.testing.assert_allclose(eng["SPL"].value, [55 + 273.15, -10.01 + 273.15, 99.99 + 273.15])
    np.testing.assert_allclose(eng["POLY"], [1 + 1 + 32, 1, 1 + 0.5 + 2])
    assert not isinstance(eng["POLY"], u.Quantity)
    np.testing.assert_allclose(eng["TEMP"].to_value(u.K), [300, 0, 10], atol=1e-9)
    assert eng["SEC"].unit == u.s
    np.testing.assert_allclose(eng["SEC"].value, [3.9, 4.0, 0.0])
    assert "NIX00276" not in eng  # rate control regime keeps its raw value
    assert "PLAIN" not in eng
    assert t.value("NIX00276").tolist() == [1, 0, 0]
