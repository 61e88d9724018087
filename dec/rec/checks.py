"""Checks of the REC functions' input dictionaries ("backpacks"), before any model is built.

Every field of a rec_op_lem_prices backpack is checked against its type, its length (one
value per step) and a documented range; the problems are collected in a
:class:`~dec.validation.Problems` and reported at once, naming the meter (or storage,
vehicle, pair of meters) and the field. :mod:`dec.rec.data` calls these checks and then
converts the backpack to arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from dec.validation import (
    MAX_EUR_PER_KWH,
    MAX_KW,
    MAX_KWH,
    Problems,
    interval,
    is_finite_number,
    non_negative,
    numbers,
    positive,
    required,
    series,
    within,
)

STORAGE_FIELDS = (
    "degradation_cost",
    "e_bn",
    "eff_bc",
    "eff_bd",
    "init_e",
    "p_max",
    "soc_max",
    "soc_min",
)
EV_FIELDS = (
    "trip_ev",
    "min_energy_storage_ev",
    "battery_capacity_ev",
    "eff_bc_ev",
    "eff_bd_ev",
    "init_e_ev",
    "pmax_c_ev",
    "pmax_d_ev",
    "bin_ev",
)
METER_SERIES = ("e_c", "e_g", "l_buy", "l_sell")
#: Most steps of a horizon (a year at one-minute steps is 525,600).
MAX_STEPS = 1_000_000

# Plausible ranges of the numeric fields, checked before any model is built. They are far
# wider than any REC's data (the reference's tests use at most 1.3 kWh per step, 5 kW and
# 10 EUR/kWh), and keep every coefficient of the MILPs (and products such as the big-M,
# 10 × max_p) well inside what HiGHS handles: it reads 1e20 and more as infinite, and
# 1e308 overflows to inf in the model's arithmetic.

# Fields bounded by the shared magnitudes of dec.validation: MAX_KWH (e_c, e_g, e_met in
# absolute value, trip_ev, e_bn, init_e and the vehicles' energies), MAX_KW (max_p, p_max,
# pmax_c_ev, pmax_d_ev) and MAX_EUR_PER_KWH (l_buy, l_sell, l_market_buy, l_market_sell,
# l_grid and l_lem in absolute value; degradation_cost and the penalty l_extra, in EUR/kW
# per step, from 0).
#: A meter's cost over the horizon in absolute value, EUR (c_ind): the most the other
#: bounds allow, MAX_KWH × MAX_EUR_PER_KWH × MAX_STEPS.
MAX_COST_EUR = 1e15
#: Step length delta_t, h: 3.6 seconds to one day.
DELTA_T_RANGE_H = (1e-3, 24.0)

ENERGY_RANGE = (0.0, MAX_KWH)
POWER_RANGE = (0.0, MAX_KW)
PRICE_RANGE = (-MAX_EUR_PER_KWH, MAX_EUR_PER_KWH)
#: Costs that cannot be negative (degradation_cost, l_extra).
COST_RANGE = (0.0, MAX_EUR_PER_KWH)
METER_RANGES = {
    "e_c": ENERGY_RANGE,
    "e_g": ENERGY_RANGE,
    "l_buy": PRICE_RANGE,
    "l_sell": PRICE_RANGE,
}
#: The net metered energy e_met of post-delivery data is signed.
POST_METER_RANGES = {"e_met": (-MAX_KWH, MAX_KWH), "l_buy": PRICE_RANGE, "l_sell": PRICE_RANGE}
STORAGE_RANGES = {
    "e_bn": ENERGY_RANGE,
    "init_e": ENERGY_RANGE,
    "p_max": POWER_RANGE,
    "degradation_cost": COST_RANGE,
}
VEHICLE_RANGES = {
    "trip_ev": ENERGY_RANGE,
    "min_energy_storage_ev": ENERGY_RANGE,
    "battery_capacity_ev": ENERGY_RANGE,
    "init_e_ev": ENERGY_RANGE,
    "pmax_c_ev": POWER_RANGE,
    "pmax_d_ev": POWER_RANGE,
}


def n_steps(horizon_h: float, delta_t_h: float) -> int:
    """Return the number of steps of ``delta_t_h`` hours in ``horizon_h`` hours.

    The quotient is truncated like rec_op_lem_prices does, after absorbing the
    floating-point noise of divisions such as 0.3 / 0.1.
    """
    ratio = horizon_h / delta_t_h
    nearest = round(ratio)
    return int(nearest) if math.isclose(ratio, nearest, rel_tol=1e-9) else int(ratio)


def as_sequence(value: Any) -> Any:
    """Return numpy arrays as lists (for the validation rules); leave anything else as is."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def _outside(values: Mapping[str, Any], low: float, high: float) -> dict[str, float]:
    """Return, per key, the first finite number outside [low, high] (a number or in a list).

    Values that are not finite numbers are left to the rules that report them, and so are
    values below a lower bound of zero (reported as negative or not greater than zero).
    """
    found = {}
    for key, value in values.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        bad = [x for x in items if is_finite_number(x) and (x > high or (low < 0 and x < low))]
        if bad:
            found[key] = float(bad[0])
    return found


