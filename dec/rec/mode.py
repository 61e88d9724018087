"""Mode ``rec-pricing``: LEM prices and the two-stage REC schedule of a scenario file.

Reads the ``rec_pricing`` section (:mod:`dec.rec.scenario`), runs the chosen
algorithm of :mod:`dec.rec.loops` (pre-delivery iterative loop, or post-delivery
two passes; MMR, SDR/SDRC, pool crossing value, or dual prices) with the two-stage
MILP (no member pays more than alone), and returns per-member schedules and costs,
tables and plots. The single-stage optimum of the same prices (the community cost
without the members' guarantees) is the centralized reference of the summary.

A stage-2 MILP that reaches its time limit keeps HiGHS's best solution (a feasible
schedule: every member's cost bound holds) and ends a pre-delivery loop with its best
iteration so far: the run is then not converged (exit code 3) and the summary's
``time_limit_reached`` says why. A stage-1 or dual-price MILP that reaches it stops
the run (:class:`~dec.errors.SolverLimit`).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dec.admm.engine import Engine, make_engine
from dec.errors import InputError, SolverLimit
from dec.options import COMMAND_LINE, given_options, refuse_ignored
from dec.options.rec_pricing import MODE_MIP_REL_GAP, MODE_TIME_LIMIT_S, mechanism_name
from dec.rec.data import RecData, parse_collective
from dec.rec.loops import (
    PRICE_TOLERANCE,
    LoopTrace,
    post_delivery_loop,
    pre_delivery_loop,
    pricing_function,
)
from dec.rec.outputs import post_outputs
from dec.rec.plots import plot_costs, plot_energy, plot_prices
from dec.rec.report import member_records, member_table, tables
from dec.rec.scenario import RunOptions, read_section, with_overrides
from dec.rec.solve import DECIMALS
from dec.rec.stages import CollectiveSolver, post_stage_one, solve_stage_one
from dec.result import RunResult
from dec.scenario import Scenario


@dataclass
class Outcome:
    """What a run found: prices, two-stage outputs and how the algorithm ended."""

    l_lem: list[float]
    stage2: dict[str, Any]
    stage1: list[dict[str, Any]]
    iterations: int
    criterion: float | None
    converged: bool
    objective_centralized: float | None
    trace: LoopTrace = field(default_factory=LoopTrace)


def solve(backpack: dict[str, Any], data: RecData, options: RunOptions, engine: Engine) -> Outcome:
    """Run the chosen pricing algorithm on a validated backpack.

    Parameters
    ----------
    backpack
        The rec_op_lem_prices input dictionary.
    data
        Its validated arrays.
    options
        Timeframe, market, mechanism and solver options.
    engine
        Where the stage-1 MILPs run.

    Returns
    -------
    Outcome

    """
    solver_options = {"mip_rel_gap": options.mip_rel_gap, "time_limit_s": options.time_limit_s}
    if options.mip_rel_gap is None:
        solver_options["mip_rel_gap"] = MODE_MIP_REL_GAP
    if options.time_limit_s is None:
        solver_options["time_limit_s"] = MODE_TIME_LIMIT_S
    trace = LoopTrace()
    pre = options.timeframe == "pre"
    if options.mechanism == "dual":
        single = CollectiveSolver(data, "pool", bounded=False, **solver_options)
        l_lem = single.solve(np.zeros(data.n_steps))["dual_prices"]
        stage1 = solve_stage_one(data, engine, **solver_options) if pre else post_stage_one(data)
        two_stage = CollectiveSolver(
            data, "pool", bounded=True, measured=not pre, keep_incumbent=True, **solver_options
        )
        stage2 = two_stage.solve(l_lem, [out["c_ind"] for out in stage1])
        stage2 = stage2 if pre else post_outputs(stage2, "pool")
        trace.time_limit = two_stage.time_limit_reached
        iterations, criterion, converged = 1, None, True
    else:
        pricing = pricing_function(
            options.mechanism, options.pruned, options.divider, options.compensation
        )
        if pre:
            l_lem, criterion, iterations, (stage2, stage1) = pre_delivery_loop(
                backpack,
                options.market,
                pricing,
                engine=engine,
                trace=trace,
                max_iterations=options.max_iterations,
                keep_incumbent=True,
                **solver_options,
            )
            converged = criterion is not None
        else:
            l_lem, (stage2, stage1) = post_delivery_loop(
                backpack,
                options.market,
                pricing,
                trace=trace,
                keep_incumbent=True,
                **solver_options,
            )
            iterations, criterion, converged = 1, None, True
    converged = converged and trace.time_limit is None
    centralized = CollectiveSolver(data, options.market, bounded=False, **solver_options)
    try:
        objective_centralized = centralized.solve(l_lem)["obj_value"]
    except SolverLimit:
        objective_centralized = None  # the reference only: the run's own results stand
    return Outcome(
        l_lem=np.round(np.asarray(l_lem, dtype=float), 9).tolist(),
        stage2=stage2,
        stage1=stage1,
        iterations=iterations,
        criterion=criterion,
        converged=converged,
        objective_centralized=objective_centralized,
        trace=trace,
    )


#: Options that tune some pricing mechanisms only: option, argparse dest, mechanisms.
MECHANISM_OPTIONS = (
    ("--lem-divider", "lem_divider", ("mmr",)),
    ("--lem-compensation", "lem_compensation", ("sdr",)),
    ("--lem-unpruned", "lem_unpruned", ("mmr", "sdr")),
)


def _refuse_other_mechanisms_options(args: argparse.Namespace, mechanism: str) -> None:
    """Raise an InputError for a mechanism option the run's mechanism would ignore."""
    ignored = [
        f"{option} (mechanism {' or '.join(users)})"
        for option, dest, users in MECHANISM_OPTIONS
        if getattr(args, dest, None) not in (None, False) and mechanism not in users
    ]
    refuse_ignored(
        ignored,
        f"This run prices with mechanism {mechanism}",
        "remove the option or choose its mechanism with --lem-mechanism",
    )


