"""Turn a curtailment run into the RunResult the exporter writes.

The per-agent files are a serialisation of ``res_agent`` (one row per step and PV
agent, from the DataCollector): scalars for a snapshot, one list entry per step for a
time series. The summary aggregates the solutions.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pandas as pd

from dec.curtail import plots
from dec.curtail.cim import difference_message
from dec.curtail.metrics import jain_index
from dec.curtail.problem import clean_fraction
from dec.curtail.simulate import PV_REPORTS, CurtailRun
from dec.curtail.solve import CurtailSolution, net_with_setpoints, relative_gap
from dec.network.topology import build_tree
from dec.result import RunResult

#: Per-step fields of the setpoint files: what the agents record, but the linear-model voltage.
STEP_FIELDS = tuple(f for f in PV_REPORTS if f != "voltage_pu_after_linear")
#: Per-step fields summed over the PV agents (kW / kvar).
STEP_SUMS = ["p_available_kw", "p_setpoint_kw", "curtailment_kw", "q_setpoint_kvar"]


def _step_totals(run: CurtailRun) -> pd.DataFrame:
    """Sum of :data:`STEP_SUMS` over the PV agents at every step, kW / kvar.

    One row per step run (``ac_extremes`` has one), 0 on a feeder without PV agents.
    """
    steps = pd.RangeIndex(len(run.ac_extremes), name="step")
    return run.res_agent.groupby("step")[STEP_SUMS].sum().reindex(steps, fill_value=0.0)


def _per_agent(res_agent: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Agent ids in order of first appearance, and each step field as an agents × steps array."""
    agent_ids = res_agent["agent_id"].unique()
    return agent_ids, {
        f: res_agent.pivot(index="agent_id", columns="step", values=f).loc[agent_ids].to_numpy()
        for f in STEP_FIELDS
    }


def _agent_records(
    run: CurtailRun, converged: bool, agent_ids: np.ndarray, per_agent: dict[str, np.ndarray]
) -> list[dict]:
    specs = {a.agent_id: a for a in run.feeder.agents_of_type("pv")}
    values = {f: per_agent[f].tolist() for f in STEP_FIELDS}
    records = []
    for k, agent_id in enumerate(agent_ids):
        spec = specs[agent_id]
        record = {
            **spec.to_record(),
            "mode": "curtail",
            "unit": "kW",
            "converged": converged,
            "fairness": run.settings.fairness,
            "p_rated_kw": spec.p_rated_kw,
            "s_rated_kva": spec.s_rated_kva,
            "group": spec.group,
            "owner": spec.owner,
            "phase": spec.phase,
        }
        if run.step_h is None:
            record.update({f: values[f][k][0] for f in STEP_FIELDS})
        else:
            record["time_step_h"] = run.step_h
            record["start_time_h"] = run.time_of_day_h(0)
            record.update({f: values[f][k] for f in STEP_FIELDS})
        records.append(record)
    return records


def _electrical_distance(run: CurtailRun) -> tuple[pd.Series, pd.Series]:
    """Path resistance of every bus and of every PV agent's bus, pu."""
    tree = build_tree(run.feeder.net)
    buses = np.array(sorted(tree.bus_node))
    per_bus = pd.Series(tree.path_resistance_pu()[tree.nodes_of_buses(buses)], index=buses)
    pvs = run.feeder.agents_of_type("pv")
    per_agent = pd.Series(
        per_bus.loc[[a.bus for a in pvs]].to_numpy(), index=[a.agent_id for a in pvs]
    )
    return per_bus, per_agent


def _cim(run: CurtailRun, agent_ids: np.ndarray, per_agent: dict[str, np.ndarray]) -> dict:
    steps = sorted(run.res_agent["step"].unique())
    p_kw, q_kvar = per_agent["p_setpoint_kw"], per_agent["q_setpoint_kvar"]
    messages = []
    for k, agent_id in enumerate(agent_ids):
        p_old, q_old = per_agent["p_available_kw"][k, 0], 0.0
        for j, step in enumerate(steps):
            p_new, q_new = p_kw[k, j], q_kvar[k, j]
            messages.append(
                difference_message(
                    run.feeder.feeder_id,
                    agent_id,
                    p_new,
                    q_new,
                    p_old,
                    q_old,
                    timestamp=0 if run.step_h is None else round(run.time_of_day_h(step) * 3600),
                )
            )
            p_old, q_old = p_new, q_new
    return {
        "feeder": run.feeder.feeder_id,
        "unit": "W and var (CIM SI units)",
        "messages": messages,
    }