def in_range(
    problems: Problems, values: Mapping[str, Any], field: str, kind: str, bounds: tuple
) -> None:
    """Report the keys whose value (or a value of whose list) is outside ``bounds``."""
    low, high = bounds
    problems.extend(within(_outside(values, low, high), field, kind, low, high))


def top_series(
    problems: Problems, backpack: Mapping, key: str, length: int, bounds: tuple = PRICE_RANGE
) -> None:
    """Check a top-level list of ``length`` finite numbers within ``bounds``."""
    value = as_sequence(backpack[key])
    if not isinstance(value, (list, tuple)):
        problems.add(f"Field '{key}' is not a list of numbers (found {type(value).__name__}).")
        return
    bad = [x for x in value if not is_finite_number(x)]
    if bad:
        problems.add(f"Field '{key}' holds a value that is not a finite number: {bad[0]!r}.")
    elif outside := _outside({key: value}, *bounds):
        problems.add(f"Field '{key}' holds a value outside {interval(*bounds)}: {outside[key]!r}.")
    if len(value) != length:
        problems.add(
            f"Field '{key}' has {len(value)} values; expected {length} "
            "(one per step of the horizon)."
        )


def top_number(
    problems: Problems,
    backpack: Mapping,
    key: str,
    rule: str = "number",
    bounds: tuple | None = None,
) -> None:
    """Check the number ``backpack[key]``: finite, by ``rule``, within ``bounds`` if given.

    ``rule`` is ``"number"``, ``"positive"`` or ``"non_negative"``.
    """
    value = backpack[key]
    if not is_finite_number(value):
        problems.add(f"Field '{key}' is not a finite number (found {value!r}).")
    elif rule == "positive" and value <= 0:
        problems.add(f"Field '{key}' must be greater than zero (found {value!r}).")
    elif rule == "non_negative" and value < 0:
        problems.add(f"Field '{key}' must be zero or more (found {value!r}).")
    elif bounds is not None and not bounds[0] <= value <= bounds[1]:
        problems.add(f"Field '{key}' is outside {interval(*bounds)} (found {value!r}).")


def flag(problems: Problems, backpack: Mapping, key: str) -> bool:
    """Check the optional boolean ``backpack[key]`` (absent or None: False); return it."""
    value = backpack.get(key, False)
    if value is None:
        return False
    if not isinstance(value, (bool, np.bool_)):
        problems.add(f"Field '{key}' must be true or false (found {value!r}).")
        return False
    return bool(value)


def horizon_steps(problems: Problems, backpack: Mapping) -> int | None:
    """Check ``delta_t`` and ``horizon`` and return the number of steps (None if unusable)."""
    top_number(problems, backpack, "delta_t", "positive", DELTA_T_RANGE_H)
    top_number(problems, backpack, "horizon", "positive")
    if problems:
        return None
    steps = n_steps(backpack["horizon"], backpack["delta_t"])
    if steps > MAX_STEPS:
        problems.add(
            f"Fields 'horizon' ({backpack['horizon']!r} h) and 'delta_t' ({backpack['delta_t']!r} "
            f"h) give {steps} steps; at most {MAX_STEPS:,} are allowed."
        )
        return None
    if steps < 1:
        problems.add(
            f"Field 'horizon' ({backpack['horizon']!r} h) is shorter than one step of "
            f"'delta_t' ({backpack['delta_t']!r} h)."
        )
        return None
    return steps


