import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stix_assets.core.levels import INPUT_WINDOWS, LEVELS, affected_days, input_days, products_at

DAYS = st.dates(min_value=dt.date(2020, 2, 10), max_value=dt.date(2030, 12, 31))


@given(level=st.sampled_from(LEVELS), data=st.data(), day=DAYS, upstream_day=DAYS)
def test_affected_days_is_the_inverse_of_the_input_window(level, data, day, upstream_day):
    product = data.draw(st.sampled_from(products_at(level)))
    reads = upstream_day in input_days(level, product, day)
    affected = affected_days(level, {upstream_day: {product}})
    assert (product in affected.get(day, set())) == reads


def test_windows_name_each_level_once_and_in_order():
    assert LEVELS == ("LB", "L0", "L1", "CAL")
    assert [INPUT_WINDOWS[lvl].upstream for lvl in LEVELS] == ["TM", "LB", "L0", "L1"]


def test_affected_days_leaves_out_products_absent_at_the_level():
    day = dt.date(2021, 1, 16)
    assert affected_days("CAL", {day: {"ql_lightcurve"}}) == {}
    assert affected_days("CAL", {day: {"cal_energy"}}) == {day: {"cal_energy"}}
    assert affected_days("L0", {day: {"xray_spec"}}) == {day: {"xray_spec"}}
    assert set(affected_days("L0", {day: {"ql_lightcurve"}})) == {
        day - dt.timedelta(days=1),
        day,
        day + dt.timedelta(days=1),
    }


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="unknown level"):
        products_at("L9")
