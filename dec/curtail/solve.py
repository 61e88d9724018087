"""Solve fair curtailment and validate it on the AC power flow.

1. AC power flow at the scenario (PV at available power): voltages before control, per
   (bus, phase) (:meth:`dec.network.grid.Grid.run_ac`: ``runpp``, or ``runpp_3ph`` on a
   three-phase feeder).
2. Feasibility: the model's voltages with every PV fully curtailed (and absorbing its
   largest reactive power): if one is still above the limit, no curtailment can help and
   the run stops before iterating (:class:`~dec.errors.InfeasibleError`, exit 2).
3. Solve on the linear model (agent ADMM or centralized), apply the setpoints, run the
   AC power flow. With the model anchored at the AC point: while the AC maximum is more
   than ``ac_tol_pu`` above the limit (linearisation error), re-linearise at the new
   operating point and solve again, warm-starting the ADMM. With the model anchored at
   the lossless LinDistFlow (the GridAPPS-D cases), the linear problem is the problem:
   it is solved once and the AC result is reported (``ac_converged``) without changing it.
4. The centralized solve of the final linearisation gives the reference objective.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandapower as pp
import pandas as pd

from agents.coordinator import CoordinatorAgent
from dec.admm.convergence import History
from dec.admm.engine import Engine
from dec.curtail.admm import AdmmState, solve_admm
from dec.curtail.centralized import CurtailDecision, solve_centralized
from dec.curtail.problem import CurtailProblem
from dec.errors import InfeasibleError, SubproblemInfeasible
from dec.network.injections import set_element_power
from dec.network.powerflow import PowerFlowFailed

#: How often the step towards a linear solve's decision is halved when its AC power flow
#: does not converge (the shortest step is 1/64 of it).
MAX_STEP_HALVINGS = 6


@dataclass
class CurtailSolution:
    """A validated curtailment solution.

    Attributes
    ----------
    problem
        The problem solved.
    decision
        Final decision (agent fractions).
    reference
        Centralized solution of the final linearisation (the reference of the ADMM).
    p_setpoint_kw, q_setpoint_kvar
        Setpoint of each agent of the problem, kW / kvar (generation positive).
    curtailment_kw
        Curtailed power of each agent, kW.
    objective, objective_centralized
        Objective of the decision and of the centralized solve of the same linearisation.
    history
        ADMM residual history over all linearisations (empty for the centralized solver).
    converged
        ADMM met its tolerances and (with the model anchored at the AC point) the AC
        validation met the voltage limit.
    linear_solves
        Number of linear solves of the AC validation loop (1 = no re-linearisation needed).
    vm_before_pu, vm_after_ac_pu
        AC voltage of every (bus, phase) before and after, pu (phase 0 on a balanced feeder).
    vm_after_linear_pu
        Linear-model voltage of every model node at the decision, pu (indexed by the
        node's representative bus and phase).
    runtime_s, runtime_solver_s, runtime_centralized_s
        Wall time of the whole solve, of the distributed (or centralized) solves and of the
        reference centralized solve, s.
    state
        ADMM iterates, to warm-start the next solve.
    """

    problem: CurtailProblem
    decision: CurtailDecision
    reference: CurtailDecision
    p_setpoint_kw: np.ndarray
    q_setpoint_kvar: np.ndarray
    curtailment_kw: np.ndarray
    objective: float
    objective_centralized: float
    history: History
    converged: bool
    linear_solves: int
    vm_before_pu: pd.Series
    vm_after_ac_pu: pd.Series
    vm_after_linear_pu: pd.Series
    runtime_s: float
    runtime_solver_s: float
    runtime_centralized_s: float
    state: AdmmState | None = None
    ac_converged: bool = True
    admm_converged: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def objective_gap_rel(self) -> float:
        """Relative gap of the objective to the centralized one (:func:`relative_gap`)."""
        return relative_gap(self.objective, self.objective_centralized)


def relative_gap(objective: float, centralized: float) -> float:
    """|objective − centralized| / max(|centralized|, 1e-6): relative, absolute near zero."""
    return abs(objective - centralized) / max(abs(centralized), 1e-6)


def net_with_setpoints(solution: CurtailSolution) -> pp.pandapowerNet:
    """Return a copy of the solved operating point's net with every PV at its setpoint.

    Its AC power flow (``runpp``; ``runpp_3ph`` on a three-phase net) gives the voltages
    reported after the setpoints (``vm_after_ac_pu``).
    """
    problem = solution.problem
    net = copy.deepcopy(problem.feeder.net)
    set_element_power(
        net,
        problem.element_table,
        problem.element_index,
        problem.phase,
        solution.p_setpoint_kw,
        solution.q_setpoint_kvar,
    )
    return net


def _apply(net: pp.pandapowerNet, problem: CurtailProblem, decision: CurtailDecision) -> tuple:
    c_kw = problem.curtailment_kw(decision.a, decision.theta)
    p_kw = problem.p_kw - c_kw
    q_kvar = problem.s_kva * decision.b
    set_element_power(
        net, problem.element_table, problem.element_index, problem.phase, p_kw, q_kvar
    )
    return p_kw, q_kvar, c_kw


def _step_with_ac_flow(
    net: pp.pandapowerNet,
    problem: CurtailProblem,
    point: CurtailDecision,
    decision: CurtailDecision,
) -> tuple[CurtailDecision, pd.Series]:
    """Apply a linear solve's decision and run the AC power flow; return it and the voltages.

    A linearisation far from the answer can propose setpoints (e.g. a large reactive
    absorption) whose AC power flow does not converge. The step from the operating point
    ``point`` towards ``decision`` is then halved, up to :data:`MAX_STEP_HALVINGS` times,
    and the next linearisation starts from the shorter step's operating point.

    Raises
    ------
    PowerFlowFailed
        If even the shortest step's power flow does not converge.
    """
    for halvings in range(MAX_STEP_HALVINGS + 1):
        _apply(net, problem, decision)
        try:
            return decision, problem.grid.run_ac(net)
        except PowerFlowFailed:
            if halvings == MAX_STEP_HALVINGS:
                raise
        decision = _midpoint(point, decision)
    raise AssertionError("unreachable")


def _midpoint(first: CurtailDecision, second: CurtailDecision) -> CurtailDecision:
    """Return the decision halfway between two (every variable averaged)."""
    theta = None if second.theta is None else 0.5 * ((first.theta or 0.0) + second.theta)
    return CurtailDecision(
        a=0.5 * (first.a + second.a),
        b=0.5 * (first.b + second.b),
        theta=theta,
        y=0.5 * (first.y + second.y),
    )


def _node_label(problem: CurtailProblem, bus: int, phase: int, vm_pu: float) -> str:
    net = problem.feeder.net
    where = f"phase {'abc'[phase - 1]}, " if phase else ""
    return f"{bus} ({net.bus.at[bus, 'name']}, {where}{vm_pu:.4f} pu)"


def _node_list(problem: CurtailProblem, nodes: np.ndarray, vm: np.ndarray) -> tuple[str, str]:
    """Return ``"N buses"`` (or bus phases) and up to eight of them named with their voltages."""
    grid = problem.grid
    names = [_node_label(problem, grid.nodes.bus[k], grid.nodes.phase[k], vm[k]) for k in nodes[:8]]
    more = f" and {len(nodes) - 8} more" if len(nodes) > 8 else ""
    kind = "bus phases" if grid.three_phase else "buses"
    return f"{len(nodes)} {kind}", f"{', '.join(names)}{more}"


def check_feasible(
    problem: CurtailProblem, net: pp.pandapowerNet, vm_now: np.ndarray
) -> tuple[tuple[int, ...], list[str]]:
    """Check that curtailment can remove the over-voltage; return the nodes it cannot help.

    Curtailing (and absorbing reactive power) lowers voltages: the highest voltages are
    those without curtailment, the lowest those at full curtailment. Nodes below the lower
    limit already without curtailment (a load peak, a long loaded branch) are beyond what
    curtailment can fix; they are returned with a note naming them (the problem then leaves
    their lower limit out). ``vm_now`` holds the model nodes' voltages without curtailment
    (the operating point); all voltages are the model's: the AC power flow, or the
    LinDistFlow for a model anchored there.

    Raises
    ------
    InfeasibleError
        If a voltage stays above the upper limit at full curtailment.
    """
    grid = problem.grid
    tol = problem.settings.ac_tol_pu
    # strictly below: a node kept with its limit must meet it at zero curtailment
    under = np.flatnonzero(vm_now < problem.vmin_pu)
    notes = []
    if len(under):
        count, names = _node_list(problem, under, vm_now)
        notes.append(
            f"Without any curtailment, {count} are below the {problem.vmin_pu} pu lower limit "
            f"(curtailment only lowers voltages, so their lower limit is not imposed): {names}."
        )
    # Full curtailment first without reactive power (a point of every problem): where it
    # meets the limit, nothing more is needed (the AC power flow of every PV also absorbing
    # its largest reactive power, about 13 Mvar on ieee123 with 6x PV, can diverge).
    absorb = [np.zeros(problem.n_agents)] + ([-problem.b_max] if problem.settings.reactive else [])
    for b in absorb:
        test = copy.deepcopy(net)
        full = CurtailDecision(a=np.ones(problem.n_agents), b=b, theta=None, y=np.ones(problem.n_y))
        _apply(test, problem, full)
        vm = grid.operating_point(test)
        over = np.flatnonzero(vm > problem.vmax_pu + tol)
        if not len(over):
            break
    if len(over):
        also = " and absorbing its largest reactive power" if problem.settings.reactive else ""
        count, names = _node_list(problem, over, vm)
        raise InfeasibleError(
            f"Even with every PV fully curtailed{also}, {count} stay above the "
            f"{problem.vmax_pu} pu limit: {names}. Lower the source voltage or raise the limit.",
            problem.feeder.feeder_id,
        )
    return tuple(int(k) for k in under), notes


def _solve_linear(
    problem: CurtailProblem,
    linear: tuple,
    solver: str,
    state: AdmmState | None,
    engine: Engine | None,
    coordinator: CoordinatorAgent | None,
) -> tuple[CurtailDecision, AdmmState | None, object]:
    """Solve one linearisation ``(model, anchor voltages, anchor decision)``.

    Returns the decision, the ADMM state and the ADMM run (None for the centralized solve).
    """
    model, v_point, point = linear
    if solver != "admm":
        decision, _ = solve_centralized(problem, model, v_point, point)
        return decision, state, None
    vmap = problem.voltage_map(model, v_point, point.a, point.b)
    state, run = solve_admm(problem, vmap, state, engine, coordinator=coordinator)
    return state.decision(problem), state, run


def _within_limits(problem: CurtailProblem, vm_ac_pu: pd.Series) -> bool:
    """Whether AC voltages meet both limits within ``ac_tol_pu``.

    The lower limit is checked on the nodes that have it (not on those already below it
    without curtailment, :func:`check_feasible`): reactive absorption and a linearisation
    far from the AC point can pull voltages under it.
    """
    tol = problem.settings.ac_tol_pu
    if vm_ac_pu.max() > problem.vmax_pu + tol:
        return False
    vm_nodes = problem.grid.node_voltages(vm_ac_pu)
    limited = np.ones(len(vm_nodes), dtype=bool)
    limited[list(problem.below_lower_limit)] = False
    return bool((vm_nodes[limited] >= problem.vmin_pu - tol).all())


def solve_curtailment(
    problem: CurtailProblem,
    solver: str = "admm",
    engine: Engine | None = None,
    state: AdmmState | None = None,
    coordinator: CoordinatorAgent | None = None,
) -> CurtailSolution:
    """Solve a curtailment problem and validate it on the AC power flow.

    Parameters
    ----------
    problem
        The problem (its feeder's net holds the available PV output).
    solver
        ``admm`` (agent ADMM) or ``centralized``.
    engine
        Engine of the agents' local updates (ADMM only).
    state
        ADMM iterates to warm-start from (e.g. the previous time step).
    coordinator
        The coordinator agent of the Mesa model (ADMM only).

    Raises
    ------
    InfeasibleError
        If full curtailment cannot meet the voltage limit.
    """
    start = time.perf_counter()
    settings = problem.settings
    grid = problem.grid
    net = copy.deepcopy(problem.feeder.net)
    vm_before = grid.run_ac(net)
    v_point = grid.operating_point(net, vm_before)
    under, notes = check_feasible(problem, net, v_point)
    problem = replace(problem, below_lower_limit=under)
    point = CurtailDecision(
        a=np.zeros(problem.n_agents),
        b=np.zeros(problem.n_agents),
        theta=None,
        y=np.zeros(problem.n_y),
    )
    model = grid.model(v_point)
    history = History()
    solver_s = 0.0
    admm_converged = True
    n_nodes = len(grid.nodes.bus)
    for n_solves in range(1, settings.max_relinearisations + 1):
        model = model.at_voltage(v_point)
        linear = (model, v_point, point)
        t0 = time.perf_counter()
        solved = problem  # the variant of the problem this linearisation is solved for
        try:
            decision, state, run = _solve_linear(
                problem, linear, solver, state, engine, coordinator
            )
        except SubproblemInfeasible:
            # A linearisation far from the answer (anchored at voltages well above the
            # limit) can predict voltages far too low at full curtailment and make the lower
            # limit look unreachable. Solve it for the upper limit alone and re-linearise:
            # the AC check holds both limits, and the next linearisations impose them again.
            if not grid.relinearises or n_solves == settings.max_relinearisations:
                raise
            solved = replace(problem, below_lower_limit=tuple(range(n_nodes)))
            decision, state, run = _solve_linear(solved, linear, solver, state, engine, coordinator)
        if run is not None:
            history.rows.extend(run.rows)
            admm_converged = run.converged
        solver_s += time.perf_counter() - t0
        decision, vm_after = _step_with_ac_flow(net, problem, point, decision)
        p_kw, q_kvar, c_kw = _apply(net, problem, decision)
        ac_ok = _within_limits(problem, vm_after)
        if ac_ok or not grid.relinearises or n_solves == settings.max_relinearisations:
            break
        # the next linearisation is anchored at the applied setpoints
        point = replace(decision, a=c_kw / problem.p_kw)
        v_point = grid.operating_point(net, vm_after)
    # The reference is the centralized optimum of the last linear problem solved.
    if solver == "admm":
        reference, central_s = solve_centralized(solved, model, v_point, point)
    else:
        reference, central_s = decision, solver_s
    vmap = problem.voltage_map(model, v_point, point.a, point.b)
    z = np.concatenate([decision.y, decision.b]) if settings.reactive else decision.y
    nodes = grid.nodes
    if not ac_ok and not grid.relinearises:
        notes.append(
            f"The AC power flow of the setpoints reaches {vm_after.max():.4f} pu, above the "
            f"{problem.vmax_pu} pu limit that the LinDistFlow problem meets; the problem is not "
            "re-linearised on it (the AC model has the losses the LinDistFlow neglects and, per "
            "phase, gives lines their sequence data, i.e. treats them as transposed)."
        )
    return CurtailSolution(
        problem=problem,
        decision=decision,
        reference=reference,
        p_setpoint_kw=p_kw,
        q_setpoint_kvar=q_kvar,
        curtailment_kw=c_kw,
        objective=problem.objective(decision.a, decision.b, decision.theta),
        objective_centralized=problem.objective(reference.a, reference.b, reference.theta),
        history=history,
        converged=bool((ac_ok or not grid.relinearises) and admm_converged),
        linear_solves=n_solves,
        vm_before_pu=vm_before,
        vm_after_ac_pu=vm_after.copy(),
        vm_after_linear_pu=pd.Series(
            model.magnitude(vmap(z)),
            index=pd.MultiIndex.from_arrays([nodes.bus, nodes.phase], names=["bus", "phase"]),
        ),
        runtime_s=time.perf_counter() - start,
        runtime_solver_s=solver_s,
        runtime_centralized_s=central_s,
        state=state,
        ac_converged=bool(ac_ok),
        admm_converged=admm_converged,
        notes=notes,
    )