def _check_assets(
    problems: Problems, meters: Mapping[str, Mapping], key: str, length: int, storage: bool
) -> None:
    """Check the batteries (``btm_storage``) or vehicles (``btm_evs``) of every meter."""
    records: dict[str, Mapping] = {}
    for meter_id, meter in meters.items():
        assets = meter.get(key)
        if assets is None:
            continue
        if not isinstance(assets, Mapping):
            problems.add(
                f"Field '{key}' of meter {meter_id} must be a mapping of asset ids to "
                f"parameters or null (found {type(assets).__name__})."
            )
            continue
        for asset_id, params in assets.items():
            name = f"{meter_id}/{asset_id}"
            if not isinstance(params, Mapping):
                problems.add(f"Asset {name} in '{key}' must be a mapping of parameters.")
                continue
            records[name] = {k: as_sequence(v) for k, v in params.items()}
    if not records:
        return
    kind = "storage" if storage else "vehicle"
    fields = STORAGE_FIELDS if storage else EV_FIELDS
    missing = required(records, fields, kind)
    problems.extend(missing)
    complete = {k: r for k, r in records.items() if all(f in r for f in fields)}
    if complete and storage:
        _check_storages(problems, complete)
    elif complete:
        _check_vehicles(problems, complete, length)


def _efficiencies(
    problems: Problems, records: Mapping[str, Mapping], names: tuple[str, ...], kind: str
) -> None:
    """Report efficiencies outside (0, 1] (a non-finite value once, not by both checks)."""
    for name in names:
        values = {k: r[name] for k, r in records.items()}
        problems.extend(within(values, name, kind, 0.0, 1.0) or positive(values, name, kind))


def _check_storages(problems: Problems, records: Mapping[str, Mapping]) -> None:
    """Check the parameters of batteries that have every field (by ``meter/battery`` id)."""
    kind = "storage"

    def column(name: str) -> dict[str, Any]:
        return {k: r[name] for k, r in records.items()}

    problems.extend(positive(column("e_bn"), "e_bn", kind))
    for name in ("degradation_cost", "init_e", "p_max"):
        problems.extend(non_negative(column(name), name, kind))
    for name, bounds in STORAGE_RANGES.items():
        in_range(problems, column(name), name, kind, bounds)
    _efficiencies(problems, records, ("eff_bc", "eff_bd"), kind)
    for name in ("soc_min", "soc_max"):
        problems.extend(within(column(name), name, kind, 0.0, 100.0))
    _ordered(problems, records, "soc_min", "soc_max", kind)
    usable = {
        k: r
        for k, r in records.items()
        if all(is_finite_number(r[f]) for f in ("init_e", "e_bn", "soc_min", "soc_max"))
        and 0 < r["e_bn"] <= MAX_KWH  # other capacities are reported above, once
    }
    over = {k: r["init_e"] for k, r in usable.items() if r["init_e"] > r["e_bn"]}
    if over:
        problems.add(
            f"Field 'init_e' exceeds the capacity 'e_bn' for {len(over)} {kind}(s): "
            + ", ".join(f"{k} ({v!r})" for k, v in over.items())
            + "."
        )
    _initial_energy_within_soc(problems, {k: r for k, r in usable.items() if k not in over})


def _initial_energy_within_soc(problems: Problems, records: Mapping[str, Mapping]) -> None:
    """Report batteries whose ``init_e`` is outside [soc_min, soc_max] % of ``e_bn``.

    The reference's inputs always start inside these bounds; a start outside them can leave
    the first step's bounds out of reach (a MILP with no solution), typically because
    ``soc_min``/``soc_max`` were given as fractions instead of percent.
    """
    bad = []
    for k, r in records.items():
        low, high = r["soc_min"] * r["e_bn"] / 100.0, r["soc_max"] * r["e_bn"] / 100.0
        if low <= high and not low - 1e-9 <= r["init_e"] <= high + 1e-9:
            bad.append(f"{k} ({r['init_e']!r} kWh, bounds [{low:g}, {high:g}] kWh)")
    if bad:
        problems.add(
            f"Field 'init_e' is outside the state-of-charge bounds soc_min..soc_max (percent "
            f"of e_bn) for {len(bad)} storage(s): {', '.join(bad)}; soc_min and soc_max are "
            "percentages (0-100), not fractions."
        )


