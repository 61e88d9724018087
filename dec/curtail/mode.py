"""Mode ``curtail`` (the default): fair PV curtailment against over-voltage."""

from __future__ import annotations

import argparse

import pandas as pd
from threadpoolctl import threadpool_limits

from dec.admm.convergence import Tolerances
from dec.admm.engine import make_engine
from dec.curtail import plots
from dec.curtail.problem import CurtailSettings
from dec.curtail.report import build_result, summarise
from dec.curtail.simulate import QUARTER_HOURS, read_shapes, run_series, run_snapshot
from dec.errors import InputError
from dec.options import COMMAND_LINE, given_options, refuse_ignored, was_given
from dec.options.curtail import SCHEMES, VOLTAGE_LIMIT_RANGE_PU
from dec.result import RunResult
from dec.scenario import Scenario
from dec.validation import Problems, one_of, positive, within

DEFAULT_MAX_ITER = 5000
#: Largest Anderson memory: beyond a few tens of past rounds the extrapolation's least
#: squares are ill-conditioned and cost more than they save.
MAX_ANDERSON = 50


def settings_from(
    scenario: Scenario, args: argparse.Namespace, fairness: str | None = None
) -> CurtailSettings:
    """Curtailment settings from the command line and the scenario's ``curtail:`` section."""
    section = scenario.section("curtail", required=False)
    problems = Problems(scenario.source)
    known = {"fairness", "reactive", "vmax_pu", "vmin_pu"}
    unknown = sorted(set(section) - known)
    if unknown:
        problems.add(
            f"Section 'curtail' has unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(known))}."
        )
    vmax = args.vmax if args.vmax is not None else section.get("vmax_pu")
    limits = {
        k: v for k, v in (("vmax_pu", vmax), ("vmin_pu", section.get("vmin_pu"))) if v is not None
    }
    problems.extend(within(limits, "voltage limit", "setting", *VOLTAGE_LIMIT_RANGE_PU))
    if args.solver == "centralized":
        _refuse_admm_options(args)
    options = Problems(COMMAND_LINE)
    options.extend(within({"--anderson": args.anderson}, "anderson", "option", 0, MAX_ANDERSON))
    options.raise_if_any()
    max_iter = args.max_iter if args.max_iter is not None else DEFAULT_MAX_ITER
    problems.extend(positive({"max_iter": max_iter}, "max_iter", "setting"))
    scheme = fairness or args.fairness or section.get("fairness", "feeder")
    problems.extend(one_of({"curtail": scheme}, "fairness", "section", SCHEMES))
    if not isinstance(section.get("reactive", False), bool):
        problems.add(f"Field 'reactive' must be true or false, found {section['reactive']!r}.")
    if not problems:
        feeder = scenario.require_feeder()
        upper_name = "--vmax" if args.vmax is not None else "field 'vmax_pu'"
        upper = _limit(vmax, feeder.vm_max_pu, upper_name)
        lower = _limit(section.get("vmin_pu"), feeder.vm_min_pu, "field 'vmin_pu'")
        if not lower[0] < upper[0]:
            message = (
                f"The lower voltage limit ({lower[1]}) must be below the upper limit ({upper[1]})."
            )
            if args.vmax is not None and "vmin_pu" not in section:
                raise InputError(message, COMMAND_LINE)  # --vmax below the feeder's lower limit
            problems.add(message)
    problems.raise_if_any()

    return CurtailSettings(
        fairness=scheme,
        reactive=bool(args.reactive or section.get("reactive", False)),
        vmax_pu=vmax,
        vmin_pu=section.get("vmin_pu"),
        tolerances=Tolerances(args.eps_abs, args.eps_rel, int(max_iter)),
        anderson_memory=args.anderson,
    )


def _limit(given: float | None, feeder_pu: float, name: str) -> tuple[float, str]:
    """Return a voltage limit in force (pu) and, for messages, where it comes from."""
    if given is None:
        return feeder_pu, f"{feeder_pu:g}, the feeder's"
    return given, f"{name} {given:g}"


def _refuse_admm_options(args: argparse.Namespace) -> None:
    """Raise an InputError for an ADMM option given to a centralized run (it would be ignored).

    An option given on the command line is refused whatever its value, its default included.
    """
    given = given_options(args, "eps_abs", "eps_rel", "anderson", "max_iter", "engine")
    refuse_ignored(
        [f"{option} (ADMM)" for option in given],
        "This run is solved centrally (--solver centralized)",
        "remove the option or use --solver admm",
    )


def _comparison(scenario: Scenario, args: argparse.Namespace, engine) -> pd.DataFrame:
    rows = []
    for scheme in SCHEMES:
        run = run_snapshot(
            scenario.feeder, settings_from(scenario, args, scheme), args.solver, engine, args.seed
        )
        s = summarise(run, args.solver, engine.name)
        rows.append(
            {
                k: s[k]
                for k in (
                    "fairness",
                    "total_curtailment_kw",
                    "jain_index",
                    "vmax_pu_after_ac",
                    "iterations",
                    "objective",
                    "objective_centralized",
                    "converged",
                )
            }
        )
    return pd.DataFrame(rows)


def run(scenario: Scenario, args: argparse.Namespace) -> RunResult:
    """Validate the options, solve, and return the result for the exporter."""
    feeder = scenario.require_feeder()
    settings = settings_from(scenario, args)
    series = args.day or args.steps is not None
    if args.compare_fairness and series:
        raise InputError(
            "--compare-fairness compares one operating point; drop --day/--steps.", COMMAND_LINE
        )
    if was_given(args, "first_step") and not series:
        raise InputError(
            f"Option --first-step {args.first_step} starts a time series; add --day or --steps N "
            "(a single operating point has no time of day).",
            COMMAND_LINE,
        )
    # --steps N runs N quarter hours from --first-step; --day alone runs to the day's end
    n_steps = args.steps if args.steps is not None else QUARTER_HOURS - args.first_step
    shapes = None
    if series:
        # in a series --load-scale/--pv-scale multiply the day's shapes (default 1)
        load_shape, pv_shape = read_shapes(n_steps, args.first_step)
        load_factor = 1.0 if args.load_scale is None else args.load_scale
        pv_factor = 1.0 if args.pv_scale is None else args.pv_scale
        shapes = (load_shape * load_factor, pv_shape * pv_factor)

    engine = make_engine(args.engine)
    try:
        with threadpool_limits(1, user_api="blas"):
            if shapes is None:
                result_run = run_snapshot(feeder, settings, args.solver, engine, args.seed)
            else:
                result_run = run_series(
                    feeder, settings, *shapes, args.solver, engine, args.seed, args.first_step
                )
            result = build_result(result_run, args.solver, engine.name)
            if args.compare_fairness:
                table = _comparison(scenario, args, engine)
                result.tables["fairness_comparison"] = table
                result.figures["price_of_fairness"] = lambda: plots.price_of_fairness(
                    table, f"{feeder.feeder_id}: price of fairness"
                )
                result.console.append(("fairness comparison", "fairness_comparison.csv"))
    finally:
        engine.close()
    result.scenario = scenario.name
    result.summary["scenario"] = scenario.name
    if series:
        # what the day's shapes were multiplied by (feeder_knobs' scales do not apply)
        result.summary["shape_scales"] = {"load_scale": load_factor, "pv_scale": pv_factor}
    return result