def _refuse_dual_outside_a_pool(args: argparse.Namespace, options: RunOptions) -> None:
    """Raise an InputError for dual prices asked of a bilateral market on the command line."""
    if options.mechanism == "dual" and options.market != "pool":
        given = [
            f"{option} {value}"
            for option, value in (
                ("--lem-mechanism", args.lem_mechanism),
                ("--lem-market", args.lem_market),
            )
            if value is not None
        ]
        if given:
            raise InputError(
                f"Mechanism 'dual' needs market 'pool' (dual prices are a pool's), but the run "
                f"has mechanism {options.mechanism} and market {options.market} "
                f"({', '.join(given)} given); choose --lem-market pool or another mechanism.",
                COMMAND_LINE,
            )


def run(scenario: Scenario, args: argparse.Namespace) -> RunResult:
    """Validate the scenario's ``rec_pricing`` section, run it and return the result."""
    start = time.perf_counter()
    backpack, options = read_section(
        scenario,
        steps=args.steps,
        load_scale=1.0 if args.load_scale is None else args.load_scale,
        pv_scale=1.0 if args.pv_scale is None else args.pv_scale,
        market=args.lem_market,
    )
    options = with_overrides(
        options,
        timeframe=args.lem_timeframe,
        market=args.lem_market,
        mechanism=None if args.lem_mechanism is None else mechanism_name(args.lem_mechanism),
        pruned=False if args.lem_unpruned else None,
        divider=args.lem_divider,
        compensation=args.lem_compensation,
        max_iterations=args.max_iter,
        mip_rel_gap=args.lem_mip_gap,
        time_limit_s=args.lem_time_limit,
    )
    _refuse_dual_outside_a_pool(args, options)
    options.check(scenario.source)
    _refuse_other_mechanisms_options(args, options.mechanism)
    refuse_ignored(
        [f"{option} (pre-delivery)" for option in given_options(args, "max_iter", "engine")]
        if options.timeframe == "post"
        else [],
        "This run is post-delivery (two passes, no loop)",
        "remove the option or use --lem-timeframe pre",
    )
    refuse_ignored(
        [f"{option} (the price loop)" for option in given_options(args, "max_iter")]
        if options.mechanism == "dual" and options.timeframe == "pre"
        else [],
        "This run prices by dual prices (one MILP, no loop)",
        "remove the option or choose a looping mechanism with --lem-mechanism",
    )
    try:
        data = parse_collective(backpack, options.market, assets=options.timeframe == "pre")
    except InputError as err:
        raise InputError(err.problems, scenario.source) from None
    engine = make_engine(args.engine)
    try:
        outcome = solve(backpack, data, options, engine)
    finally:
        engine.close()
    return build_result(scenario.name, data, options, outcome, time.perf_counter() - start)