def _check_vehicles(problems: Problems, records: Mapping[str, Mapping], length: int) -> None:
    """Check the parameters of vehicles that have every field (by ``meter/vehicle`` id)."""
    kind = "vehicle"

    def column(name: str) -> dict[str, Any]:
        return {k: r[name] for k, r in records.items()}

    for name in ("trip_ev", "bin_ev"):
        problems.extend(series(column(name), name, kind, length))
    for name in ("min_energy_storage_ev", "init_e_ev", "pmax_c_ev", "pmax_d_ev"):
        problems.extend(non_negative(column(name), name, kind))
    problems.extend(positive(column("battery_capacity_ev"), "battery_capacity_ev", kind))
    for name, bounds in VEHICLE_RANGES.items():
        in_range(problems, column(name), name, kind, bounds)
    _efficiencies(problems, records, ("eff_bc_ev", "eff_bd_ev"), kind)
    _ordered(problems, records, "min_energy_storage_ev", "battery_capacity_ev", kind)
    _ordered(problems, records, "min_energy_storage_ev", "init_e_ev", kind)
    _ordered(problems, records, "init_e_ev", "battery_capacity_ev", kind)
    negative_trips = [k for k, r in records.items() if _has(r["trip_ev"], lambda x: x < 0)]
    if negative_trips:
        problems.add(f"Field 'trip_ev' is negative for vehicle(s) {', '.join(negative_trips)}.")
    not_binary = [k for k, r in records.items() if _has(r["bin_ev"], lambda x: x not in (0, 1))]
    if not_binary:
        problems.add(
            f"Field 'bin_ev' must hold 0 (away) or 1 (plugged in) for vehicle(s) "
            f"{', '.join(not_binary)}."
        )


def _has(values: Any, test: Callable[[float], bool]) -> bool:
    """Whether a list of finite numbers has a value passing ``test`` (False for other values)."""
    return isinstance(values, (list, tuple)) and any(
        is_finite_number(x) and test(x) for x in values
    )


def _ordered(problems: Problems, records: Mapping, low: str, high: str, kind: str) -> None:
    """Report records whose ``low`` field exceeds their ``high`` field."""
    bad = [
        f"{k} ({r[low]!r} > {r[high]!r})"
        for k, r in records.items()
        if is_finite_number(r[low]) and is_finite_number(r[high]) and r[low] > r[high]
    ]
    if bad:
        problems.add(f"Field '{low}' exceeds '{high}' for {len(bad)} {kind}(s): {', '.join(bad)}.")


def check_meters(
    problems: Problems, meters: Any, length: int, *, assets: bool, need_c_ind: bool
) -> bool:
    """Check the ``meters`` mapping; return True when it can be converted."""
    if not isinstance(meters, Mapping) or not meters:
        problems.add("Field 'meters' must be a non-empty mapping of meter ids to their data.")
        return False
    bad = [str(k) for k, m in meters.items() if not isinstance(m, Mapping)]
    if bad:
        problems.add(f"The data of meter(s) {', '.join(bad)} must be a mapping of fields.")
        return False
    _, same = text_keyed(meters)
    if same:
        problems.add(
            f"Meter ids {', '.join(same)} are given twice (as different keys with the same text, "
            "e.g. 1 and '1'); every meter needs its own id."
        )
        return False
    records = {str(k): {f: as_sequence(v) for f, v in m.items()} for k, m in meters.items()}
    fields = [*METER_SERIES, "max_p"] + (["c_ind"] if need_c_ind else [])
    problems.extend(required(records, fields, "meter"))
    for name in METER_SERIES:
        present = {k: r[name] for k, r in records.items() if name in r}
        wrong = series(present, name, "meter", length)
        problems.extend(wrong)
        if wrong:
            continue
        if name in ("e_c", "e_g"):  # energies; tariffs may be negative
            lowest = {k: min(v) for k, v in present.items() if len(v) and min(v) < 0}
            problems.extend(non_negative(lowest, name, "meter"))
        in_range(problems, present, name, "meter", METER_RANGES[name])
    max_p = {k: r["max_p"] for k, r in records.items() if "max_p" in r}
    problems.extend(positive(max_p, "max_p", "meter"))
    in_range(problems, max_p, "max_p", "meter", POWER_RANGE)
    if need_c_ind:
        c_ind = {k: r["c_ind"] for k, r in records.items() if "c_ind" in r}
        problems.extend(numbers(c_ind, "c_ind", "meter"))
        in_range(problems, c_ind, "c_ind", "meter", (-MAX_COST_EUR, MAX_COST_EUR))
    if assets:
        _check_assets(problems, records, "btm_storage", length, storage=True)
        _check_assets(problems, records, "btm_evs", length, storage=False)
    return True