def _history(run: CurtailRun) -> pd.DataFrame:
    """ADMM residual history of all steps and linearisations, one row per round.

    ``step`` is the step of the series (0 for a single operating point) and
    ``linear_solve`` the linearisation (1, 2, ... of the AC validation loop); ``iteration``
    counts the rounds of one linear solve.
    """
    frames = []
    for step, solution in run.solutions.items():
        frame = solution.history.frame()
        if len(frame):
            solves = (frame["iteration"] == 1).cumsum()
            frames.append(frame.assign(step=step, linear_solve=solves))
    if not frames:
        return pd.DataFrame()
    history = pd.concat(frames, ignore_index=True)
    return history[["step", "linear_solve", *history.columns[:-2]]]


#: What each scheme's objective measures (see :mod:`dec.curtail.problem`), for the console;
#: in kW but for ``proportional`` (no unit).
OBJECTIVE_MEANING = {
    "feeder": "kW curtailed",
    "transformer": "kW curtailed",
    "efficient": "kW curtailed",
    "equal-kw": "PVs × common kW",
    "proportional": "−Σ log(remaining fraction of each PV's output)",
}


def _clock(hours: float) -> str:
    """Return a time of day in hours as ``HH:MM`` (24:00 for the end of the day)."""
    minutes = round(hours * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _not_converged_message(run: CurtailRun) -> str | None:
    """Say which limit stopped the first solved step that did not converge (None if all did).

    A step does not converge when the ADMM of its last linear solve reached the round limit
    (``max_iter``, per linear solve and per step) before its tolerances, or when the AC
    validation loop ran its largest number of linear solves with an AC voltage still more
    than ``ac_tol_pu`` outside the limits.
    """
    failed = [t for t, s in run.solutions.items() if not s.converged]
    if not failed:
        return None
    step = failed[0]
    solution = run.solutions[step]
    settings = run.settings
    n = solution.linear_solves
    if not solution.admm_converged:
        last = solution.history.rows[-1]
        limit = settings.tolerances.max_iter
        reason = (
            f"the ADMM reached its round limit of {limit} round{'s' * (limit != 1)} "
            "(--max-iter, which applies to each linear solve of each step) in linear solve "
            f"{n} of {n} before its tolerances: primal residual {last['primal_residual']:.3g} "
            f"(tolerance {last['eps_primal']:.3g}), dual residual {last['dual_residual']:.3g} "
            f"(tolerance {last['eps_dual']:.3g})."
        )
    else:
        vm = solution.vm_after_ac_pu
        reason = (
            f"the AC validation loop ran its largest number of linear solves ({n}), and an AC "
            f"voltage is still more than {settings.ac_tol_pu:g} pu outside the limits "
            f"{solution.problem.vmin_pu:g}–{solution.problem.vmax_pu:g} pu (highest "
            f"{vm.max():.5f} pu, lowest {vm.min():.5f} pu)."
        )
    if run.step_h is None:
        return reason[0].upper() + reason[1:]
    return (
        f"{len(failed)} of the {len(run.solutions)} solved steps did not converge; at the "
        f"first, step {step} ({_clock(run.time_of_day_h(step))}), {reason}"
    )


def _unsolved_notes(run: CurtailRun) -> list[str]:
    """Note the operating points without PV output whose AC voltages are below the lower limit.

    They are not solved (nothing to curtail), and curtailment cannot raise a voltage: like
    the nodes of a solved step already below the limit without curtailment, they are
    reported, not counted against ``ac_within_limit``.
    """
    limit_pu = run.settings.lower_limit_pu(run.feeder)
    vmin_pu = run.ac_extremes["vmin_pu_after_ac"].to_numpy()
    low = [t for t in range(len(vmin_pu)) if t not in run.solutions and vmin_pu[t] < limit_pu]
    if not low:
        return []
    worst = min(low, key=lambda t: vmin_pu[t])
    lowest = f"down to {vmin_pu[worst]:.4f} pu"
    if run.step_h is None:
        where = "Without PV output (nothing to curtail), the AC voltages are"
    else:
        where = f"At {len(low)} step(s) without PV output (nothing to curtail), the AC voltages are"
        lowest += f" at {_clock(run.time_of_day_h(worst))} (step {worst})"
    return [
        f"{where} below the {limit_pu:g} pu lower limit, {lowest}; curtailment cannot raise "
        "voltages."
    ]


def summarise(run: CurtailRun, solver: str, engine: str) -> dict:
    """Summarise a run: the common fields of DESIGN.md plus the curtailment ones.

    For a series, the voltages and ``total_curtailment_kw`` are extremes over the steps,
    the energies (kWh) totals over them, and ``alpha`` (with ``alpha_by_group`` and
    ``equal_curtailment_kw``) and ``vmax_pu_after_ac_reported_step`` those of the reported
    step (:meth:`~dec.curtail.simulate.CurtailRun.reported_step`, named by
    ``reported_step`` and ``reported_time_h``, h; both null for a single operating point).
    ``relinearisations`` counts the linear solves beyond the first of each solved step.
    """
    sols, res = list(run.solutions.values()), run.res_agent
    history = _history(run)
    last = history.iloc[-1] if len(history) else None
    converged = all(s.converged for s in sols)
    objective = float(sum(s.objective for s in sols))
    objective_c = float(sum(s.objective_centralized for s in sols))
    step = run.reported_step()
    reported = run.solutions[step] if step is not None else None
    series = run.step_h is not None and reported is not None
    per_step = _step_totals(run)
    ratios = res.loc[res["p_available_kw"] > 0].groupby("agent_id")["curtailment_ratio"].mean()
    rounds = len(history)
    linear_solves = int(sum(s.linear_solves for s in sols))
    summary = {
        "scenario": run.feeder.feeder_id,
        "mode": "curtail",
        "n_agents": int(res["agent_id"].nunique()),
        "n_households": len(run.feeder.agents_of_type("household")),
        "iterations": rounds if solver == "admm" else None,
        "converged": converged,
        "message": _not_converged_message(run),
        "primal_residual": float(last["primal_residual"]) if last is not None else None,
        "dual_residual": float(last["dual_residual"]) if last is not None else None,
        "objective": objective,
        "objective_centralized": objective_c,
        "objective_gap_rel": relative_gap(objective, objective_c),
        "runtime_s": run.runtime_s,
        "runtime_solver_s": float(sum(s.runtime_solver_s for s in sols)),
        "runtime_centralized_s": float(sum(s.runtime_centralized_s for s in sols)),
        "time_per_round_s": float(history["round_time_s"].mean()) if rounds else None,
        "solver": solver,
        "engine": engine,
        "fairness": run.settings.fairness,
        "reactive": run.settings.reactive,
        "anderson_memory": run.settings.anderson_memory if solver == "admm" else None,
        "vmax_limit_pu": run.settings.upper_limit_pu(run.feeder),
        "ac_tolerance_pu": run.settings.ac_tol_pu,
        "vmax_pu_before": float(run.ac_extremes["vmax_pu_before"].max()),
        "vmax_pu_after_linear": float(max(s.vm_after_linear_pu.max() for s in sols))
        if sols
        else None,
        "vmax_pu_after_ac": float(run.ac_extremes["vmax_pu_after_ac"].max()),
        "vmin_pu_after_ac": float(run.ac_extremes["vmin_pu_after_ac"].min()),
        "reported_step": step if series else None,
        "reported_time_h": run.time_of_day_h(step) if series else None,
        "vmax_pu_after_ac_reported_step": float(reported.vm_after_ac_pu.max())
        if reported is not None
        else None,
        "linear_solves": linear_solves,
        "relinearisations": linear_solves - len(sols),
        "total_available_kw": float(per_step["p_available_kw"].max()),
        "total_curtailment_kw": float(per_step["curtailment_kw"].max()),
        "total_q_kvar": float(per_step["q_setpoint_kvar"].min()),
        "jain_index": jain_index(ratios.to_numpy()),
        "alpha": None,
        "feeder_knobs": dict(run.feeder.knobs),
        "three_phase": run.feeder.three_phase,
        "operating_point": run.feeder.operating_point,
        # solved steps: the AC validation met the limit; steps without PV output (nothing
        # to curtail) are within it if their AC voltages are at most the upper limit (below
        # the lower one, curtailment cannot help: a note says so, _unsolved_notes)
        "ac_within_limit": all(s.ac_converged for s in sols)
        and bool(
            run.ac_extremes["vmax_pu_after_ac"].max()
            <= run.settings.upper_limit_pu(run.feeder) + run.settings.ac_tol_pu
        ),
        "notes": sorted({note for s in sols for note in s.notes}) + _unsolved_notes(run),
    }
    summary["curtailment_share"] = summary["total_curtailment_kw"] / max(
        summary["total_available_kw"], 1e-12
    )
    # the common fractions of the written setpoints (the coordinator's y once converged)
    if reported is not None and run.settings.fairness in ("feeder", "transformer"):
        ratio = clean_fraction(reported.problem.group_curtailment_ratio(reported.curtailment_kw))
    if reported is not None and run.settings.fairness == "feeder":
        summary["alpha"] = float(ratio[0])
    if reported is not None and run.settings.fairness == "transformer":
        summary["alpha_by_group"] = dict(
            zip(reported.problem.group_names, ratio.tolist(), strict=True)
        )
    if reported is not None and run.settings.fairness == "equal-kw":
        summary["equal_curtailment_kw"] = reported.problem.equal_share_kw(reported.decision.theta)
    if run.step_h is not None:
        summary["time_step_h"] = run.step_h
        summary["first_step"] = run.first_step
        summary["n_steps"] = len(per_step)
        summary["total_curtailment_kwh"] = float(per_step["curtailment_kw"].sum() * run.step_h)
        summary["total_available_kwh"] = float(per_step["p_available_kw"].sum() * run.step_h)
    return summary


def _series_table(run: CurtailRun) -> pd.DataFrame:
    """Per step: its time of day, the PV totals and the feeder's AC voltage extremes."""
    per_step = _step_totals(run).drop(columns="q_setpoint_kvar")
    per_step["time_h"] = (run.first_step + per_step.index) * run.step_h
    per_step = per_step.reset_index()
    return pd.concat([per_step, run.ac_extremes], axis=1)


def _voltage_table(
    run: CurtailRun, solution: CurtailSolution, distance_bus: pd.Series
) -> pd.DataFrame:
    """Voltage of every (bus, phase) before, after on the linear model and after on the AC model."""
    before = solution.vm_before_pu
    buses = before.index.get_level_values("bus")
    tree = solution.problem.tree
    node_bus = tree.node_bus[[tree.bus_node[b] for b in buses]]
    linear = solution.vm_after_linear_pu.reindex(
        pd.MultiIndex.from_arrays([node_bus, before.index.get_level_values("phase")])
    )
    return pd.DataFrame(
        {
            "bus": buses,
            "phase": before.index.get_level_values("phase"),
            "name": run.feeder.net.bus.loc[buses, "name"].to_numpy(),
            "electrical_distance_pu": distance_bus.reindex(buses).to_numpy(),
            "vm_pu_before": before.to_numpy(),
            "vm_pu_after_linear": linear.to_numpy(),
            "vm_pu_after_ac": solution.vm_after_ac_pu.reindex(before.index).to_numpy(),
        }
    )


def _objective_meaning(run: CurtailRun) -> str:
    """Return what the run's (summed) objective measures, with its unit.

    See :data:`OBJECTIVE_MEANING`; the regularisation and reactive-power terms are named
    when the run has them.
    """
    meaning = OBJECTIVE_MEANING[run.settings.fairness]
    if any(s.problem.reg > 0 for s in run.solutions.values()):
        meaning += " + regularisation"
    if run.settings.reactive:
        meaning += " + reactive-power cost"
    if run.step_h is not None:
        meaning += ", summed over the steps"
    return meaning + ("; no unit" if run.settings.fairness == "proportional" else "")


def _console(run: CurtailRun, summary: dict) -> list[tuple[str, object]]:
    """Return the rows of the printed summary table (label with unit, value).

    A series adds its window, its curtailed energy and the reported step; the rows of
    the reported step's values say so, those of extremes over the steps say "all steps".
    """
    series = run.step_h is not None
    over = ", all steps" if series else ""
    rows: list[tuple[str, object]] = [
        ("fairness", run.settings.fairness),
        ("solver / engine", f"{summary['solver']} / {summary['engine']}"),
        ("PV agents", summary["n_agents"]),
    ]
    if series:
        start = run.time_of_day_h(0)
        end = run.time_of_day_h(summary["n_steps"])
        rows.append(
            (
                "time steps",
                f"{summary['n_steps']} quarter hours {_clock(start)}–{_clock(end)} "
                f"({len(run.solutions)} with PV output)",
            )
        )
        if summary["reported_step"] is not None:
            rows.append(
                (
                    "reported step (most curtailment)",
                    f"{summary['reported_step']}, {_clock(summary['reported_time_h'])}",
                )
            )
    rows += [
        ("converged", summary["converged"]),
        ("ADMM rounds (all steps)" if series else "ADMM rounds", summary["iterations"]),
        (
            "linear solves / re-linearisations",
            f"{summary['linear_solves']} / {summary['relinearisations']}",
        ),
        (f"max voltage before (AC, pu{over})", summary["vmax_pu_before"]),
        (f"max voltage after (linear, pu{over})", summary["vmax_pu_after_linear"]),
        (f"max voltage after (AC, pu{over})", summary["vmax_pu_after_ac"]),
    ]
    if series:
        rows.append(
            ("max voltage after (AC, pu, reported step)", summary["vmax_pu_after_ac_reported_step"])
        )
    rows += [
        (f"AC within the limits (±{summary['ac_tolerance_pu']:g} pu)", summary["ac_within_limit"]),
        ("common fraction alpha" + (" (reported step)" if series else ""), summary["alpha"]),
    ]
    if series:
        rows.append(("curtailed energy (kWh)", summary["total_curtailment_kwh"]))
    rows.append(
        (
            "curtailment at the reported step (kW)" if series else "total curtailment (kW)",
            summary["total_curtailment_kw"],
        )
    )
    if run.settings.reactive:
        label = "reactive power (kvar, negative = absorbed)"
        if series:
            label = "reactive power, step of most absorption (kvar, negative = absorbed)"
        rows.append((label, summary["total_q_kvar"]))
    nothing_curtailed = not (run.res_agent["curtailment_ratio"] > 0).any()
    rows += [
        (
            "Jain's index",
            f"{summary['jain_index']:g} (nothing curtailed)"
            if nothing_curtailed
            else summary["jain_index"],
        ),
        (
            "objective / centralized",
            f"{summary['objective']:.6g} / {summary['objective_centralized']:.6g} "
            f"({_objective_meaning(run)})",
        ),
        ("objective gap (rel)", summary["objective_gap_rel"]),
        ("runtime (s)", summary["runtime_s"]),
        *(("note", note) for note in summary["notes"]),
    ]
    return rows


def build_result(run: CurtailRun, solver: str, engine: str) -> RunResult:
    """Assemble summary, per-agent records, tables, CIM message and figures of a run.

    ``voltages.csv``, ``net_after.json`` and the voltage and curtailment plots are of the
    reported step; for a series their titles give its time of day.
    """
    summary = summarise(run, solver, engine)
    agent_ids, per_agent = _per_agent(run.res_agent)
    records = _agent_records(run, summary["converged"], agent_ids, per_agent)
    distance_bus, distance_agent = _electrical_distance(run)
    history = _history(run)

    name = run.feeder.feeder_id
    scheme = run.settings.fairness
    tables = {"setpoints": run.res_agent[["step", "agent_id", *PV_REPORTS]]}
    figures, texts = {}, {}
    step = run.reported_step()
    if step is not None:
        reported = run.solutions[step]
        at_step = run.res_agent[run.res_agent["step"] == step]
        when = ""
        if run.step_h is not None:
            when = f" at {_clock(run.time_of_day_h(step))} (step {step}, most curtailment)"
        tables["voltages"] = _voltage_table(run, reported, distance_bus)
        voltages = tables["voltages"]
        figures["voltage_profile"] = lambda: plots.voltage_profile(
            voltages,
            reported.problem.vmax_pu,
            run.settings.ac_tol_pu,
            f"{name}: voltages{when}, {scheme} fairness",
        )
        figures["curtailment"] = lambda: plots.curtailment_per_agent(
            at_step, distance_agent, f"{name}: PV setpoints{when}, {scheme} fairness"
        )
        texts["net_after.json"] = pp.to_json(net_with_setpoints(reported))
    if len(history):
        tables["residuals"] = history
        figures["residuals"] = lambda: plots.residuals(
            history, f"{name}: ADMM residuals, {scheme} fairness"
        )
    if run.step_h is not None:
        series = _series_table(run)
        tables["steps"] = series
        figures["daily"] = lambda: plots.daily(
            series,
            summary["vmax_limit_pu"],
            run.settings.ac_tol_pu,
            summary["reported_time_h"],
            f"{name}: PV and voltage over the day, {scheme}",
        )
    return RunResult(
        scenario=name,
        mode="curtail",
        summary=summary,
        agents=records,
        tables=tables,
        documents={"cim_difference": _cim(run, agent_ids, per_agent)},
        texts=texts,
        figures=figures,
        console=_console(run, summary),
    )
