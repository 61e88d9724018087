"""Run a policy (or a sweep of policies and horizons) on a case and build the RunResult.

Each function is one call from a notebook::

    case = load_case(section, "case0")
    result = run_policy(case, "look-ahead-billing", horizon=4)
    export_result(result)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dec.admm.convergence import Tolerances
from dec.reckeys import plots
from dec.reckeys.admm import TOLERANCES, unsupported_reason
from dec.reckeys.case import RecCase
from dec.reckeys.exactness import binary_members
from dec.reckeys.forecast import make_forecaster
from dec.reckeys.policies import make_policy
from dec.reckeys.report import member_records, period_table, step_table, summary_fields
from dec.reckeys.simulate import Trajectory, simulate
from dec.result import RunResult

MODE = "rec-keys"
#: The distributed bill must match the centralised look-ahead-billing bill within this
#: relative gap (issue 7); a larger gap marks the run ``converged: false`` (exit 3).
MATCH_REL = 1e-4
#: Policies of a sweep, in the order of its table (``optimal`` once, with K = T).
SWEEP_POLICIES = ("look-ahead", "look-ahead-billing", "look-ahead-decoupling", "distributed")
#: Columns of ``sweep.csv`` (issue 7).
SWEEP_COLUMNS = ("policy", "horizon", "total_bill", "gap_to_optimal", "runtime_s")
#: How a run of a sweep converged (its record in the summary; null for centralised runs).
CONVERGENCE_FIELDS = (
    "converged",
    "iterations",
    "primal_residual",
    "dual_residual",
    "objective_centralized",
    "objective_gap_rel",
)


@dataclass
class Settings:
    """How to run: forecaster, and the distributed policy's engine and round limit."""

    forecaster: str = "perfect"
    engine: str = "serial"
    max_iter: int | None = None

    @property
    def round_limit(self) -> int:
        """ADMM rounds per step of the distributed policy."""
        return self.max_iter or TOLERANCES.max_iter

    def policy_options(self, policy: str) -> dict[str, Any]:
        """Return the keyword options of :func:`make_policy` for ``policy``."""
        if policy != "distributed":
            return {}
        return {
            "engine": self.engine,
            "tolerances": Tolerances(TOLERANCES.eps_abs, TOLERANCES.eps_rel, self.round_limit),
        }

    def forecaster_of(self, policy: str) -> str:
        """Return the forecaster ``policy`` uses (``optimal`` always has perfect information)."""
        return "perfect" if policy == "optimal" else self.forecaster


def simulate_policy(case: RecCase, policy: str, horizon: int, settings: Settings) -> Trajectory:
    """Simulate ``policy`` with horizon K = ``horizon`` on ``case``."""
    return simulate(
        case,
        make_policy(policy, horizon, **settings.policy_options(policy)),
        make_forecaster(settings.forecaster_of(policy), case),
    )


def _eur(value: float) -> str:
    """Return an amount of money, EUR, as printed: six decimals (a micro-euro).

    An amount that rounds to zero, such as a gap of -4e-16 EUR of solver round-off, is
    printed ``0.000000``, not ``-0.000000``; summary.json keeps the exact numbers.
    """
    return f"{round(value, 6) or 0.0:.6f}"  # round() keeps the sign of -0.0; `or` drops it


def _meter_model(case: RecCase) -> str:
    return "milp" if binary_members(case).any() else "lp"


def distributed_facts(
    tr: Trajectory, central: Trajectory | None, settings: Settings
) -> dict[str, Any]:
    """Return the ADMM facts of a distributed run and its comparison with ``central``.

    ``central`` is the centralised look-ahead-billing of the same horizon (None: not
    compared). The run is ``converged`` if every step met Boyd's test and the bill is
    within :data:`MATCH_REL` of the centralised one (the requirement is the centralised
    bill, not small residuals); ``message`` says why not (None if converged). A
    centralised run (no ADMM facts, ``central`` None) is converged with null facts.
    """
    central_bill = central.total_bill_eur if central else None
    gap_rel = (
        abs(tr.total_bill_eur - central_bill) / max(abs(central_bill), 1e-12) if central else None
    )
    unconverged = tr.info.get("unconverged_steps", 0)
    matched = gap_rel is None or gap_rel <= MATCH_REL
    reasons = []
    if unconverged:
        reasons.append(
            f"ADMM stopped at the round limit ({settings.round_limit} rounds per step) "
            f"before meeting its tolerances at {unconverged} of {tr.net_kwh.shape[1]} steps, "
            "which applied the actions of their last round"
        )
    if not matched:
        reasons.append(
            f"the distributed bill {tr.total_bill_eur:.6f} EUR differs from the centralised "
            f"look-ahead-billing bill {central_bill:.6f} EUR by {gap_rel:.2e} relative (more "
            f"than {MATCH_REL:g}): ADMM stopped near, not at, the window optima, the applied "
            "actions differ where the window problems are nearly flat, and the closed loops "
            "part (see 'distributed' in the README)"
        )
    elif unconverged and gap_rel is not None:
        reasons.append(
            f"its bill is within {gap_rel:.2e} relative of the centralised look-ahead-billing "
            f"bill (the requirement is {MATCH_REL:g})"
        )
    message = "; ".join(reasons)
    return {
        "iterations": tr.info.get("iterations"),
        "converged": not reasons,
        "primal_residual": tr.info.get("primal_residual"),
        "dual_residual": tr.info.get("dual_residual"),
        "objective_centralized": central_bill,
        "objective_gap_rel": gap_rel,
        "message": f"{message[0].upper()}{message[1:]}." if message else None,
    }


