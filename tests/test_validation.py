from __future__ import annotations

import math

import pytest

from dec.errors import InputError
from dec.validation import Problems, non_negative, positive, required, series, within


def test_positive_names_field_kind_ids_and_values():
    problems = positive({"b3": -1.0, "b7": 0.0, "b1": 2.0}, "e_bn_kwh", "battery")
    assert problems == [
        "Field 'e_bn_kwh' is not greater than zero for 2 batteries: b3 (-1.0), b7 (0.0)."
    ]


def test_nan_is_not_a_number():
    assert "not a finite number" in non_negative({"x": math.nan}, "p_kw", "agent")[0]


def test_series_length_and_items():
    problems = series({"m1": [1, 2], "m2": [1, float("nan"), 3]}, "e_c", "meter", length=3)
    assert any("wrong length" in p and "m1 (2)" in p for p in problems)
    assert any("not a finite number" in p and "m2" in p for p in problems)


def test_collector_raises_all_at_once():
    problems = Problems("case.yaml")
    problems.extend(required({"a": {}}, ["x", "y"], "member"))
    problems.extend(within({"a": 2.0}, "soc", "member", 0, 1))
    with pytest.raises(InputError) as err:
        problems.raise_if_any()
    assert len(err.value.problems) == 3
    assert str(err.value).startswith("Invalid input in case.yaml:")
