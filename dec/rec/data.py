"""Input dictionaries ("backpacks") of the REC functions: validation and conversion to arrays.

The public functions of :mod:`dec.rec` take the dictionaries of rec_op_lem_prices
(same keys, same units: energies in kWh per step, tariffs in EUR/kWh, powers in kW,
state of charge in percent). Every field is checked here, before any model is built,
and every problem is reported at once in one :class:`~dec.errors.InputError` (a
``ValueError``) naming the meter (or storage) and the field. The caller's
dictionaries and lists are only read, never modified: the solvers work on the
numpy arrays of a :class:`RecData`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

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

Market = Literal["pool", "bilateral"]

#: Where messages say the problem is.
SOURCE = "backpack"

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


@dataclass(frozen=True)
class Storages:
    """Behind-the-meter batteries of all members, one entry per battery (struct of arrays).

    Attributes
    ----------
    owner
        Index of the owning meter, shape (B,).
    storage_id
        Battery ids as given (unique per meter).
    degradation_cost
        EUR per kWh discharged.
    e_bn
        Nominal capacity, kWh (> 0).
    eff_bc, eff_bd
        Charging and discharging efficiencies in (0, 1].
    init_e
        Energy content before the first step, kWh.
    p_max
        Charge and discharge power limit, kW.
    soc_min, soc_max
        State-of-charge limits, percent of ``e_bn``.

    """

    owner: np.ndarray
    storage_id: tuple[str, ...]
    degradation_cost: np.ndarray
    e_bn: np.ndarray
    eff_bc: np.ndarray
    eff_bd: np.ndarray
    init_e: np.ndarray
    p_max: np.ndarray
    soc_min: np.ndarray
    soc_max: np.ndarray

    @property
    def count(self) -> int:
        """Number of batteries."""
        return len(self.storage_id)


@dataclass(frozen=True)
class Evs:
    """Behind-the-meter electric vehicles of all members (bilateral MILP of the reference).

    Attributes
    ----------
    owner
        Index of the owning meter, shape (V,).
    ev_id
        Vehicle ids as given.
    trip_kwh
        Energy used by trips per step, kWh, shape (V, T).
    min_e_kwh, capacity_kwh
        Minimum and maximum energy content, kWh.
    eff_bc, eff_bd
        Charging and discharging efficiencies in (0, 1].
    init_e_kwh
        Energy content before the first step, kWh.
    pmax_c_kw, pmax_d_kw
        Charging and discharging power limits, kW.
    plugged
        1 when the vehicle is plugged in, shape (V, T).

    """

    owner: np.ndarray
    ev_id: tuple[str, ...]
    trip_kwh: np.ndarray
    min_e_kwh: np.ndarray
    capacity_kwh: np.ndarray
    eff_bc: np.ndarray
    eff_bd: np.ndarray
    init_e_kwh: np.ndarray
    pmax_c_kw: np.ndarray
    pmax_d_kw: np.ndarray
    plugged: np.ndarray

    @property
    def count(self) -> int:
        """Number of vehicles."""
        return len(self.ev_id)


@dataclass(frozen=True)
class RecData:
    """Validated numerical data of one MILP: N meters over T steps.

    Attributes
    ----------
    meter_ids
        Meter ids in the order of the input dictionary.
    delta_t
        Step length, h.
    e_c, e_g
        Consumption and generation per step, kWh, shape (N, T).
    l_buy, l_sell
        Retail buying and feed-in tariffs, EUR/kWh, shape (N, T).
    max_p
        Power limit at each meter, kW, shape (N,).
    l_market_buy, l_market_sell
        Market-indexed tariffs, EUR/kWh, shape (T,).
    l_extra
        Penalty of power beyond ``max_p``, EUR/kW per step.
    storages, evs
        Behind-the-meter assets.
    l_grid
        Grid tariff of self-consumed community energy, EUR/kWh: shape (T,) for a pool,
        (N, N, T) for bilateral contracts (the diagonal is unused); None in stage 1.
    l_lem
        Local market price, EUR/kWh, shape (T,); None when not needed.
    c_ind
        Stage-1 cost of each meter, EUR, shape (N,): the stage-2 bound of two-stage runs;
        None for single-stage runs (no bound).
    strict_pos_coeffs, total_share_coeffs
        Portuguese REC rules on sharing coefficients (see :mod:`dec.rec.model`).

    """

    meter_ids: tuple[str, ...]
    delta_t: float
    e_c: np.ndarray
    e_g: np.ndarray
    l_buy: np.ndarray
    l_sell: np.ndarray
    max_p: np.ndarray
    l_market_buy: np.ndarray
    l_market_sell: np.ndarray
    l_extra: float
    storages: Storages
    evs: Evs
    l_grid: np.ndarray | None = None
    l_lem: np.ndarray | None = None
    c_ind: np.ndarray | None = None
    strict_pos_coeffs: bool = False
    total_share_coeffs: bool = False

    @property
    def n_meters(self) -> int:
        """Number of meters N."""
        return len(self.meter_ids)

    @property
    def n_steps(self) -> int:
        """Number of steps T."""
        return self.e_c.shape[1]

    def member(self, index: int) -> RecData:
        """Return the data of one meter alone (for its individual MILP)."""
        keep_b = self.storages.owner == index
        keep_v = self.evs.owner == index
        return replace(
            self,
            meter_ids=(self.meter_ids[index],),
            e_c=self.e_c[index : index + 1],
            e_g=self.e_g[index : index + 1],
            l_buy=self.l_buy[index : index + 1],
            l_sell=self.l_sell[index : index + 1],
            max_p=self.max_p[index : index + 1],
            storages=_subset(self.storages, keep_b, "storage_id"),
            evs=_subset(self.evs, keep_v, "ev_id"),
            l_grid=None,
            l_lem=None,
            c_ind=None,
        )


def _subset(assets: Any, keep: np.ndarray, id_field: str) -> Any:
    changes = {}
    for name in assets.__dataclass_fields__:
        value = getattr(assets, name)
        if name == id_field:
            changes[name] = tuple(v for v, k in zip(value, keep, strict=True) if k)
        elif name == "owner":
            changes[name] = np.zeros(int(keep.sum()), dtype=int)
        else:
            changes[name] = value[keep]
    return replace(assets, **changes)


# --- reading helpers -------------------------------------------------------------------------


def _as_sequence(value: Any) -> Any:
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


def _in_range(
    problems: Problems, values: Mapping[str, Any], field: str, kind: str, bounds: tuple
) -> None:
    """Report the keys whose value (or a value of whose list) is outside ``bounds``."""
    low, high = bounds
    problems.extend(within(_outside(values, low, high), field, kind, low, high))


def _top_series(
    problems: Problems, backpack: Mapping, key: str, length: int, bounds: tuple = PRICE_RANGE
) -> None:
    """Check a top-level list of ``length`` finite numbers within ``bounds``."""
    value = _as_sequence(backpack[key])
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


def _top_number(
    problems: Problems,
    backpack: Mapping,
    key: str,
    rule: str = "number",
    bounds: tuple | None = None,
) -> None:
    value = backpack[key]
    if not is_finite_number(value):
        problems.add(f"Field '{key}' is not a finite number (found {value!r}).")
    elif rule == "positive" and value <= 0:
        problems.add(f"Field '{key}' must be greater than zero (found {value!r}).")
    elif rule == "non_negative" and value < 0:
        problems.add(f"Field '{key}' must be zero or more (found {value!r}).")
    elif bounds is not None and not bounds[0] <= value <= bounds[1]:
        problems.add(f"Field '{key}' is outside {interval(*bounds)} (found {value!r}).")


def _flag(problems: Problems, backpack: Mapping, key: str) -> bool:
    value = backpack.get(key, False)
    if value is None:
        return False
    if not isinstance(value, (bool, np.bool_)):
        problems.add(f"Field '{key}' must be true or false (found {value!r}).")
        return False
    return bool(value)


def _horizon_steps(problems: Problems, backpack: Mapping) -> int | None:
    """Check ``delta_t`` and ``horizon`` and return the number of steps (None if unusable)."""
    _top_number(problems, backpack, "delta_t", "positive", DELTA_T_RANGE_H)
    _top_number(problems, backpack, "horizon", "positive")
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
            records[name] = {k: _as_sequence(v) for k, v in params.items()}
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


def _check_storages(problems: Problems, records: Mapping[str, Mapping]) -> None:
    """Check the parameters of batteries that have every field (by ``meter/battery`` id)."""
    kind = "storage"

    def column(name: str) -> dict[str, Any]:
        return {k: r[name] for k, r in records.items()}

    problems.extend(positive(column("e_bn"), "e_bn", kind))
    for name in ("degradation_cost", "init_e", "p_max"):
        problems.extend(non_negative(column(name), name, kind))
    for name, bounds in STORAGE_RANGES.items():
        _in_range(problems, column(name), name, kind, bounds)
    for name in ("eff_bc", "eff_bd"):
        problems.extend(within(column(name), name, kind, 0.0, 1.0))
        problems.extend(positive(column(name), name, kind))
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
        _in_range(problems, column(name), name, kind, bounds)
    for name in ("eff_bc_ev", "eff_bd_ev"):
        problems.extend(within(column(name), name, kind, 0.0, 1.0))
        problems.extend(positive(column(name), name, kind))
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


def _check_meters(
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
    texts = [str(k) for k in meters]
    same = sorted({t for t in texts if texts.count(t) > 1})
    if same:
        problems.add(
            f"Meter ids {', '.join(same)} are given twice (as different keys with the same text, "
            "e.g. 1 and '1'); every meter needs its own id."
        )
        return False
    records = {str(k): {f: _as_sequence(v) for f, v in m.items()} for k, m in meters.items()}
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
        _in_range(problems, present, name, "meter", METER_RANGES[name])
    max_p = {k: r["max_p"] for k, r in records.items() if "max_p" in r}
    problems.extend(positive(max_p, "max_p", "meter"))
    _in_range(problems, max_p, "max_p", "meter", POWER_RANGE)
    if need_c_ind:
        c_ind = {k: r["c_ind"] for k, r in records.items() if "c_ind" in r}
        problems.extend(numbers(c_ind, "c_ind", "meter"))
        _in_range(problems, c_ind, "c_ind", "meter", (-MAX_COST_EUR, MAX_COST_EUR))
    if assets:
        _check_assets(problems, records, "btm_storage", length, storage=True)
        _check_assets(problems, records, "btm_evs", length, storage=False)
    return True


def _check_bilateral_grid(problems: Problems, l_grid: Any, meter_ids: Sequence[str], length: int):
    if not isinstance(l_grid, Mapping):
        problems.add(
            "Field 'l_grid' must be a mapping l_grid[n][m] of lists (bilateral market), "
            f"found {type(l_grid).__name__}."
        )
        return
    known = set(meter_ids)
    unknown = sorted(
        {str(n) for n in l_grid if str(n) not in known}
        | {
            str(m)
            for row in l_grid.values()
            if isinstance(row, Mapping)
            for m in row
            if str(m) not in known
        }
    )
    if unknown:
        problems.add(f"Field 'l_grid' names meters that are not in 'meters': {', '.join(unknown)}.")
    pairs: dict[str, Any] = {}
    missing = []
    for n in meter_ids:
        row = l_grid.get(n)
        for m in meter_ids:
            if m == n:
                continue
            if not isinstance(row, Mapping) or m not in row:
                missing.append(f"l_grid[{n}][{m}]")
            else:
                pairs[f"{n}->{m}"] = _as_sequence(row[m])
    if missing:
        problems.add(
            f"Field 'l_grid' lacks {len(missing)} pair(s) of meters: {', '.join(missing[:5])}"
            + (" ..." if len(missing) > 5 else "")
            + "."
        )
    wrong = series(pairs, "l_grid", "meter pair", length)
    problems.extend(wrong)
    if not wrong:
        _in_range(problems, pairs, "l_grid", "meter pair", PRICE_RANGE)


# --- conversion ------------------------------------------------------------------------------


def _matrix(meters: Mapping[str, Mapping], key: str) -> np.ndarray:
    return np.array([np.asarray(m[key], dtype=float) for m in meters.values()], dtype=float)


def _asset_rows(meters: Mapping[str, Mapping], key: str, with_assets: bool) -> list[tuple]:
    """(meter index, asset id, parameters) of every asset under ``key``, in input order."""
    if not with_assets:
        return []
    return [
        (index, str(asset_id), params)
        for index, meter in enumerate(meters.values())
        for asset_id, params in (meter.get(key) or {}).items()
    ]


def _storages(meters: Mapping[str, Mapping], with_assets: bool) -> Storages:
    rows = _asset_rows(meters, "btm_storage", with_assets)
    return Storages(
        owner=np.array([r[0] for r in rows], dtype=int),
        storage_id=tuple(r[1] for r in rows),
        **{name: np.array([float(r[2][name]) for r in rows]) for name in STORAGE_FIELDS},
    )


def _evs(meters: Mapping[str, Mapping], with_assets: bool, length: int) -> Evs:
    rows = _asset_rows(meters, "btm_evs", with_assets)

    def col(name: str) -> np.ndarray:
        return np.array([float(r[2][name]) for r in rows], dtype=float)

    def mat(name: str) -> np.ndarray:
        return np.array([np.asarray(r[2][name], dtype=float) for r in rows]).reshape(
            len(rows), length
        )

    return Evs(
        owner=np.array([r[0] for r in rows], dtype=int),
        ev_id=tuple(r[1] for r in rows),
        trip_kwh=mat("trip_ev"),
        min_e_kwh=col("min_energy_storage_ev"),
        capacity_kwh=col("battery_capacity_ev"),
        eff_bc=col("eff_bc_ev"),
        eff_bd=col("eff_bd_ev"),
        init_e_kwh=col("init_e_ev"),
        pmax_c_kw=col("pmax_c_ev"),
        pmax_d_kw=col("pmax_d_ev"),
        plugged=mat("bin_ev"),
    )


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


def _require_top(problems: Problems, backpack: Any, keys: Sequence[str]) -> bool:
    if not isinstance(backpack, Mapping):
        problems.add(f"The input must be a dictionary (found {type(backpack).__name__}).")
        return False
    missing = [k for k in keys if k not in backpack]
    if missing:
        of = f" of meter {backpack['id']}" if "id" in backpack else ""
        problems.add(f"Missing field(s){of}: {', '.join(repr(k) for k in missing)}.")
    return not missing


def parse_collective(
    backpack: Mapping[str, Any],
    market: Market,
    *,
    assets: bool = True,
    need_l_lem: bool = False,
    need_c_ind: bool = False,
) -> RecData:
    """Validate a collective backpack and return its arrays.

    Parameters
    ----------
    backpack
        The rec_op_lem_prices input dictionary (``meters``, ``delta_t``, ``horizon``,
        ``l_extra``, ``l_grid``, ``l_market_buy``, ``l_market_sell``, optional
        ``l_lem``, ``strict_pos_coeffs``, ``total_share_coeffs``).
    market
        ``"pool"`` (``l_grid`` is a list per step) or ``"bilateral"`` (``l_grid[n][m]``).
    assets
        Read the meters' ``btm_storage`` (and ``btm_evs``); False for post-delivery
        data, where storage already acted and is ignored.
    need_l_lem
        ``l_lem`` is required.
    need_c_ind
        Each meter's ``c_ind`` is required (second stage of a two-stage run).

    Raises
    ------
    InputError
        Listing every problem found (a ``ValueError``).

    """
    problems = Problems(SOURCE)
    keys = ["meters", "delta_t", "horizon", "l_extra", "l_grid", "l_market_buy", "l_market_sell"]
    if need_l_lem:
        keys.append("l_lem")
    if not _require_top(problems, backpack, keys):
        problems.raise_if_any()
    length = _horizon_steps(problems, backpack)
    problems.raise_if_any()
    _top_number(problems, backpack, "l_extra", "non_negative", COST_RANGE)
    for key in ("l_market_buy", "l_market_sell") + (("l_lem",) if need_l_lem else ()):
        _top_series(problems, backpack, key, length)
    meters = backpack["meters"]
    usable = _check_meters(problems, meters, length, assets=assets, need_c_ind=need_c_ind)
    if market == "pool":
        _top_series(problems, backpack, "l_grid", length)
    elif usable:
        _check_bilateral_grid(problems, backpack["l_grid"], [str(k) for k in meters], length)
    strict = _flag(problems, backpack, "strict_pos_coeffs")
    share = _flag(problems, backpack, "total_share_coeffs")
    problems.raise_if_any()

    ids = tuple(str(k) for k in meters)
    if market == "pool":
        l_grid = np.asarray(backpack["l_grid"], dtype=float)
    else:
        l_grid = np.zeros((len(ids), len(ids), length))
        for i, n in enumerate(meters):
            for j, m in enumerate(meters):
                if i != j:
                    l_grid[i, j] = np.asarray(backpack["l_grid"][n][m], dtype=float)
    return RecData(
        meter_ids=ids,
        delta_t=float(backpack["delta_t"]),
        e_c=_matrix(meters, "e_c"),
        e_g=_matrix(meters, "e_g"),
        l_buy=_matrix(meters, "l_buy"),
        l_sell=_matrix(meters, "l_sell"),
        max_p=np.array([float(m["max_p"]) for m in meters.values()]),
        l_market_buy=np.asarray(backpack["l_market_buy"], dtype=float),
        l_market_sell=np.asarray(backpack["l_market_sell"], dtype=float),
        l_extra=float(backpack["l_extra"]),
        storages=_storages(meters, assets),
        evs=_evs(meters, assets, length),
        l_grid=l_grid,
        l_lem=np.asarray(backpack["l_lem"], dtype=float) if need_l_lem else None,
        c_ind=np.array([float(m["c_ind"]) for m in meters.values()]) if need_c_ind else None,
        strict_pos_coeffs=strict,
        total_share_coeffs=share,
    )


INDIVIDUAL_KEYS = (
    "id",
    "delta_t",
    "horizon",
    "e_c",
    "e_g",
    "l_buy",
    "l_sell",
    "l_extra",
    "l_market_buy",
    "l_market_sell",
    "max_p",
)


def parse_individual(backpack: Mapping[str, Any]) -> RecData:
    """Validate the flat backpack of one meter's pre-delivery MILP and return its arrays.

    Raises
    ------
    InputError
        Listing every problem found (a ``ValueError``), naming the meter ``id``.

    """
    problems = Problems(SOURCE)
    if not _require_top(problems, backpack, INDIVIDUAL_KEYS):
        problems.raise_if_any()
    collective = {
        "meters": {
            str(backpack["id"]): {
                k: backpack[k] for k in (*METER_SERIES, "max_p", "btm_storage") if k in backpack
            }
        },
        "l_grid": [0.0] * max(1, _safe_steps(backpack)),
        **{
            k: backpack[k]
            for k in ("delta_t", "horizon", "l_extra", "l_market_buy", "l_market_sell")
        },
    }
    return replace(parse_collective(collective, "pool"), l_grid=None)


def _safe_steps(backpack: Mapping[str, Any]) -> int:
    try:
        return min(n_steps(backpack["horizon"], backpack["delta_t"]), MAX_STEPS)
    except (TypeError, ZeroDivisionError, ValueError, OverflowError):
        return 1  # the collective validation names the bad horizon or delta_t


@dataclass(frozen=True)
class PostIndividual:
    """Validated measured data of one meter (post-delivery individual cost)."""

    meter_id: str
    delta_t: float
    e_met: np.ndarray
    l_buy: np.ndarray
    l_sell: np.ndarray
    l_market_buy: np.ndarray
    l_market_sell: np.ndarray
    max_p: float
    l_extra: float


#: The per-step lists of a post-delivery individual backpack.
POST_SERIES = ("e_met", "l_buy", "l_sell", "l_market_buy", "l_market_sell")

POST_INDIVIDUAL_KEYS = (
    "id",
    "delta_t",
    "e_met",
    "l_buy",
    "l_sell",
    "l_extra",
    "l_market_buy",
    "l_market_sell",
    "max_p",
)


def parse_post_individual(backpack: Mapping[str, Any]) -> PostIndividual:
    """Validate the flat backpack of a post-delivery individual cost.

    All lists must have one length, the number of steps (there is no ``horizon`` key).

    Raises
    ------
    InputError
        Listing every problem found (a ``ValueError``), naming the meter ``id``.

    """
    problems = Problems(SOURCE)
    if not _require_top(problems, backpack, POST_INDIVIDUAL_KEYS):
        problems.raise_if_any()
    meter = str(backpack["id"])
    _top_number(problems, backpack, "delta_t", "positive", DELTA_T_RANGE_H)
    _top_number(problems, backpack, "l_extra", "non_negative", COST_RANGE)
    # the steps: the length most of the lists share, so that the odd one is the one named
    lengths = [
        len(value)
        for value in (_as_sequence(backpack[k]) for k in POST_SERIES)
        if isinstance(value, (list, tuple))
    ]
    length = max(lengths, key=lengths.count) if lengths else None
    for key, bounds in POST_METER_RANGES.items():
        values = {meter: _as_sequence(backpack[key])}
        wrong = series(values, key, "meter", length)
        problems.extend(wrong)
        if not wrong:
            _in_range(problems, values, key, "meter", bounds)
    for key in ("l_market_buy", "l_market_sell"):
        if length is not None:
            _top_series(problems, backpack, key, length)
    problems.extend(positive({meter: backpack["max_p"]}, "max_p", "meter"))
    _in_range(problems, {meter: backpack["max_p"]}, "max_p", "meter", POWER_RANGE)
    problems.raise_if_any()
    return PostIndividual(
        meter_id=meter,
        delta_t=float(backpack["delta_t"]),
        e_met=np.asarray(backpack["e_met"], dtype=float),
        l_buy=np.asarray(backpack["l_buy"], dtype=float),
        l_sell=np.asarray(backpack["l_sell"], dtype=float),
        l_market_buy=np.asarray(backpack["l_market_buy"], dtype=float),
        l_market_sell=np.asarray(backpack["l_market_sell"], dtype=float),
        max_p=float(backpack["max_p"]),
        l_extra=float(backpack["l_extra"]),
    )
