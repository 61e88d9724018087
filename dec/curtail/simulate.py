"""Run fair curtailment with Mesa agents: one snapshot or a series of time steps.

The :class:`~agents.model.CoordinationModel` holds one agent per household and PV
unit plus the network coordinator. Each step the PV agents' local updates run on the
chosen engine inside the ADMM, the coordinator enforces the voltage limits, the
result is validated on the AC power flow, and every PV agent records its setpoint;
the model's DataCollector turns those records into the ``res_agent`` table (one row
per step and agent) from which the output files are written.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from agents.coordinator import CoordinatorAgent
from agents.model import CoordinationModel
from dec.admm.engine import Engine
from dec.curtail.problem import CurtailProblem, CurtailSettings, has_pv_output
from dec.curtail.solve import CurtailSolution, solve_curtailment
from dec.errors import InfeasibleError, InputError, SubproblemInfeasible
from dec.network.grid import Grid
from dec.network.injections import element_power_kw, set_element_power
from dec.options import COMMAND_LINE
from dec.progress import progress
from feeders.attach import scale_loads
from feeders.base import Feeder

#: What each PV agent records every step (the columns of ``res_agent``).
PV_REPORTS = (
    "p_available_kw",
    "p_setpoint_kw",
    "q_setpoint_kvar",
    "curtailment_kw",
    "curtailment_ratio",
    "voltage_pu_before",
    "voltage_pu_after",
    "voltage_pu_after_linear",
)

SHAPES_DIR = Path(__file__).resolve().parents[2] / "inputs" / "ieee123" / "case_a"
#: Steps of the shapes: the quarter hours of a day.
QUARTER_HOURS = 96
STEP_H = 0.25


@dataclass
class CurtailRun:
    """The result of a curtailment run.

    Attributes
    ----------
    feeder
        The feeder at the (first) scenario.
    settings
        Run settings.
    solutions
        Validated solution of each solved step (steps without PV output are not solved).
    res_agent
        One row per (step, PV agent): the recorded setpoints (from the DataCollector).
    ac_extremes
        One row per step: the feeder's highest AC voltage before and after the setpoints and
        its lowest after (``vmax_pu_before``, ``vmax_pu_after_ac``, ``vmin_pu_after_ac``), pu;
        steps without PV output have the AC power flow of their loads alone.
    step_h
        Step length in hours (None for a snapshot).
    runtime_s
        Wall time of the whole run, s.
    first_step
        Quarter hour of the day of a series' first step (its step 0).
    """

    feeder: Feeder
    settings: CurtailSettings
    solutions: dict[int, CurtailSolution]
    res_agent: pd.DataFrame
    ac_extremes: pd.DataFrame
    step_h: float | None = None
    runtime_s: float = 0.0
    first_step: int = 0

    def reported_step(self) -> int | None:
        """Return the step whose operating point the outputs report, or None if none was solved.

        The solved step with the largest total curtailment (step 0 for a single operating
        point): ``alpha``, ``voltages.csv``, ``net_after.json`` and the voltage and
        curtailment plots describe it.
        """
        if not self.solutions:
            return None
        return max(self.solutions, key=lambda t: self.solutions[t].curtailment_kw.sum())

    def time_of_day_h(self, step: int) -> float:
        """Return the time of day at the start of a series' ``step``, h."""
        return (self.first_step + step) * self.step_h


