"""Deterministic synthetic profiles and tariffs for REC cases.

A profile field of a scenario file (consumption, production, prices) is a number
(constant), a list of one value per step, or a mapping ``{generator: NAME, ...}``
naming one of the generators below with its parameters. Every generator is a pure
function of its parameters and of the step grid: no random numbers, so a case
file always yields the same profiles.

Hour of step ``t``: ``h_t = start_hour + (t + 1/2)·Δc`` (the middle of the step),
taken modulo 24; its day is ``d_t = floor((start_hour + t·Δc) / 24)``. Lists given
per day (``day_factors``, ``clearness``) are used cyclically.

``normal_bumps`` (Case 0 of Aittahar et al.)
    ``value_t = Σ_j scale_j · φ(x_t; mean_j, std_j)`` with ``x_t = x_start + t·x_step``
    and φ the normal density. No step length involved: values are kWh per step.
``household`` (kWh per step)
    ``Δc · day_factor(d_t) · (base_kw + Σ_j peak_kw_j · exp(−δ_j² / (2 width_h_j²)))``
    where ``δ_j`` is the circular distance in hours between ``h_t`` and ``hour_j``.
``pv`` (kWh per step)
    ``Δc · peak_kw · clearness(d_t) · sin(π (h_t − sunrise_h) / (sunset_h − sunrise_h))``
    between sunrise and sunset, 0 otherwise (``0 <= sunrise_h < sunset_h <= 24``).
``time_of_use`` (EUR/kWh)
    ``price`` by default, and ``windows[j].price`` for hours in
    ``[windows[j].start_h, windows[j].end_h)`` (later windows override earlier ones;
    a window with ``start_h > end_h`` wraps around midnight; both hours in [0, 24]).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from dec.validation import is_finite_number

#: Hours of a day: the range of the generators' hours of the day (sunrise, windows).
HOURS_PER_DAY = 24


def _hours_days(
    n_steps: int, time_step_h: float, start_hour: float
) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n_steps)
    hour = np.mod(start_hour + (t + 0.5) * time_step_h, 24.0)
    day = np.floor((start_hour + t * time_step_h) / 24.0).astype(int)
    return hour, day


def _cyclic(values: list[float], day: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)[day % len(values)]


def normal_bumps(
    n_steps: int, time_step_h: float, x_start: float, bumps: list[dict], x_step: float = 1.0
) -> np.ndarray:
    """Sum of scaled normal densities on the grid ``x_t = x_start + t·x_step``, kWh per step."""
    x = x_start + x_step * np.arange(n_steps)
    total = np.zeros(n_steps)
    for bump in bumps:
        std = float(bump["std"])
        z = (x - float(bump["mean"])) / std
        total += float(bump["scale"]) * np.exp(-0.5 * z * z) / (std * math.sqrt(2.0 * math.pi))
    return total


def household(
    n_steps: int,
    time_step_h: float,
    base_kw: float,
    bumps: list[dict],
    day_factors: list[float] | None = None,
    start_hour: float = 0.0,
) -> np.ndarray:
    """Return a base load plus daily Gaussian peaks scaled per day, kWh per step."""
    hour, day = _hours_days(n_steps, time_step_h, start_hour)
    power_kw = np.full(n_steps, float(base_kw))
    for bump in bumps:
        delta = np.abs(hour - float(bump["hour"]))
        delta = np.minimum(delta, 24.0 - delta)
        power_kw += float(bump["peak_kw"]) * np.exp(-0.5 * (delta / float(bump["width_h"])) ** 2)
    return time_step_h * power_kw * _cyclic(day_factors or [1.0], day)


def pv(
    n_steps: int,
    time_step_h: float,
    peak_kw: float,
    sunrise_h: float,
    sunset_h: float,
    clearness: list[float] | None = None,
    start_hour: float = 0.0,
) -> np.ndarray:
    """Half-sine clear-sky day scaled by a daily clearness index, kWh per step."""
    hour, day = _hours_days(n_steps, time_step_h, start_hour)
    phase = (hour - float(sunrise_h)) / (float(sunset_h) - float(sunrise_h))
    shape = np.where((phase > 0) & (phase < 1), np.sin(np.pi * np.clip(phase, 0, 1)), 0.0)
    return time_step_h * float(peak_kw) * shape * _cyclic(clearness or [1.0], day)


def time_of_use(
    n_steps: int,
    time_step_h: float,
    price: float,
    windows: list[dict] | None = None,
    start_hour: float = 0.0,
) -> np.ndarray:
    """Return a default price with hour-of-day windows at other prices, EUR/kWh."""
    hour, _ = _hours_days(n_steps, time_step_h, start_hour)
    values = np.full(n_steps, float(price))
    for window in windows or []:
        start, end = float(window["start_h"]), float(window["end_h"])
        inside = (hour >= start) & (hour < end) if start <= end else (hour >= start) | (hour < end)
        values[inside] = float(window["price"])
    return values


#: Generators by name, with their required and optional parameters and the fields
#: each item of their list parameter needs.
GENERATORS: dict[str, tuple[Callable[..., np.ndarray], set[str], set[str], dict[str, set[str]]]] = {
    "normal_bumps": (
        normal_bumps,
        {"x_start", "bumps"},
        {"x_step"},
        {"bumps": {"scale", "mean", "std"}},
    ),
    "household": (
        household,
        {"base_kw", "bumps"},
        {"day_factors", "start_hour"},
        {"bumps": {"peak_kw", "hour", "width_h"}},
    ),
    "pv": (pv, {"peak_kw", "sunrise_h", "sunset_h"}, {"clearness", "start_hour"}, {}),
    "time_of_use": (
        time_of_use,
        {"price"},
        {"windows", "start_hour"},
        {"windows": {"start_h", "end_h", "price"}},
    ),
}


#: Generator parameters given per day (a list, used cyclically).
PER_DAY = ("day_factors", "clearness")


def _spec_problem(spec: Mapping[str, Any]) -> str | None:

    name = spec.get("generator")
    if not isinstance(name, str) or name not in GENERATORS:
        return f"names the unknown generator {name!r} (allowed: {', '.join(GENERATORS)})"
    _, needed, optional, items = GENERATORS[name]
    given = set(spec) - {"generator"}
    if needed - given:
        return f"lacks the parameter(s) {', '.join(sorted(needed - given))} of generator {name!r}"
    if given - needed - optional:
        return f"has unknown parameter(s) {', '.join(sorted(given - needed - optional))}"
    for key, value in spec.items():
        if key == "generator":
            continue
        if key in items:
            if not isinstance(value, list) or not all(
                isinstance(v, dict)
                and set(v) == items[key]
                and all(is_finite_number(x) for x in v.values())
                for v in value
            ):
                return f"parameter '{key}' must be a list of mappings with {sorted(items[key])}"
        elif key in PER_DAY:
            if (
                not isinstance(value, list)
                or not value
                or not all(is_finite_number(x) for x in value)
            ):
                return f"parameter '{key}' must be a non-empty list of numbers"
        elif not is_finite_number(value):
            return f"parameter '{key}' must be a number"
    if name == "normal_bumps" and any(float(b["std"]) <= 0 for b in spec["bumps"]):
        return "has a bump with std <= 0"
    if name == "household":
        if any(float(b["width_h"]) <= 0 for b in spec["bumps"]):
            return "has a bump with width_h <= 0"
        outside = _hours_outside_a_day(
            {f"bumps[{j}].hour": b["hour"] for j, b in enumerate(spec["bumps"])}
        )
        if outside:
            return outside
    if name == "pv":
        outside = _hours_outside_a_day({k: spec[k] for k in ("sunrise_h", "sunset_h")})
        if outside:
            return outside
        if float(spec["sunset_h"]) <= float(spec["sunrise_h"]):
            return (
                f"has sunset_h {spec['sunset_h']!r} not after sunrise_h {spec['sunrise_h']!r} "
                "(sunrise_h < sunset_h, hours of one day)"
            )
    if name == "time_of_use":
        for j, window in enumerate(spec.get("windows") or []):
            outside = _hours_outside_a_day(
                {f"windows[{j}].{k}": window[k] for k in ("start_h", "end_h")}
            )
            if outside:
                return outside
            if float(window["start_h"]) == float(window["end_h"]):
                return (
                    f"has windows[{j}] with start_h equal to end_h ({window['start_h']!r}): an "
                    "empty window; give the hours it covers (0 to 24 for the whole day)"
                )
    return None


def _hours_outside_a_day(hours: Mapping[str, Any]) -> str | None:
    """Return why the first of ``hours`` (name: value) outside [0, 24] is refused, or None.

    Hours of the day are read as given (a window with ``start_h > end_h`` wraps around
    midnight), so 25 would silently mean 1.
    """
    for key, value in hours.items():
        if not 0 <= float(value) <= HOURS_PER_DAY:
            return f"has {key} {value!r}, outside [0, {HOURS_PER_DAY}] (an hour of the day)"
    return None


def profile_problem(value: Any) -> str | None:
    """Return why ``value`` is not a valid profile field (number, list or generator), or None."""
    if is_finite_number(value) or isinstance(value, list):
        return None
    if isinstance(value, Mapping):
        return _spec_problem(value)
    return f"must be a number, a list of numbers or a generator mapping, found {value!r}"


def expand(value: Any, n_steps: int, time_step_h: float) -> Any:
    """Turn a valid profile field into one value per step (lists are returned unchanged).

    Parameters
    ----------
    value
        A number, a list or a generator mapping (checked by :func:`profile_problem`).
    n_steps
        T, the number of steps.
    time_step_h
        Δc, hours.

    Returns
    -------
    list or numpy.ndarray
        The list as given (its length is checked by the caller), or T generated values.

    """
    if isinstance(value, list):
        return value
    if is_finite_number(value):
        return np.full(n_steps, float(value))
    params = {k: v for k, v in value.items() if k != "generator"}
    return GENERATORS[value["generator"]][0](n_steps, time_step_h, **params)
