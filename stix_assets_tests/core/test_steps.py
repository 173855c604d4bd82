"""The step clock charges nested steps once and adds what workers send back."""

import time

import pytest

from stix_assets.core import steps


@pytest.fixture(autouse=True)
def _fresh_clock():
    steps.reset()
    yield
    steps.reset()


def test_a_nested_step_is_not_charged_to_the_outer_one():
    start = time.perf_counter()
    with steps.step("build"):
        time.sleep(0.01)
        with steps.step("write"):
            time.sleep(0.03)
    elapsed = time.perf_counter() - start
    got = steps.step_seconds()
    assert got["write"] >= 0.03
    assert got["build"] < got["write"]  # only its own 10 ms, not the 30 ms inside
    assert got["build"] + got["write"] <= elapsed + 0.001


def test_timed_functions_and_worker_totals_add_up():
    @steps.timed("read")
    def read() -> int:
        return 7

    assert read() == 7
    assert read.__name__ == "read"
    steps.add_seconds({"read": 1.0, "decode": 2.0})
    got = steps.step_seconds()
    assert got["decode"] == 2.0
    assert 1.0 <= got["read"] < 1.1


def test_the_process_age_is_known_on_linux():
    age = steps.process_age_s()
    assert age is None or 0 <= age < 24 * 3600
