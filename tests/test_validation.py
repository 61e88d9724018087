from __future__ import annotations

import math

import pytest

from dec.errors import InputError
from dec.validation import (
    MAX_SHOWN,
    Problems,
    non_negative,
    positive,
    required,
    series,
    shown,
    within,
)


def test_positive_names_field_kind_ids_and_values():
    problems = positive({"b3": -1.0, "b7": 0.0, "b1": 2.0}, "e_bn_kwh", "battery")
    assert problems == [
        "Field 'e_bn_kwh' is not greater than zero for 2 batteries: b3 (-1.0), b7 (0.0)."
    ]


def test_nan_is_not_a_number():
    assert "not a finite number" in non_negative({"x": math.nan}, "p_kw", "agent")[0]


def test_series_length_and_items():
    problems = series({"m1": [1, 2], "m2": [1, float("nan"), 3]}, "e_c", "meter", length=3)
    assert any("wrong length" in p and "values): m1 has 2" in p for p in problems)
    assert any("not a finite number" in p and "m2" in p for p in problems)


def test_collector_raises_all_at_once():
    problems = Problems("case.yaml")
    problems.extend(required({"a": {}}, ["x", "y"], "member"))
    problems.extend(within({"a": 2.0}, "soc", "member", 0, 1))
    with pytest.raises(InputError) as err:
        problems.raise_if_any()
    assert len(err.value.problems) == 3
    assert str(err.value).startswith("Invalid input in case.yaml:")


@pytest.mark.parametrize(
    "value",
    [1, -2.5, "abc", None, True, [1, 2.0, "x"], (1,), {"b": 1, "a": [2, 3]}, list(range(24))],
)
def test_a_short_value_is_shown_as_its_repr(value):
    # mappings keep their order (reprlib would sort their keys)
    assert shown(value) == repr(value)


@pytest.mark.parametrize(
    "value",
    [
        "x" * 5000,
        list(range(10_000)),
        [[[[[1] * 100] * 100] * 100] * 100],
        {i: i for i in range(99)},
    ],
)
def test_a_long_value_is_shortened(value):
    text = shown(value)
    assert len(text) <= MAX_SHOWN
    assert "..." in text
    assert text[:2] == repr(value)[:2]


def test_an_integer_python_cannot_print_is_described():
    assert shown(10**5000) == "<a whole number of more than 4300 digits>"


def test_a_rule_shortens_the_values_it_lists():
    (problem,) = within({"m1": [0.5] * 1000}, "e_c", "meter", 0, 1)
    assert problem.startswith("Field 'e_c' is not a finite number for 1 meter: m1 ([0.5, 0.5,")
    assert len(problem) < MAX_SHOWN + 100