def build_result(
    name: str, data: RecData, options: RunOptions, outcome: Outcome, runtime_s: float
) -> RunResult:
    """Assemble the run's records, tables, plots, summary and console rows."""
    table = member_table(data, outcome.l_lem, outcome.stage2, outcome.stage1, options.market)
    dual = outcome.stage2.get("dual_prices")
    # bilateral: the mean of the pairs' tariffs, rounded like solver values (0.015, not
    # 0.0149999999999999)
    grid = (
        data.l_grid
        if options.market == "pool"
        else np.round(
            data.l_grid.sum(axis=(0, 1)) / max(1, data.n_meters * (data.n_meters - 1)), DECIMALS
        )
    )
    frames = tables(data, table, outcome.l_lem, dual, grid)
    if outcome.trace.objectives:
        frames["iterations"] = _iterations(outcome.trace)
    alone = float(table.cost_alone.sum())
    rec = float(table.cost_rec.sum())
    objective = float(outcome.stage2["obj_value"])
    reference = outcome.objective_centralized
    gap = None if reference is None else (objective - reference) / max(1e-9, abs(reference))
    savings = table.cost_alone.sum(axis=1) - table.cost_rec.sum(axis=1)
    mip_gap = MODE_MIP_REL_GAP if options.mip_rel_gap is None else options.mip_rel_gap
    summary = {
        "scenario": name,
        "mode": "rec-pricing",
        "n_agents": data.n_meters,
        "iterations": outcome.iterations,
        "converged": outcome.converged,
        "primal_residual": outcome.criterion,
        "dual_residual": None,
        "objective": objective,
        "objective_centralized": outcome.objective_centralized,
        "objective_gap_rel": gap,
        "runtime_s": runtime_s,
        "timeframe": options.timeframe,
        "market": options.market,
        "mechanism": options.mechanism,
        "pruned": options.pruned,
        "divider": options.divider,
        "compensation": options.compensation,
        "mip_rel_gap": mip_gap,
        "stop_criterion": outcome.criterion,
        "n_steps": data.n_steps,
        "time_step_h": data.delta_t,
        "lem_price_eur_per_kwh": outcome.l_lem,
        "total_cost_alone_eur": alone,
        "total_cost_rec_eur": rec,
        "community_benefit_eur": alone - rec,
        "total_bill": rec,
        "members_better_off": int((savings > 1e-6).sum()),
        "members_worse_off": int((savings < -1e-3).sum()),
        "internal_energy_kwh": float(table.bought.sum()),
        "retailer_import_kwh": float((table.supply_retail + table.supply_market).sum()),
        "retailer_export_kwh": float((table.surplus_retail + table.surplus_market).sum()),
        "time_limit_reached": outcome.trace.time_limit,
        "message": _not_converged_message(options, outcome),
    }
    console: list[tuple[str, Any]] = [
        ("members", data.n_meters),
        (
            "timeframe / market / mechanism",
            f"{options.timeframe} / {options.market} / {options.mechanism}",
        ),
        ("iterations", outcome.iterations),
        ("price change at stop (EUR/kWh)", _stop_text(options, outcome.criterion)),
        ("community cost, two-stage (EUR)", f"{objective:.3f}"),
        (
            f"community cost, single-stage (EUR, MIP gap {mip_gap:g})",
            None if reference is None else f"{reference:.3f}",
        ),
        ("energy bought inside the REC (kWh)", f"{summary['internal_energy_kwh']:.3f}"),
    ]
    console += [
        (f"{member}: cost (EUR)", _costs_text(a, r))
        for member, a, r in zip(
            data.meter_ids, table.cost_alone.sum(axis=1), table.cost_rec.sum(axis=1), strict=True
        )
    ]
    console += [
        ("TOTAL: cost (EUR)", _costs_text(alone, rec)),
        ("community benefit (EUR)", f"{alone - rec:.3f}"),
    ]
    if outcome.trace.time_limit is not None:
        console.append(("NOT PROVEN OPTIMAL", "a stage-2 MILP reached its time limit"))
    title = f"{name}: {options.timeframe}-delivery {options.market}, {options.mechanism}"
    return RunResult(
        scenario=name,
        mode="rec-pricing",
        summary=summary,
        agents=member_records(data, table, outcome.l_lem, outcome.converged),
        tables=frames,
        figures={
            "prices": lambda: plot_prices(frames["prices"], f"{title}: prices per step"),
            "energy": lambda: plot_energy(
                frames["energy"], data.delta_t, f"{title}: community vs. retailer energy"
            ),
            "costs": lambda: plot_costs(frames["members"], f"{title}: member costs"),
        },
        console=console,
    )