def text_keyed(mapping: Mapping) -> tuple[dict[str, Any], list[str]]:
    """Return ``mapping`` keyed by the text of its keys, and the texts two keys share (1, "1")."""
    texts = [str(k) for k in mapping]
    return {str(k): v for k, v in mapping.items()}, sorted({t for t in texts if texts.count(t) > 1})


def check_bilateral_grid(
    problems: Problems, l_grid: Any, meter_ids: Sequence[str], length: int
) -> dict[tuple[str, str], Sequence]:
    """Check a bilateral ``l_grid[n][m]``: a list of ``length`` prices for every pair.

    Meters are matched by the text of their ids, as in ``meters`` (``l_grid[1][2]`` and
    ``l_grid["1"]["2"]`` name the same pair).

    Returns
    -------
    dict
        The price list of every ordered pair ``(n, m)`` of distinct meter ids found (EUR/kWh
        per step); complete when no problem was added.
    """
    if not isinstance(l_grid, Mapping):
        problems.add(
            "Field 'l_grid' must be a mapping l_grid[n][m] of lists (bilateral market), "
            f"found {type(l_grid).__name__}."
        )
        return {}
    rows, twice = text_keyed(l_grid)
    twice = [f"l_grid[{n}]" for n in twice]
    for n, row in list(rows.items()):
        if isinstance(row, Mapping):
            rows[n], same = text_keyed(row)
            twice += [f"l_grid[{n}][{m}]" for m in same]
    if twice:
        problems.add(
            f"Field 'l_grid' names a meter twice, as a number and as text: {', '.join(twice)}."
        )
    known = set(meter_ids)
    unknown = sorted(
        {n for n in rows if n not in known}
        | {m for row in rows.values() if isinstance(row, Mapping) for m in row if m not in known}
    )
    if unknown:
        problems.add(f"Field 'l_grid' names meters that are not in 'meters': {', '.join(unknown)}.")
    pairs: dict[tuple[str, str], Sequence] = {}
    missing = []
    for n in meter_ids:
        row = rows.get(n)
        for m in meter_ids:
            if m == n:
                continue
            if not isinstance(row, Mapping) or m not in row:
                missing.append(f"l_grid[{n}][{m}]")
            else:
                pairs[n, m] = as_sequence(row[m])
    if missing:
        problems.add(
            f"Field 'l_grid' lacks {len(missing)} pair(s) of meters: {', '.join(missing[:5])}"
            + (" ..." if len(missing) > 5 else "")
            + "."
        )
    named = {f"{n}->{m}": prices for (n, m), prices in pairs.items()}
    wrong = series(named, "l_grid", "meter pair", length)
    problems.extend(wrong)
    if not wrong:
        in_range(problems, named, "l_grid", "meter pair", PRICE_RANGE)
    return pairs


def check_run_options(mipgap: Any = None, timeout: Any = None, engine: Any = None) -> None:
    """Check the solver options a function of :mod:`dec.rec` takes besides its backpack.

    Raises
    ------
    InputError
        Unless ``mipgap`` is None or a number in [0, 1], ``timeout`` None or a positive
        number of seconds, and ``engine`` None or an engine (an object with ``map``).
    """
    problems = Problems("options")
    if mipgap is not None and not (is_finite_number(mipgap) and 0.0 <= mipgap <= 1.0):
        problems.add(f"Option 'mipgap' must be a number from 0 to 1 or None (found {mipgap!r}).")
    if timeout is not None and not (is_finite_number(timeout) and timeout > 0):
        problems.add(
            f"Option 'timeout' must be a positive number of seconds or None (found {timeout!r})."
        )
    if engine is not None and not callable(getattr(engine, "map", None)):
        problems.add(
            f"Option 'engine' must be an engine of dec.admm.engine or None (found {engine!r})."
        )
    problems.raise_if_any()


def require_top(problems: Problems, backpack: Any, keys: Sequence[str]) -> bool:
    """Check that ``backpack`` is a dictionary holding ``keys``; return whether it does."""
    if not isinstance(backpack, Mapping):
        problems.add(f"The input must be a dictionary (found {type(backpack).__name__}).")
        return False
    missing = [k for k in keys if k not in backpack]
    if missing:
        of = f" of meter {backpack['id']}" if "id" in backpack else ""
        problems.add(f"Missing field(s){of}: {', '.join(repr(k) for k in missing)}.")
    return not missing
