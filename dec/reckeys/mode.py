"""Mode ``rec-keys``: battery control and repartition keys of a renewable energy community.

``python -m dec.run inputs/rec/case0.yaml --mode rec-keys --policy look-ahead-billing
--horizon 4`` simulates one policy; ``--sweep 4,8,12`` runs every policy for each
horizon and writes ``sweep.csv``. The scenario file's ``rec_keys`` section describes the
community (see the README); command-line values override its ``policy`` and
``horizon_steps``.
"""

from __future__ import annotations

import argparse

from dec.errors import InputError
from dec.options import COMMAND_LINE, comma_items, given_options, refuse_ignored
from dec.reckeys.case import RecCase
from dec.reckeys.inputs import MAX_STEPS, POLICIES, SECTION, count_problems, load_case
from dec.reckeys.runner import Settings, run_policy, run_sweep
from dec.result import RunResult
from dec.scenario import Scenario


def _count(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(
            f"Option '{name}' must be a whole number, at least 1; found {value!r}.", COMMAND_LINE
        )
    return value


def _horizons(text: str) -> list[int]:
    items = comma_items(text, "--sweep")
    try:
        values = [int(item) for item in items]
    except ValueError:
        values = []
    if not values or min(values) < 1 or max(values) > MAX_STEPS:
        raise InputError(
            f"Option '--sweep' must be a comma-separated list of horizons of 1 to "
            f"{MAX_STEPS:,} steps, e.g. 4,8,12; found {text!r}.",
            COMMAND_LINE,
        )
    return values


def _steps(case: RecCase, steps: int | None) -> RecCase:
    if steps is None:
        return case
    _count(steps, "--steps")
    if steps > case.n_steps or steps % case.metering_period_steps:
        raise InputError(
            f"Option '--steps' ({steps}) must be a multiple of the metering period "
            f"({case.metering_period_steps} steps) and at most the horizon ({case.n_steps}).",
            COMMAND_LINE,
        )
    return case.truncated(steps)


def _ignored_options(args: argparse.Namespace, policy: str) -> list[str]:
    """Return the options given on the command line that ``policy`` does not use.

    ``--max-iter`` and ``--engine`` serve the distributed policy only; ``--horizon`` is
    not used by ``optimal`` (one solve over the whole horizon T).
    """
    ignored = []
    if policy != "distributed":
        ignored += [f"{o} (policy distributed)" for o in given_options(args, "max_iter", "engine")]
    if policy == "optimal":
        ignored += [f"{o} (receding-horizon policies)" for o in given_options(args, "horizon")]
    return ignored


def run(scenario: Scenario, args: argparse.Namespace) -> RunResult:
    """Validate the scenario's ``rec_keys`` section and the options, then run."""
    section = scenario.section(SECTION)
    case = _steps(load_case(section, scenario.name, scenario.source), args.steps)
    settings = Settings(
        forecaster=section.get("forecaster", "perfect"),
        engine=args.engine,
        max_iter=_count(args.max_iter, "--max-iter") if args.max_iter is not None else None,
    )
    if args.sweep is not None:
        refuse_ignored(
            given_options(args, "policy", "horizon"),
            "This run is a sweep (--sweep: every policy for each of its horizons)",
            "remove the option",
        )
        return run_sweep(case, _horizons(args.sweep), settings)
    policy = args.policy or section.get("policy", "look-ahead-billing")
    if policy not in POLICIES:
        raise InputError(
            f"Option '--policy' has the unknown value {policy!r}; allowed: {', '.join(POLICIES)}.",
            COMMAND_LINE,
        )
    refuse_ignored(
        _ignored_options(args, policy),
        f"This run's policy is {policy}",
        "remove the option or choose a policy that uses it",
    )
    default = section.get("horizon_steps", max(1, round(24.0 / case.time_step_h)))
    horizon = args.horizon if args.horizon is not None else default  # the file's is checked
    problems = count_problems(horizon, "Option '--horizon'")
    if problems:
        raise InputError(problems, COMMAND_LINE)
    return run_policy(case, policy, horizon, settings)