def _not_converged_message(options: RunOptions, outcome: Outcome) -> str | None:
    """Say why the run did not converge (None if it did): a MILP's time limit or the loop's.

    The pre-delivery loop stops when its prices repeat; at its iteration limit
    (``--max-iter``, default 20) it keeps the prices of its cheapest iteration.
    """
    if outcome.converged:
        return None
    if outcome.trace.time_limit is not None:
        loop = options.timeframe == "pre" and options.mechanism != "dual"
        kept = (
            "The pre-delivery loop ended with its best iteration so far."
            if loop
            else "The schedule kept is HiGHS's best solution, not proven optimal."
        )
        return f"{outcome.trace.time_limit} {kept}"
    limit = options.max_iterations
    last = next((d for d in reversed(outcome.trace.distances) if d is not None), None)
    change = (
        ""
        if last is None or len(outcome.trace.objectives) < 2  # 1: from the starting prices
        else f": the last prices were {last:.3g} EUR/kWh (Euclidean distance) from the "
        "closest earlier ones"
    )
    return (
        f"The pre-delivery loop reached its iteration limit of {limit} "
        f"iteration{'s' * (limit != 1)} (--max-iter, default {RunOptions.max_iterations}) "
        f"before the prices repeated within {PRICE_TOLERANCE:g} EUR/kWh{change}; the outputs "
        "are those of the iteration with the lowest community cost. Raise --max-iter to "
        "let the loop go on."
    )


def _stop_text(options: RunOptions, criterion: float | None) -> str:
    """Return the console's stop criterion: the last price change, EUR/kWh, and its threshold.

    The pre-delivery loop stops when the new prices are within a Euclidean distance of
    :data:`~dec.rec.loops.PRICE_TOLERANCE` (EUR/kWh) of earlier ones; dual prices and
    post-delivery runs have no loop.
    """
    if options.mechanism == "dual" or options.timeframe == "post":
        return "n/a (single pass)"
    if criterion is None:
        return "n/a (stopped before the prices settled)"
    return f"{criterion:.3f} (Euclidean distance; stops below {PRICE_TOLERANCE:g})"


def _costs_text(alone: float, rec: float) -> str:
    """Return a member's costs alone and in the REC and the saving, EUR, in fixed-width fields.

    The text starts with a word: the console table strips a cell's leading blanks, which
    would misalign the numbers of the rows.
    """
    return f"alone {alone:8.3f}  in REC {rec:8.3f}  saving {alone - rec:7.3f}"


def _iterations(trace: LoopTrace) -> pd.DataFrame:
    """One row per loop iteration: its stage-2 objective and price distance."""
    distances = [*trace.distances, None][: len(trace.objectives)]
    return pd.DataFrame(
        {
            "iteration": np.arange(1, len(trace.objectives) + 1),
            "objective_eur": trace.objectives,
            "distance_to_earlier_prices": distances,
        }
    )
