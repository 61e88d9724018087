"""The house agents' local problem of ``mpc-distributed``, batched: one OSQP problem per chunk.

In every ADMM round each house ``i`` finds its battery schedule closest to the target
``v_i`` (kW) the community agent sent, over the window::

    min  ρ/2 Δt ‖load_i + ch_i - dis_i - v_i‖² + (tie-breaks of dec.community.mpc)
    s.t. battery dynamics and limits (as in the centralized window problem)

A chunk of houses is one block-diagonal QP built once (per chunk and ρ) with OSQP,
whose factorisation is reused: a round only changes the linear cost, a window only the
bounds. The inner solve is warm-started from the previous round and limited to ``inner_iter``
OSQP iterations (inexact ADMM); the outer loop stops only when the inner solves have
converged too. Messages are plain arrays, so a chunk can be solved in any process.
(cvxpy re-canonicalises on every solve; for this problem that is slower than OSQP's own
update, and a round is the hot loop.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import clarabel
import numpy as np
import osqp
import scipy.sparse as sp

from dec.community.mpc import CLARABEL_OPTIONS, TIE_SMOOTH, TIE_TERMINAL, TIE_THROUGHPUT
from dec.errors import SolverFailed

#: Inner (OSQP) tolerances.
INNER_EPS = 1e-8
#: Steps between OSQP termination checks.
INNER_CHECK_EVERY = 5

_SOLVERS: dict[tuple, osqp.OSQP] = {}
#: Clarabel solvers (finishing rounds) with the bounds they were built for.
_EXACT_SOLVERS: dict[tuple, tuple[clarabel.DefaultSolver, np.ndarray]] = {}


@dataclass(frozen=True)
class HouseChunk:
    """A chunk of house batteries: the static part of a local-update message.

    Attributes
    ----------
    key
        ``(planner token, chunk index)``: solvers are cached per key and ρ; a new planner
        token evicts the solvers of earlier planners.
    eta_ch, eta_dis
        Efficiencies, ``(m,)``.
    smooth_weight
        Weights of the houses' smoothing tie-breaks
        (:func:`dec.community.mpc.smooth_weights`), ``(m,)``.
    steps, time_step_h
        Window length, steps, and step length, h.

    """

    key: tuple[int, int]
    eta_ch: np.ndarray
    eta_dis: np.ndarray
    smooth_weight: np.ndarray
    steps: int
    time_step_h: float

    @property
    def m(self) -> int:
        """Number of houses in the chunk."""
        return len(self.eta_ch)


def _matrices(chunk: HouseChunk, rho: float) -> tuple[sp.csc_matrix, sp.csc_matrix]:
    steps, dt_h = chunk.steps, chunk.time_step_h
    eye = sp.identity(steps, format="csc")
    difference = eye - sp.eye(steps, k=-1, format="csc")
    blocks_p, blocks_a = [], []
    for i in range(chunk.m):
        pair = (rho + TIE_SMOOTH * chunk.smooth_weight[i]) * dt_h * eye
        dynamics = sp.hstack(
            [-dt_h * chunk.eta_ch[i] * eye, dt_h / chunk.eta_dis[i] * eye, difference]
        )
        blocks_p.append(sp.bmat([[pair, -pair, None], [-pair, pair, None], [None, None, 0 * eye]]))
        blocks_a.append(sp.vstack([dynamics, sp.identity(3 * steps)]))
    return (
        sp.triu(sp.block_diag(blocks_p, format="csc"), format="csc"),
        sp.block_diag(blocks_a, format="csc"),
    )


def _cached(cache: dict, chunk: HouseChunk, rho: float, solver: Any) -> None:
    """Keep ``solver`` for ``chunk`` and ρ, evicting earlier planners' and ρ's solvers."""
    token = chunk.key[0]
    for stale in [k for k in cache if k[0][0] != token or k[0] == chunk.key]:
        del cache[stale]
    cache[(chunk.key, rho)] = solver


def _solver(chunk: HouseChunk, rho: float, lower: np.ndarray, upper: np.ndarray) -> osqp.OSQP:
    key = (chunk.key, rho)
    solver = _SOLVERS.get(key)
    if solver is None:
        hessian, constraints = _matrices(chunk, rho)
        solver = osqp.OSQP()
        solver.setup(
            P=hessian,
            q=np.zeros(hessian.shape[0]),
            A=constraints,
            l=lower,
            u=upper,
            eps_abs=INNER_EPS,
            eps_rel=INNER_EPS,
            polishing=False,
            verbose=False,
            warm_starting=True,
            adaptive_rho=False,
            check_termination=INNER_CHECK_EVERY,
        )
        _cached(_SOLVERS, chunk, rho, solver)
    return solver


def _exact_solver(
    chunk: HouseChunk, rho: float, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray
) -> clarabel.DefaultSolver:
    """Return Clarabel on the chunk's problem (rows ``l = Ax = u`` equalities, others split)."""
    limits = np.concatenate([lower, upper])
    solver, built_for = _EXACT_SOLVERS.get((chunk.key, rho), (None, None))
    if solver is not None and np.array_equal(built_for, limits):
        solver.update(q=cost)
        return solver
    hessian, constraints = _matrices(chunk, rho)
    equal = lower == upper
    rows = sp.vstack([constraints[equal], constraints[~equal], -constraints[~equal]], format="csc")
    rhs = np.concatenate([lower[equal], upper[~equal], -lower[~equal]])
    cones = [
        clarabel.ZeroConeT(int(equal.sum())),
        clarabel.NonnegativeConeT(2 * int((~equal).sum())),
    ]
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.presolve_enable = False  # keeps the rows, so q can be updated in place
    for name, value in CLARABEL_OPTIONS.items():
        setattr(settings, name, value)
    solver = clarabel.DefaultSolver(hessian, cost, rows, rhs, cones, settings)
    _cached(_EXACT_SOLVERS, chunk, rho, (solver, limits))
    return solver


