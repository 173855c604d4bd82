"""Fixtures of the level-day tests: days of TM replicated from the kit's real packets."""

import datetime as dt
import importlib.util
from pathlib import Path

import pytest

_GENERATOR = Path(__file__).resolve().parents[3] / "benchmarks" / "generate_tm.py"
START = dt.date(2021, 1, 16)


def _generator():
    spec = importlib.util.spec_from_file_location("stix_generate_tm", _GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def replicated_tm(testdata, tmp_path_factory) -> list[Path]:
    """Two days of SOC TM files (4 a day, 6 h each) whose payloads are the kit's real packets.

    HK every 64 s, a quick-look cycle every 20 min and one spectrogram request an hour; each file
    crosses no midnight, but the quick-look bins near midnight sit in the neighbour day's files.
    """
    out = tmp_path_factory.mktemp("replicated_tm")
    return _generator().generate(testdata, out, days=2, start=START)


@pytest.fixture(scope="session")
def kit_dirs(testdata) -> dict[str, Path]:
    """IDB, STIX-CONF and SPICE folders of the kit."""
    return {
        "idb": testdata / "idb",
        "conf": testdata / "conf",
        "spice": testdata / "spice" / "kernels",
    }