def run_policy(
    case: RecCase, policy: str, horizon: int, settings: Settings | None = None
) -> RunResult:
    """Run one policy and return its result (tables, per-member records, summary, figures).

    The optimal policy (perfect information, whatever the run's forecaster) is also run
    (one LP) for the gap; the distributed policy is compared with the centralised
    look-ahead-billing of the same horizon and forecaster.
    """
    settings = settings or Settings()
    start = time.perf_counter()
    tr = simulate_policy(case, policy, horizon, settings)
    optimal = (
        tr if policy == "optimal" else simulate_policy(case, "optimal", case.n_steps, settings)
    )
    central = (
        simulate_policy(case, "look-ahead-billing", horizon, settings)
        if policy == "distributed"
        else None
    )
    facts = distributed_facts(tr, central, settings)
    horizon_steps = case.n_steps if policy == "optimal" else horizon
    steps, periods = step_table(case, tr), period_table(case, tr)
    run = {"policy": policy, "horizon_steps": horizon_steps, "converged": facts["converged"]}
    summary: dict[str, Any] = {
        "scenario": case.name,
        "mode": MODE,
        "n_agents": case.n_members,
        "iterations": facts["iterations"],
        "converged": facts["converged"],
        "primal_residual": facts["primal_residual"],
        "dual_residual": facts["dual_residual"],
        "objective": tr.total_bill_eur,
        "objective_centralized": facts["objective_centralized"],
        "objective_gap_rel": facts["objective_gap_rel"],
        "match_tolerance_rel": MATCH_REL if central else None,
        "message": facts["message"],
        "runtime_s": tr.runtime_s,
        "policy": policy,
        "horizon_steps": horizon_steps,
        "forecaster": settings.forecaster_of(policy),
        "meter_model": _meter_model(case),
        "solves": tr.info.get("solves", 0),
        "inaccurate_solves": tr.info.get("inaccurate_solves", 0),
        **summary_fields(case, tr),
        "total_bill_optimal": optimal.total_bill_eur,
        "gap_to_optimal": tr.total_bill_eur - optimal.total_bill_eur,
        "total_runtime_s": time.perf_counter() - start,
    }
    tables = {"steps": steps, "periods": periods}
    if tr.info.get("admm_history"):
        tables["admm_history"] = pd.DataFrame(tr.info["admm_history"])
    console = [
        ("policy", f"{policy} (K = {horizon_steps})"),
        ("total bill (EUR)", _eur(summary["total_bill"])),
        ("optimal total bill (EUR)", _eur(summary["total_bill_optimal"])),
        ("gap to optimal (EUR)", _eur(summary["gap_to_optimal"])),
    ]
    console += [(f"bill of {k} (EUR)", _eur(v)) for k, v in summary["bill_per_member"].items()]
    console += [("community energy (kWh)", summary["community_energy_kwh"])]
    if central:
        console += [
            ("centralised look-ahead-billing (EUR)", _eur(central.total_bill_eur)),
            ("ADMM rounds", summary["iterations"]),
            ("relative gap to centralised", summary["objective_gap_rel"]),
        ]
    if facts["message"]:
        console += [("NOT CONVERGED", facts["message"])]
    console += [("runtime (s)", summary["runtime_s"])]
    initial = {
        case.member_ids[i]: case.members[i].battery.soc_initial_kwh for i in case.battery_index
    }
    period_h = case.metering_period_steps * case.time_step_h
    label = f"{case.name}: {policy}, K = {horizon_steps}"
    return RunResult(
        scenario=case.name,
        mode=MODE,
        summary=summary,
        agents=member_records(case, steps, periods, run),
        tables=tables,
        figures={
            "soc": lambda: plots.plot_soc(steps, initial, f"{label}: state of charge"),
            "community_coverage": lambda: plots.plot_community_coverage(
                periods, period_h, f"{label}: consumption covered by the community surplus"
            ),
        },
        console=console,
    )


