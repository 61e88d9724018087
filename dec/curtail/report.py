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
                    timestamp=int(step * (run.step_h or 0) * 3600),
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


def summarise(run: CurtailRun, solver: str, engine: str) -> dict:
    """Summarise a run: the common fields of DESIGN.md plus the curtailment ones."""
    sols, res = list(run.solutions.values()), run.res_agent
    history = _history(run)
    last = history.iloc[-1] if len(history) else None
    converged = all(s.converged for s in sols)
    objective = float(sum(s.objective for s in sols))
    objective_c = float(sum(s.objective_centralized for s in sols))
    worst = run.solutions[run.worst_step()] if sols else None
    per_step = _step_totals(run)
    ratios = res.loc[res["p_available_kw"] > 0].groupby("agent_id")["curtailment_ratio"].mean()
    rounds = len(history)
    summary = {
        "scenario": run.feeder.feeder_id,
        "mode": "curtail",
        "n_agents": int(res["agent_id"].nunique()),
        "n_households": len(run.feeder.agents_of_type("household")),
        "iterations": rounds if solver == "admm" else None,
        "converged": converged,
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
        "vmax_pu_before": float(run.ac_extremes["vmax_pu_before"].max()),
        "vmax_pu_after_linear": float(max(s.vm_after_linear_pu.max() for s in sols))
        if sols
        else None,
        "vmax_pu_after_ac": float(run.ac_extremes["vmax_pu_after_ac"].max()),
        "vmin_pu_after_ac": float(run.ac_extremes["vmin_pu_after_ac"].min()),
        "relinearisations": int(sum(s.relinearisations for s in sols)),
        "total_available_kw": float(per_step["p_available_kw"].max()),
        "total_curtailment_kw": float(per_step["curtailment_kw"].max()),
        "total_q_kvar": float(per_step["q_setpoint_kvar"].min()),
        "jain_index": jain_index(ratios.to_numpy()),
        "alpha": None,
        "feeder_knobs": dict(run.feeder.knobs),
        "three_phase": run.feeder.three_phase,
        "operating_point": run.feeder.operating_point,
        # solved steps: the AC validation met the limit; steps without PV output (nothing
        # to curtail) are within it if their AC voltages are
        "ac_within_limit": all(s.ac_converged for s in sols)
        and run.ac_extremes["vmax_pu_after_ac"].max()
        <= run.settings.upper_limit_pu(run.feeder) + run.settings.ac_tol_pu,
        "notes": sorted({note for s in sols for note in s.notes}),
    }
    summary["curtailment_share"] = summary["total_curtailment_kw"] / max(
        summary["total_available_kw"], 1e-12
    )
    if worst is not None and run.settings.fairness == "feeder":
        summary["alpha"] = float(clean_fraction(worst.decision.y[0]))
    if worst is not None and run.settings.fairness == "transformer":
        summary["alpha_by_group"] = dict(
            zip(worst.problem.group_names, clean_fraction(worst.decision.y).tolist(), strict=True)
        )
    if worst is not None and run.settings.fairness == "equal-kw":
        summary["equal_curtailment_kw"] = worst.problem.equal_share_kw(worst.decision.theta)
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


def build_result(run: CurtailRun, solver: str, engine: str) -> RunResult:
    """Assemble summary, per-agent records, tables, CIM message and figures of a run."""
    summary = summarise(run, solver, engine)
    agent_ids, per_agent = _per_agent(run.res_agent)
    records = _agent_records(run, summary["converged"], agent_ids, per_agent)
    distance_bus, distance_agent = _electrical_distance(run)
    history = _history(run)

    name = run.feeder.feeder_id
    scheme = run.settings.fairness
    tables = {"setpoints": run.res_agent[["step", "agent_id", *PV_REPORTS]]}
    figures, texts = {}, {}
    worst_step = run.worst_step()
    if worst_step is not None:
        worst = run.solutions[worst_step]
        at_worst = run.res_agent[run.res_agent["step"] == worst_step]
        tables["voltages"] = _voltage_table(run, worst, distance_bus)
        voltages = tables["voltages"]
        figures["voltage_profile"] = lambda: plots.voltage_profile(
            voltages,
            worst.problem.vmax_pu,
            f"{name}: voltages, {scheme} fairness",
        )
        figures["curtailment"] = lambda: plots.curtailment_per_agent(
            at_worst, distance_agent, f"{name}: PV setpoints, {scheme} fairness"
        )
        texts["net_after.json"] = pp.to_json(net_with_setpoints(worst))
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
            f"{name}: PV and voltage over the day, {scheme}",
        )
    console = [
        ("fairness", scheme),
        ("solver / engine", f"{solver} / {engine}"),
        ("PV agents", summary["n_agents"]),
        ("converged", summary["converged"]),
        ("ADMM rounds", summary["iterations"]),
        ("linear solves (re-linearisations)", summary["relinearisations"]),
        ("max voltage before (AC, pu)", summary["vmax_pu_before"]),
        ("max voltage after (linear, pu)", summary["vmax_pu_after_linear"]),
        ("max voltage after (AC, pu)", summary["vmax_pu_after_ac"]),
        ("AC within the limit", summary["ac_within_limit"]),
        ("common fraction alpha", summary["alpha"]),
        ("total curtailment (kW)", summary["total_curtailment_kw"]),
        ("Jain's index", summary["jain_index"]),
        (
            "objective / centralized",
            f"{summary['objective']:.6g} / {summary['objective_centralized']:.6g}",
        ),
        ("objective gap (rel)", summary["objective_gap_rel"]),
        ("runtime (s)", summary["runtime_s"]),
        *(("note", note) for note in summary["notes"]),
    ]
    return RunResult(
        scenario=name,
        mode="curtail",
        summary=summary,
        agents=records,
        tables=tables,
        documents={"cim_difference": _cim(run, agent_ids, per_agent)},
        texts=texts,
        figures=figures,
        console=console,
    )
