"""Input dictionaries ("backpacks") of the REC functions, converted to arrays.

The public functions of :mod:`dec.rec` take the dictionaries of rec_op_lem_prices
(same keys, same units: energies in kWh per step, tariffs in EUR/kWh, powers in kW,
state of charge in percent). The parsers here run the checks of :mod:`dec.rec.checks`
on every field, before any model is built, and report every problem at once in one
:class:`~dec.errors.InputError` (a ``ValueError``) naming the meter (or storage) and
the field. The caller's dictionaries and lists are only read, never modified: the
solvers work on the numpy arrays of a :class:`RecData`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from dec.rec.checks import (
    COST_RANGE,
    DELTA_T_RANGE_H,
    MAX_STEPS,
    METER_SERIES,
    POST_METER_RANGES,
    POWER_RANGE,
    STORAGE_FIELDS,
    as_sequence,
    check_bilateral_grid,
    check_meters,
    flag,
    horizon_steps,
    in_range,
    n_steps,
    require_top,
    top_number,
    top_series,
)
from dec.validation import Problems, positive, series

Market = Literal["pool", "bilateral"]

#: Where messages say the problem is.
SOURCE = "backpack"


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
    if not require_top(problems, backpack, keys):
        problems.raise_if_any()
    length = horizon_steps(problems, backpack)
    problems.raise_if_any()
    top_number(problems, backpack, "l_extra", "non_negative", COST_RANGE)
    for key in ("l_market_buy", "l_market_sell") + (("l_lem",) if need_l_lem else ()):
        top_series(problems, backpack, key, length)
    meters = backpack["meters"]
    usable = check_meters(problems, meters, length, assets=assets, need_c_ind=need_c_ind)
    pairs: dict[tuple[str, str], Sequence] = {}
    if market == "pool":
        top_series(problems, backpack, "l_grid", length)
    elif usable:
        pairs = check_bilateral_grid(problems, backpack["l_grid"], [str(k) for k in meters], length)
    strict = flag(problems, backpack, "strict_pos_coeffs")
    share = flag(problems, backpack, "total_share_coeffs")
    problems.raise_if_any()

    ids = tuple(str(k) for k in meters)
    if market == "pool":
        l_grid = np.asarray(backpack["l_grid"], dtype=float)
    else:
        l_grid = np.zeros((len(ids), len(ids), length))
        for i, n in enumerate(ids):
            for j, m in enumerate(ids):
                if i != j:
                    l_grid[i, j] = np.asarray(pairs[n, m], dtype=float)
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
    if not require_top(problems, backpack, INDIVIDUAL_KEYS):
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
    if not require_top(problems, backpack, POST_INDIVIDUAL_KEYS):
        problems.raise_if_any()
    meter = str(backpack["id"])
    top_number(problems, backpack, "delta_t", "positive", DELTA_T_RANGE_H)
    top_number(problems, backpack, "l_extra", "non_negative", COST_RANGE)
    # the steps: the length most of the lists share, so that the odd one is the one named
    lengths = [
        len(value)
        for value in (as_sequence(backpack[k]) for k in POST_SERIES)
        if isinstance(value, (list, tuple))
    ]
    length = max(lengths, key=lengths.count) if lengths else None
    for key, bounds in POST_METER_RANGES.items():
        values = {meter: as_sequence(backpack[key])}
        wrong = series(values, key, "meter", length)
        problems.extend(wrong)
        if not wrong:
            in_range(problems, values, key, "meter", bounds)
    for key in ("l_market_buy", "l_market_sell"):
        if length is not None:
            top_series(problems, backpack, key, length)
    problems.extend(positive({meter: backpack["max_p"]}, "max_p", "meter"))
    in_range(problems, {meter: backpack["max_p"]}, "max_p", "meter", POWER_RANGE)
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