def skipped_policies(case: RecCase, policies: tuple[str, ...]) -> dict[str, str]:
    """Return the policies among ``policies`` that cannot run on ``case``, with the reason."""
    reason = unsupported_reason(case) if "distributed" in policies else None
    return {"distributed": reason} if reason else {}


def _sweep_record(
    policy: str, horizon: int, tr: Trajectory, optimal: Trajectory, facts: dict[str, Any]
) -> dict[str, Any]:
    """Return one run of a sweep: the columns of ``sweep.csv`` and the ADMM facts.

    ``facts`` are those of :func:`distributed_facts` (empty for centralised policies,
    whose facts are null); the gap is in EUR.
    """
    record = {
        "policy": policy,
        "horizon": horizon,
        "total_bill": tr.total_bill_eur,
        "gap_to_optimal": tr.total_bill_eur - optimal.total_bill_eur,
        "runtime_s": tr.runtime_s,
    }
    record.update({key: facts.get(key) for key in CONVERGENCE_FIELDS})
    return record


def run_sweep(
    case: RecCase,
    horizons: list[int],
    settings: Settings | None = None,
    policies: tuple[str, ...] = SWEEP_POLICIES,
) -> RunResult:
    """Run ``optimal`` once and every policy of ``policies`` for every horizon K.

    The result holds ``sweep.csv`` (``policy, horizon, total_bill, gap_to_optimal,
    runtime_s``; gap in EUR) and a plot of the total bill against K. A policy that
    cannot run on the case (``distributed`` where the meters need binaries) is skipped;
    ``skipped_policies`` and ``message`` say why. The summary's ``sweep`` records add
    each distributed run's ADMM facts and its comparison with the look-ahead-billing
    of the same K (null for the centralised policies).
    """
    settings = settings or Settings()
    skipped = skipped_policies(case, policies)
    optimal = simulate_policy(case, "optimal", case.n_steps, settings)
    records = [_sweep_record("optimal", case.n_steps, optimal, optimal, {})]
    messages = [f"{reason}, so the sweep skipped it." for reason in skipped.values()]
    for horizon in horizons:
        runs: dict[str, Trajectory] = {}
        for policy in (p for p in policies if p not in skipped):
            runs[policy] = tr = simulate_policy(case, policy, horizon, settings)
            facts = (
                distributed_facts(tr, runs.get("look-ahead-billing"), settings)
                if policy == "distributed"
                else {}
            )
            if facts.get("message"):
                messages.append(f"distributed K = {horizon}: {facts['message']}")
            records.append(_sweep_record(policy, horizon, tr, optimal, facts))
    table = pd.DataFrame(records)[list(SWEEP_COLUMNS)]
    summary = {
        "scenario": case.name,
        "mode": MODE,
        "n_agents": case.n_members,
        "iterations": None,
        "converged": all(r["converged"] is not False for r in records),
        "primal_residual": None,  # per run: in the sweep records
        "dual_residual": None,
        "objective": optimal.total_bill_eur,
        "objective_centralized": None,
        "objective_gap_rel": None,
        "message": " ".join(messages) or None,
        "runtime_s": float(table["runtime_s"].sum()),
        "policy": "sweep",
        "horizon_steps": None,
        "forecaster": settings.forecaster,
        "meter_model": _meter_model(case),
        "n_steps": case.n_steps,
        "time_step_h": case.time_step_h,
        "metering_period_steps": case.metering_period_steps,
        "total_bill_optimal": optimal.total_bill_eur,
        "skipped_policies": skipped,
        "sweep": records,
    }
    console = [
        (
            f"{r.policy} K={r.horizon}",
            f"bill {_eur(r.total_bill)} EUR, gap {_eur(r.gap_to_optimal)} EUR, {r.runtime_s:.2f} s",
        )
        for r in table.itertuples()
    ]
    console += [("SKIPPED " + policy, reason) for policy, reason in skipped.items()]
    if not summary["converged"]:
        console += [("NOT CONVERGED", summary["message"])]
    return RunResult(
        scenario=case.name,
        mode=MODE,
        summary=summary,
        tables={"sweep": table},
        figures={"sweep": lambda: plots.plot_sweep(table, f"{case.name}: bill against K")},
        console=console,
    )
