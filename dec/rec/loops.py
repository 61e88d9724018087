"""The overarching LEM pricing algorithms of rec_op_lem_prices (pre- and post-delivery).

Pre-delivery (iterative): offers are made from the meters' net loads, every session
is priced by a mechanism, the two-stage collective MILP is solved with those prices
and the scheduled net loads make the next offers. The loop keeps the prices of the
best objective and stops when the new prices are within a Euclidean distance of
0.01 EUR/kWh of any earlier price vector (a fixed point or a cycle), or after 20
MILPs. Stage 1 does not depend on the prices, so it is solved once, and the stage-2
MILP is compiled once and re-solved with each new price vector.

Post-delivery (two passes): prices from the measured net loads, the two-stage MILP,
prices again from the scheduled net loads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from dec.admm.engine import Engine
from dec.rec.data import Market, RecData, parse_collective
from dec.rec.outputs import post_outputs
from dec.rec.pricing import (
    check_flag,
    check_fraction,
    check_number,
    compute_crossing_value,
    compute_mmr,
    compute_pruned_mmr,
    compute_pruned_sdr,
    compute_sdr,
    make_offers,
    stop_criterion,
)
from dec.rec.stages import CollectiveSolver, post_stage_one, solve_stage_one

#: Price vector the pre-delivery loop starts from, EUR/kWh.
START_PRICE = 10.0
#: Stage-2 objective the loop starts from, and the best objective it must beat.
START_OBJECTIVE, START_BEST = 1e6, 1e5
MAX_ITERATIONS = 20
PRICE_TOLERANCE = 0.01

PricingFunc = Callable[[list, list], float]


def pricing_function(
    mechanism: str,
    pruned: bool = True,
    divider: float = 0.5,
    compensation: float = 0.0,
    small_increment: float = 0.0,
) -> PricingFunc:
    """Return the session pricing of a mechanism (``mmr``, ``sdr`` or ``crossing_value``).

    Raises
    ------
    InputError
        For a divider or compensation outside [0, 1].

    """
    check_flag(pruned, "pruned")
    check_number(small_increment, "small_increment")
    if mechanism == "mmr":
        check_fraction(divider, "divider")
        return partial(compute_pruned_mmr if pruned else compute_mmr, divider=divider)
    if mechanism == "sdr":
        check_fraction(compensation, "compensation")
        return partial(compute_pruned_sdr if pruned else compute_sdr, compensation=compensation)
    return partial(compute_crossing_value, small_increment=small_increment)


@dataclass
class LoopTrace:
    """What each iteration of a pricing loop produced (for reports and plots).

    Attributes
    ----------
    prices
        LEM prices of each iteration, EUR/kWh.
    objectives
        Stage-2 objective of each iteration, EUR.
    distances
        Smallest distance of each new price vector to the earlier ones (None first).
    time_limit
        Why the last stage-2 outputs are not proven optimal (a MILP kept at its time
        limit, which ends a pre-delivery loop), else None.

    """

    prices: list[list[float]] = field(default_factory=list)
    objectives: list[float] = field(default_factory=list)
    distances: list[float | None] = field(default_factory=list)
    time_limit: str | None = None


def _offers(data: RecData, e_met: np.ndarray) -> tuple[list, list]:
    meters = {
        meter_id: {
            "e_met": e_met[i].tolist(),
            "l_buy": data.l_buy[i].tolist(),
            "l_sell": data.l_sell[i].tolist(),
        }
        for i, meter_id in enumerate(data.meter_ids)
    }
    return make_offers(
        meters, data.n_steps, data.l_market_buy.tolist(), data.l_market_sell.tolist()
    )


def _price(data: RecData, e_met: np.ndarray, pricing: PricingFunc) -> list[float]:
    buys, sells = _offers(data, e_met)
    return [float(pricing(buys[t], sells[t])) for t in range(data.n_steps)]


def _net_loads(outputs: Mapping[str, Any], data: RecData) -> np.ndarray:
    return np.array([outputs["e_cmet"][meter_id] for meter_id in data.meter_ids], dtype=float)


def pre_delivery_loop(
    backpack: Mapping[str, Any],
    market: Market,
    pricing: PricingFunc,
    engine: Engine | None = None,
    trace: LoopTrace | None = None,
    max_iterations: int = MAX_ITERATIONS,
    keep_incumbent: bool = False,
    **solver_options: Any,
) -> tuple[list[float], float | None, int, tuple[dict, list[dict]] | None]:
    """Run the iterative pre-delivery pricing algorithm.

    Parameters
    ----------
    backpack
        Collective pre-delivery backpack (no ``l_lem``).
    market
        ``pool`` or ``bilateral``.
    pricing
        Prices one session from its buy and sell offers.
    engine
        Where the stage-1 MILPs run.
    trace
        Filled with every iteration's prices, objective and distance when given.
    max_iterations
        MILPs solved at most (20 in the reference).
    keep_incumbent
        A stage-2 MILP that reaches its time limit with a solution keeps it and ends
        the loop (criterion None, the reason in ``trace.time_limit``) instead of raising
        :class:`~dec.errors.SolverLimit`.
    solver_options
        ``time_limit_s``, ``mip_rel_gap`` for :class:`~dec.rec.solve.ModelSolver`.

    Returns
    -------
    tuple
        ``(best_l_lem, criterion, iterations, (stage2, stage1_list))``: the prices of
        the best objective, the stopping distance rounded to 3 decimals (None when the
        loop stopped at ``max_iterations`` or at a time limit), the number of MILPs
        solved and the two-stage outputs of the best iteration.

    """
    data = parse_collective(backpack, market)
    stage1 = solve_stage_one(data, engine, **solver_options)
    c_ind = [out["c_ind"] for out in stage1]
    solver = CollectiveSolver(
        data, market, bounded=True, keep_incumbent=keep_incumbent, **solver_options
    )
    e_met = data.e_c - data.e_g
    l_lem = [START_PRICE] * data.n_steps
    history: list[list[float]] = []
    objective, best_objective = START_OBJECTIVE, START_BEST
    best_l_lem, best_result, result = list(l_lem), None, None
    iterations, criterion = 0, None
    while True:
        if objective < best_objective:
            best_objective, best_l_lem, best_result = objective, list(l_lem), result
        if solver.time_limit_reached is not None:
            break
        stop = False
        distances = []
        for previous in history:
            stop, criterion = stop_criterion(previous, l_lem, PRICE_TOLERANCE)
            distances.append(criterion)
            if stop:
                break
        if trace is not None and history:
            trace.distances.append(min(distances))
        if stop:
            break
        iterations += 1
        if iterations > max_iterations:
            break
        history.append(l_lem)
        l_lem = _price(data, e_met, pricing)
        stage2 = solver.solve(l_lem, c_ind)
        result = (stage2, stage1)
        e_met = _net_loads(stage2, data)
        objective = stage2["obj_value"]
        if trace is not None:
            trace.prices.append(l_lem)
            trace.objectives.append(objective)
    if best_result is None:  # no objective below START_BEST: keep the last iteration
        best_l_lem, best_result = list(l_lem), result
    if trace is not None:
        trace.time_limit = solver.time_limit_reached
    if iterations > max_iterations or solver.time_limit_reached is not None:
        return best_l_lem, None, min(iterations, max_iterations), best_result
    return best_l_lem, round(criterion, 3), iterations, best_result


def post_delivery_loop(
    backpack: Mapping[str, Any],
    market: Market,
    pricing: PricingFunc,
    trace: LoopTrace | None = None,
    keep_incumbent: bool = False,
    **solver_options: Any,
) -> tuple[list[float], tuple[dict, list[dict]]]:
    """Run the post-delivery pricing algorithm (two passes, no convergence test).

    ``keep_incumbent``: a stage-2 MILP that reaches its time limit with a solution
    keeps it (the reason in ``trace.time_limit``) instead of raising
    :class:`~dec.errors.SolverLimit`.

    Returns
    -------
    tuple
        ``(l_lem, (stage2, stage1_list))``: the prices of the scheduled net loads and
        the two-stage outputs solved with the prices of the measured net loads.

    """
    data = parse_collective(backpack, market, assets=False)
    stage1 = post_stage_one(data)
    solver = CollectiveSolver(
        data, market, bounded=True, measured=True, keep_incumbent=keep_incumbent, **solver_options
    )
    l_lem = _price(data, data.e_c - data.e_g, pricing)
    stage2 = solver.solve(l_lem, [out["c_ind"] for out in stage1])
    if trace is not None:
        trace.prices.append(l_lem)
        trace.objectives.append(stage2["obj_value"])
        trace.time_limit = solver.time_limit_reached
    final = _price(data, _net_loads(stage2, data), pricing)
    return final, (post_outputs(stage2, market), stage1)