def bounds(
    chunk: HouseChunk,
    p_max_kw: np.ndarray,
    e_start_kwh: np.ndarray,
    e_end_min_kwh: np.ndarray,
    e_max_kwh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return OSQP's lower and upper constraint bounds for one window.

    Rows per house: dynamics (H, right-hand side ``e_start`` on the first), then
    ``ch`` (H), ``dis`` (H) and ``e`` (H) bounds; the last ``e`` is at least ``e_end_min``.
    """
    steps, m = chunk.steps, chunk.m
    lower = np.zeros((m, 4, steps))
    upper = np.zeros((m, 4, steps))
    lower[:, 0, 0] = upper[:, 0, 0] = e_start_kwh
    upper[:, 1] = upper[:, 2] = p_max_kw
    upper[:, 3] = e_max_kwh[:, None]
    lower[:, 3, -1] = e_end_min_kwh
    return lower.ravel(), upper.ravel()


def linear_cost(chunk: HouseChunk, rho: float, target_kw: np.ndarray) -> np.ndarray:
    """Return OSQP's linear cost for targets of the battery power ``ch - dis``, ``(m, H)``."""
    dt_h = chunk.time_step_h
    cost = np.zeros((chunk.m, 3, chunk.steps))
    cost[:, 0] = -rho * dt_h * target_kw + TIE_THROUGHPUT * dt_h
    cost[:, 1] = rho * dt_h * target_kw + TIE_THROUGHPUT * dt_h
    cost[:, 2, -1] = -TIE_TERMINAL
    return cost.ravel()


def local_update(message: dict[str, Any]) -> dict[str, Any]:
    """Solve the local problems of one chunk of houses (an engine task).

    Parameters
    ----------
    message
        ``chunk`` (:class:`HouseChunk`), ``rho``, ``target_kw`` (``(m, H)``, the target of
        ``ch - dis``), ``lower``/``upper`` (window bounds), ``x``/``y`` (warm start or None)
        and ``max_iter`` (inner iteration limit).

    Returns
    -------
    dict
        ``ch_kw``, ``dis_kw`` (``(m, H)``), ``x``, ``y`` (for the next warm start),
        ``solved`` (inner tolerances met), ``residual`` (the larger of OSQP's primal and
        dual residuals) and ``iterations``.

    """
    chunk: HouseChunk = message["chunk"]
    cost = linear_cost(chunk, message["rho"], message["target_kw"])
    if message["exact"]:
        return _exact_update(chunk, message, cost)
    solver = _solver(chunk, message["rho"], message["lower"], message["upper"])
    solver.update(q=cost, l=message["lower"], u=message["upper"])
    if message["x"] is not None:
        solver.warm_start(x=message["x"], y=message["y"])
    solver.update_settings(max_iter=int(message["max_iter"]))
    result = solver.solve(raise_error=False)
    x = result.x.reshape(chunk.m, 3, chunk.steps)
    return {
        "ch_kw": x[:, 0],
        "dis_kw": x[:, 1],
        "x": result.x,
        "y": result.y,
        "solved": result.info.status_val == osqp.SolverStatus.OSQP_SOLVED,
        "residual": max(float(result.info.prim_res), float(result.info.dual_res)),
        "iterations": int(result.info.iter),
    }


def _exact_update(chunk: HouseChunk, message: dict[str, Any], cost: np.ndarray) -> dict[str, Any]:
    """Solve the chunk's local problems to Clarabel's tight tolerances (the finishing rounds)."""
    solver = _exact_solver(chunk, message["rho"], message["lower"], message["upper"], cost)
    solution = solver.solve()
    status = str(solution.status)
    x = np.asarray(solution.x, dtype=float)
    if status not in ("Solved", "AlmostSolved") or not np.isfinite(x).all():
        raise SolverFailed("the house agents' local problems", "Clarabel", f"status {status}")
    powers = x.reshape(chunk.m, 3, chunk.steps)
    return {
        "ch_kw": powers[:, 0],
        "dis_kw": powers[:, 1],
        "x": message["x"],
        "y": message["y"],
        "solved": True,
        "residual": max(float(solution.r_prim), float(solution.r_dual)),
        "iterations": int(solution.iterations),
    }
