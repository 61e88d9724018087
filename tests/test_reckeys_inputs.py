"""Validation of the rec_keys section: one clear error naming the member and the field."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from dec.errors import InputError
from dec.reckeys import PersistenceForecaster, load_case, make_policy, simulate
from dec.reckeys.profiles import household, pv, time_of_use

CASE0 = Path(__file__).parents[1] / "inputs" / "rec" / "case0.yaml"


@pytest.fixture
def section():
    return copy.deepcopy(yaml.safe_load(CASE0.read_text())["rec_keys"])


def problems(section) -> str:
    with pytest.raises(InputError) as err:
        load_case(section, "case0", "case0.yaml")
    assert str(err.value).startswith("Invalid input in case0.yaml:")
    return str(err.value)


def test_metering_period_must_divide_the_horizon(section):
    section["n_steps"] = 22
    section["members"][0]["consumption_kwh"] = [0.1] * 22
    section["members"][1]["production_kwh"] = [0.1] * 22
    assert "Field 'metering_period_steps' (4) does not divide 'n_steps' (22)" in problems(section)


def test_initial_soc_outside_bounds_names_member_and_field(section):
    section["members"][1]["battery"]["soc_initial_kwh"] = 1.3
    message = problems(section)
    assert "Field 'battery.soc_initial_kwh' is outside [0.0, 1.0]" in message
    assert "member PVB (1.3)" in message


def test_negative_capacity_names_member_and_field(section):
    section["members"][1]["battery"]["capacity_kwh"] = -1.0
    assert (
        "Field 'battery.capacity_kwh' is not greater than zero for 1 member: PVB (-1.0)"
        in problems(section)
    )


def test_price_list_of_wrong_length_names_member_and_field(section):
    section["members"][0]["buying_price_eur_per_kwh"] = [1.0] * 23
    # key words only: dec.validation's shared wording of the lengths may change
    message = problems(section)
    assert "Field 'buying_price_eur_per_kwh' has the wrong length for 1 member" in message
    assert re.search(r"expected 24 values.*\bC\b\D*23\b", message), message


def test_every_problem_is_reported_at_once(section):
    section["members"][1]["battery"]["capacity_kwh"] = -1.0
    section["members"][0]["selling_price_eur_per_kwh"] = [0.0] * 3
    section["members"][0]["consumption_kwh"] = {"generator": "nope"}
    section["colour"] = "blue"
    with pytest.raises(InputError) as err:
        load_case(section, "case0")
    text = " ".join(err.value.problems)
    for expected in (
        "capacity_kwh",
        "selling_price_eur_per_kwh",
        "unknown generator 'nope'",
        "unknown field(s) colour",
    ):
        assert expected in text


def test_bad_battery_fields_and_duplicates(section):
    battery = section["members"][1]["battery"]
    battery["charge_efficiency"] = 1.5
    battery["soc_max_kwh"] = 2.0
    del battery["discharge_max_kw"]
    section["members"].append({"id": "C", "buying_price_eur_per_kwh": 1.0})
    message = problems(section)
    assert "'battery.charge_efficiency' is outside (0, 1] for member PVB (1.5)" in message
    assert "'battery.discharge_max_kw' is missing for member PVB" in message
    assert "repeats the member id 'C'" in message


@pytest.mark.parametrize("generator", [["pv"], {"name": "pv"}, None])
def test_generator_name_that_is_not_a_string_is_refused(section, generator):
    section["members"][0]["consumption_kwh"] = {"generator": generator}
    assert f"unknown generator {generator!r}" in problems(section)


def test_per_day_parameter_must_be_a_list(section):
    section["members"][0]["consumption_kwh"] = {
        "generator": "household",
        "base_kw": 0.2,
        "bumps": [],
        "day_factors": 1.1,
    }
    assert "parameter 'day_factors' must be a non-empty list of numbers" in problems(section)


def test_negative_consumption_is_refused(section):

    section["members"][0]["consumption_kwh"] = [-0.1] + [0.1] * 23
    assert "Field 'consumption_kwh' is negative" in problems(section)


def test_generators_are_the_documented_formulas():
    # household: one bump at 12 h of 2 kW and width 1 h on a 1 kW base, 1-h steps: the
    # step 11 covers 11-12 h, its middle 11.5 h is 0.5 h from the peak.
    e = household(
        48,
        1.0,
        base_kw=1.0,
        bumps=[{"hour": 12, "peak_kw": 2, "width_h": 1}],
        day_factors=[1.0, 0.5],
    )
    assert e[11] == pytest.approx(1 + 2 * np.exp(-0.125))
    assert e[24 + 11] == pytest.approx(0.5 * e[11])
    # pv: half sine between 6 and 18 h, peak at noon; 15-min steps give kWh = kW / 4.
    p = pv(96, 0.25, peak_kw=4, sunrise_h=6, sunset_h=18)
    assert p[:24].max() == 0 and p[47] == pytest.approx(0.25 * 4 * np.sin(np.pi * 5.875 / 12))
    prices = time_of_use(24, 1.0, price=0.2, windows=[{"start_h": 22, "end_h": 6, "price": 0.1}])
    assert prices[:6].tolist() == [0.1] * 6 and prices[6] == 0.2 and prices[23] == 0.1


def test_persistence_forecaster_repeats_yesterday():
    path = CASE0.parent / "case1.yaml"
    case = load_case(yaml.safe_load(path.read_text())["rec_keys"], "case1")
    day = 96
    forecast = PersistenceForecaster(case).forecast(day + 10, 2 * day)
    actual = case.consumption_kwh
    assert forecast.consumption_kwh[:, 0] == pytest.approx(actual[:, day + 10])
    assert forecast.consumption_kwh[:, 5] == pytest.approx(actual[:, 15])
    assert forecast.consumption_kwh[:, day + 5] == pytest.approx(actual[:, 15])
    assert forecast.buy_eur_per_kwh == pytest.approx(
        case.buying_price_eur_per_kwh[:, day + 10 : 3 * day + 10]
    )


def test_scalar_generator_parameter_given_as_a_list_is_refused(section):
    section["members"][0]["consumption_kwh"]["x_start"] = [-12.0, -11.0]
    assert "parameter 'x_start' must be a number" in problems(section)


def test_community_without_producers_pays_its_consumption(section):
    # consumer C alone: nothing to share, every policy's bill is C's consumption at its price
    section["members"] = section["members"][:1]
    case = load_case(section, "case0", "case0.yaml")
    expected = float(np.sum(case.consumption_kwh * case.buying_price_eur_per_kwh))
    for policy in ("optimal", "look-ahead-billing", "look-ahead-decoupling"):
        run = simulate(case, make_policy(policy, 4))
        assert run.total_bill_eur == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({"start_h": 25, "end_h": 3}, "has windows[0].start_h 25, outside [0, 24]"),
        ({"start_h": 22, "end_h": -1}, "has windows[0].end_h -1, outside [0, 24]"),
        ({"start_h": 22, "end_h": 24.5}, "has windows[0].end_h 24.5, outside [0, 24]"),
    ],
)
def test_time_of_use_window_hours_outside_a_day_are_refused(section, window, expected):
    # start_h 25 was read as 1 (a window wrapping past midnight), silently
    section["members"][0]["buying_price_eur_per_kwh"] = {
        "generator": "time_of_use",
        "price": 0.2,
        "windows": [dict(window, price=0.3)],
    }
    message = problems(section)
    assert f"Field 'buying_price_eur_per_kwh' of member C {expected} (an hour of the day)" in (
        message
    )


def test_time_of_use_window_of_equal_start_and_end_is_refused(section):
    # [8, 8) is empty: the window's price would never apply
    section["members"][0]["buying_price_eur_per_kwh"] = {
        "generator": "time_of_use",
        "price": 0.2,
        "windows": [{"start_h": 8, "end_h": 8, "price": 0.3}],
    }
    message = problems(section)
    assert "of member C has windows[0] with start_h equal to end_h (8): an empty window" in message


def test_household_bump_hours_must_be_hours_of_a_day(section):
    section["members"][0]["consumption_kwh"] = {
        "generator": "household",
        "base_kw": 0.3,
        "bumps": [{"peak_kw": 1.0, "hour": 26, "width_h": 2}],
    }
    assert "of member C has bumps[0].hour 26, outside [0, 24]" in problems(section)


def test_time_of_use_windows_over_the_whole_day_are_accepted(section):
    section["members"][0]["buying_price_eur_per_kwh"] = {
        "generator": "time_of_use",
        "price": 0.2,
        "windows": [
            {"start_h": 0, "end_h": 24, "price": 0.3},
            {"start_h": 22, "end_h": 6.5, "price": 0.1},
        ],
    }
    case = load_case(section, "case0", "case0.yaml")
    assert case.buying_price_eur_per_kwh[0].tolist() == [0.1] * 6 + [0.3] * 16 + [0.1] * 2


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ({"sunrise_h": -1, "sunset_h": 18}, "has sunrise_h -1, outside [0, 24]"),
        ({"sunrise_h": 6, "sunset_h": 30}, "has sunset_h 30, outside [0, 24]"),
        ({"sunrise_h": 18, "sunset_h": 6}, "has sunset_h 6 not after sunrise_h 18"),
    ],
)
def test_pv_sunrise_and_sunset_must_be_hours_of_one_day(section, hours, expected):
    section["members"][1]["production_kwh"] = {"generator": "pv", "peak_kw": 1.0, **hours}
    assert f"Field 'production_kwh' of member PVB {expected}" in problems(section)
