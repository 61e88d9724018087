"""Centralized solve of the curtailment problem (cvxpy + Clarabel), the reference of the ADMM.

The network enters as the linear model's own sparse constraints
(:meth:`~dec.network.linear.LinearVoltageModel.cvxpy_voltage`: LinDistFlow with subtree
flows and voltage changes as variables, balanced or per phase), ``v = v_point + Δv``
within the problem's limits: the same linear model as the coordinator's, without any
dense node × node matrix.
"""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from dec.curtail.problem import CurtailProblem
from dec.errors import SolverFailed, SubproblemInfeasible
from dec.network.linear import LinearVoltageModel

#: Clarabel tolerances tried in turn: the tightest that the interior-point method reaches
#: (degenerate optima, e.g. a zero common fraction, stall it at 1e-10). The QPs' optima are
#: unique only through the small regularisation ``reg``, so an objective accurate to 1e-10
#: can leave setpoints 5e-3 kW off (gridappsd_a, transformer fairness); 1e-12 settles them.
TOLERANCE_LADDER = (1e-12, 1e-11, 1e-10, 1e-9, 1e-8)
#: Tolerance of SCS when it takes over from Clarabel (non-QP problems: proportional fairness).
FALLBACK_SCS_EPS = 1e-9


@dataclass
class CurtailDecision:
    """A solution of the curtailment problem (agent-level fractions).

    Attributes
    ----------
    a
        Curtailment fraction of each agent.
    b
        Reactive fraction of each agent (zeros without reactive power).
    theta
        Common equal-kW share in units of p̄ (None for other schemes).
    y
        Coordinator variables (fairness-map values).
    """

    a: np.ndarray
    b: np.ndarray
    theta: float | None
    y: np.ndarray


def solve_centralized(
    problem: CurtailProblem,
    model: LinearVoltageModel,
    v_point: np.ndarray,
    point: CurtailDecision,
) -> tuple[CurtailDecision, float]:
    """Solve the curtailment problem linearised at ``point``; return it and the solve time (s).

    Raises
    ------
    SubproblemInfeasible
        If the solver does not report an optimal solution.
    """
    start = time.perf_counter()
    settings = problem.settings
    n_y, n_ag = problem.n_y, problem.n_agents
    v_min, v_max = problem.limits(model)
    if not (point.a.any() or point.b.any()) and np.all((v_min <= v_point) & (v_point <= v_max)):
        # no curtailment and no reactive power is feasible, and every scheme's objective is
        # zero there and non-negative elsewhere: the optimum, exactly (an interior-point
        # solver can stall on this degenerate problem, every constraint slack)
        zero = CurtailDecision(
            a=np.zeros(n_ag),
            b=np.zeros(n_ag),
            theta=0.0 if settings.fairness == "equal-kw" else None,
            y=np.zeros(n_y),
        )
        return zero, time.perf_counter() - start
    dp_per_y, dq_per_b = problem.injection_maps()
    y = cp.Variable(n_y)
    b = cp.Variable(n_ag) if settings.reactive else None
    constraints = [y >= 0, y <= 1]
    dq_kw = None
    if b is not None:
        constraints += [b <= 0, b >= -problem.b_max]
        dq_kw = dq_per_b @ (b - point.b)
    dv, network = model.cvxpy_voltage(dp_per_y @ y - problem.active_injection_kw(point.a), dq_kw)
    constraints += network
    v = v_point + dv
    upper, lower = np.flatnonzero(np.isfinite(v_max)), np.flatnonzero(np.isfinite(v_min))
    constraints += [v[upper] <= v_max[upper], v[lower] >= v_min[lower]]

    w_a = problem.w_a
    a = y[problem.y_of_agent] if n_y != n_ag else y
    theta = None
    scheme = settings.fairness
    if scheme == "proportional":
        objective = -cp.sum(cp.log(1 - a))
    elif scheme == "equal-kw":
        theta = cp.Variable()
        constraints.append(cp.multiply(w_a, a) <= theta)
        objective = n_ag * theta + 0.5 * problem.reg * cp.sum(cp.multiply(w_a, cp.square(a)))
    else:
        objective = w_a @ a + 0.5 * problem.reg * cp.sum(cp.multiply(w_a, cp.square(a)))
    if b is not None:
        objective = objective + 0.5 * settings.q_cost * cp.sum(
            cp.multiply(problem.w_b, cp.square(b))
        )
    prob = cp.Problem(cp.Minimize(objective), constraints)
    _solve_accurately(prob)
    y_val = np.clip(y.value, 0.0, 1.0)
    decision = CurtailDecision(
        a=y_val[problem.y_of_agent],
        b=np.clip(b.value, -problem.b_max, 0.0) if b is not None else np.zeros(n_ag),
        theta=float(theta.value) if theta is not None else None,
        y=y_val,
    )
    return decision, time.perf_counter() - start


def _solve_accurately(prob: cp.Problem) -> None:
    """Solve with Clarabel at the tightest tolerance of the ladder that ends optimal.

    On LPs and QPs Clarabel runs without equilibration: with it, the degenerate equal-kW
    problem with reactive power of ieee123's default scenario ended "optimal" 1e-4 above
    the optimum (which the ADMM, the efficient scheme and OSQP all reach). The exponential
    cones of proportional fairness try it first (without, Clarabel stalls on ieee123's
    default scenario), then the ladder again without it (with it, Clarabel stalls on
    ieee123 with reactive power at PV x 3.5, which it solves without in 34 iterations).
    If no rung ends optimal, a second solver takes over: HiGHS for LPs and QPs, SCS to
    :data:`FALLBACK_SCS_EPS` for proportional fairness. Clarabel can stall (insufficient
    progress) on degenerate or badly scaled instances that these settle; on the IEEE 123
    day, SCS then agrees with the ADMM to 1e-9 in the objective.

    Raises
    ------
    SubproblemInfeasible
        If the last solver finds the problem infeasible.
    SolverFailed
        If no solver gives an optimal solution on a feasible problem (numerical failure).
    """
    status = "not solved"
    quadratic = prob.is_qp()
    equilibrations = (False,) if quadratic else (True, False)
    for equilibrate, tol in itertools.product(equilibrations, TOLERANCE_LADDER):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "solution may be inaccurate": next rung
            try:
                prob.solve(
                    solver=cp.CLARABEL,
                    tol_gap_abs=tol,
                    tol_gap_rel=tol,
                    tol_feas=tol,
                    equilibrate_enable=equilibrate,
                )
            except cp.SolverError as err:
                status = str(err)
                continue
        status = prob.status
        if status == cp.OPTIMAL:
            return
    eps = FALLBACK_SCS_EPS
    solver, options = (
        (cp.HIGHS, {})
        if quadratic
        else (cp.SCS, {"eps_abs": eps, "eps_rel": eps, "max_iters": 200_000})
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the status says it
        try:
            prob.solve(solver=solver, **options)
            status = prob.status
        except cp.SolverError as err:
            status = str(err)
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise SubproblemInfeasible("the centralized curtailment problem", str(status))
    if status != cp.OPTIMAL:
        raise SolverFailed("the centralized curtailment problem", solver, f"status {status}")