def voltages_at(vm_pu: pd.Series, buses: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """Voltage of each (bus, phase) in a (bus, phase) series, pu (NaN where absent).

    Phase 0 on a three-phase bus (a three-phase unit) gets the bus's highest phase voltage.
    """
    exact = vm_pu.reindex(pd.MultiIndex.from_arrays([buses, phases])).to_numpy()
    highest = vm_pu.groupby(level="bus").max().reindex(buses).to_numpy()
    return np.where(np.isnan(exact) & (np.asarray(phases) == 0), highest, exact)


def _extremes(vm_before_pu: pd.Series, vm_after_pu: pd.Series) -> dict[str, float]:
    """Return a step's row of :attr:`CurtailRun.ac_extremes`."""
    return {
        "vmax_pu_before": float(vm_before_pu.max()),
        "vmax_pu_after_ac": float(vm_after_pu.max()),
        "vmin_pu_after_ac": float(vm_after_pu.min()),
    }


def _record(
    model: CoordinationModel,
    feeder: Feeder,
    solution: CurtailSolution | None,
    vm_unsolved_pu: pd.Series | None = None,
) -> None:
    """Write a step's decisions into the PV agents' state.

    Where nothing was solved every PV keeps its output and its voltages before and after
    are those of ``vm_unsolved_pu`` (the step's AC power flow).
    """
    by_id = model.by_id()
    decided = {}
    if solution is not None:
        problem = solution.problem
        decided = {
            aid: (p, q, c)
            for aid, p, q, c in zip(
                problem.agent_ids,
                solution.p_setpoint_kw,
                solution.q_setpoint_kvar,
                solution.curtailment_kw,
                strict=True,
            )
        }
    specs = feeder.agents_of_type("pv")
    tables, index, phases = _elements(specs)
    available_kw, _ = element_power_kw(feeder.net, tables, index, phases)
    buses = np.array([a.bus for a in specs], dtype=int)
    v_before = v_after = v_lin = np.full(len(specs), np.nan)
    if solution is not None:
        tree = solution.problem.tree
        node_bus = tree.node_bus[tree.nodes_of_buses(buses)]
        v_before = voltages_at(solution.vm_before_pu, buses, phases)
        v_after = voltages_at(solution.vm_after_ac_pu, buses, phases)
        v_lin = voltages_at(solution.vm_after_linear_pu, node_bus, phases)
    elif vm_unsolved_pu is not None:
        v_before = v_after = voltages_at(vm_unsolved_pu, buses, phases)
    for k, (spec, p_av) in enumerate(zip(specs, available_kw, strict=True)):
        p, q, c = decided.get(spec.agent_id, (p_av, 0.0, 0.0))
        by_id[spec.agent_id].state.update(
            p_available_kw=float(p_av),
            p_setpoint_kw=float(p),
            q_setpoint_kvar=float(q),
            curtailment_kw=float(c),
            curtailment_ratio=float(c / p_av) if p_av > 0 else 0.0,
            voltage_pu_before=float(v_before[k]),
            voltage_pu_after=float(v_after[k]),
            voltage_pu_after_linear=float(v_lin[k]),
        )


def _res_agent(model: CoordinationModel) -> pd.DataFrame:
    frame = model.datacollector.get_agent_vars_dataframe().reset_index()
    frame = frame.dropna(subset=["p_available_kw"]).rename(columns={"Step": "step"})
    frame["step"] = frame["step"] - frame["step"].min()
    return frame.drop(columns=["AgentID"]).reset_index(drop=True)


def _elements(specs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Table, row and phase of the element of each agent."""
    return (
        np.array([a.element[0] for a in specs]),
        np.array([a.element[1] for a in specs], dtype=int),
        np.array([a.phase for a in specs], dtype=int),
    )


def new_model(feeder: Feeder, seed: int | None) -> tuple[CoordinationModel, CoordinatorAgent]:
    """Build the Mesa model of a curtailment run: households, PV agents and the coordinator."""
    model = CoordinationModel(feeder.agents, seed=seed, reporters=("agent_id", *PV_REPORTS))
    for agent in model.agents:
        agent.state["agent_id"] = agent.agent_id if agent.agent_type == "pv" else None
    return model, CoordinatorAgent(model)


def run_snapshot(
    feeder: Feeder,
    settings: CurtailSettings,
    solver: str = "admm",
    engine: Engine | None = None,
    seed: int | None = None,
) -> CurtailRun:
    """Solve one operating point (the feeder's scenario)."""
    start = time.perf_counter()
    model, coordinator = new_model(feeder, seed)
    solutions, extremes = {}, []
    if has_pv_output(feeder):
        problem = CurtailProblem.from_feeder(feeder, settings)
        solution = solve_curtailment(problem, solver, engine, coordinator=coordinator)
        solutions[0] = solution
        extremes.append(_extremes(solution.vm_before_pu, solution.vm_after_ac_pu))
        _record(model, feeder, solution)
    else:  # nothing to curtail: reported like a series' step without PV output
        vm_pu = Grid.from_feeder(feeder).run_ac(feeder.net)
        extremes.append(_extremes(vm_pu, vm_pu))
        _record(model, feeder, None, vm_pu)
    model.datacollector.collect(model)
    return CurtailRun(
        feeder,
        settings,
        solutions,
        _res_agent(model),
        pd.DataFrame(extremes),
        None,
        time.perf_counter() - start,
    )


def read_shapes(n_steps: int, first_step: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Read ``n_steps`` quarter-hour load and PV multipliers (GridAPPS-D case A shapes, BSD).

    Raises
    ------
    InputError
        Blamed on the command line (``--first-step``, ``--steps``), if ``first_step`` is not
        a quarter hour of the day, or the steps from it are fewer than one or run past the
        day's end.
    """
    load = pd.read_csv(SHAPES_DIR / "loadshape_15min.csv", header=None)[0].to_numpy(float)
    pv = pd.read_csv(SHAPES_DIR / "pvshape_15min.csv", header=None)[0].to_numpy(float)
    if not 0 <= first_step < QUARTER_HOURS:
        raise InputError(
            f"Option '--first-step' must be from 0 to {QUARTER_HOURS - 1} (the quarter hours of "
            f"the day), found {first_step}.",
            COMMAND_LINE,
        )
    if not 1 <= n_steps <= QUARTER_HOURS - first_step:
        raise InputError(
            f"Option '--steps' must be from 1 to {QUARTER_HOURS - first_step} (the quarter hours "
            f"of the day from step {first_step}), found {n_steps}.",
            COMMAND_LINE,
        )
    window = slice(first_step, first_step + n_steps)
    return load[window], pv[window]


def _load_factor(feeder: Feeder, load_shape: np.ndarray) -> np.ndarray:
    """Return what multiplies the feeder's loads at each step to give shape × nominal.

    The feeder's loads are at ``load_scale`` × nominal, so the factor is the shape over
    ``load_scale``. At ``load_scale`` 0 the nominal powers are lost; a shape of zeros (the
    day with the loads off, ``--load-scale 0``) keeps the loads at 0.

    Raises
    ------
    InputError
        If ``load_scale`` is 0 and the shape is not all zeros (named as the scenario's knob).
    """
    load_scale = float(feeder.knobs.get("load_scale", 1.0))
    if load_scale > 0:
        return np.asarray(load_shape, dtype=float) / load_scale
    if not np.any(load_shape):
        return np.zeros(len(load_shape))
    raise InputError(
        f"Field 'knobs.load_scale' is {load_scale:g}: a time series (--day, --steps) sets each "
        "load to the day's shape × its nominal power, which a feeder built at load_scale 0 no "
        "longer holds. A series multiplies the shapes by --load-scale, not by the knob: set the "
        "knob above 0, or give --load-scale 0 to run the day with the loads off."
    )


def run_series(
    feeder: Feeder,
    settings: CurtailSettings,
    load_shape: np.ndarray,
    pv_shape: np.ndarray,
    solver: str = "admm",
    engine: Engine | None = None,
    seed: int | None = None,
    first_step: int = 0,
) -> CurtailRun:
    """Solve a series of operating points, warm-starting each step from the previous one.

    The feeder's loads and PV are multiplied by the shapes (relative to the feeder's own
    load and PV at ``pv_scale`` = 1, ``load_scale`` = 1): step ``t`` has every load (households
    and the others, balanced or per phase) at ``load_shape[t]`` × nominal and PV at
    ``pv_shape[t]`` × kWp. Steps without over-voltage
    need no curtailment: every PV keeps its available power. Steps without PV output are
    not solved; their AC power flow gives the voltages they report. ``first_step`` is
    the quarter hour of the day of step 0, for the time labels of the outputs.
    """
    start = time.perf_counter()
    load_factor = _load_factor(feeder, load_shape)
    model, coordinator = new_model(feeder, seed)
    pvs = feeder.agents_of_type("pv")
    pv_el = _elements(pvs)
    kwp = np.array([a.p_rated_kw for a in pvs])
    grid = Grid.from_feeder(feeder)
    solutions, extremes, state = {}, [], None
    for t in progress(range(len(load_shape)), desc="steps"):
        step_feeder = copy.copy(feeder)
        step_feeder.net = copy.deepcopy(feeder.net)
        scale_loads(step_feeder.net, load_factor[t])
        set_element_power(step_feeder.net, *pv_el, kwp * pv_shape[t])
        solution = None
        if has_pv_output(step_feeder):
            problem = CurtailProblem.from_feeder(step_feeder, settings)
            try:
                solution = solve_curtailment(problem, solver, engine, state, coordinator)
            except InfeasibleError as err:
                where = f"At step {t} of the series:"
                raise InfeasibleError([where, *err.problems], err.source) from None
            except SubproblemInfeasible as err:
                where = f"{err.owner} at step {t} of the series"
                raise SubproblemInfeasible(where, err.status) from None
            state = solution.state
            solutions[t] = solution
            extremes.append(_extremes(solution.vm_before_pu, solution.vm_after_ac_pu))
            _record(model, step_feeder, solution)
        else:
            vm_pu = grid.run_ac(step_feeder.net)
            extremes.append(_extremes(vm_pu, vm_pu))
            _record(model, step_feeder, None, vm_pu)
        model.datacollector.collect(model)
        model.step()  # advances the model clock: the next collection is the next step

    return CurtailRun(
        feeder,
        settings,
        solutions,
        _res_agent(model),
        pd.DataFrame(extremes),
        STEP_H,
        time.perf_counter() - start,
        first_step,
    )
