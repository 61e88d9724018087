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

import numpy as np
import osqp
import scipy.sparse as sp

from dec.community.mpc import TIE_SMOOTH, TIE_TERMINAL, TIE_THROUGHPUT

#: Inner (OSQP) tolerances.
INNER_EPS = 1e-8
#: Steps between OSQP termination checks.
INNER_CHECK_EVERY = 5

_SOLVERS: dict[tuple, osqp.OSQP] = {}


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
        token = chunk.key[0]
        for stale in [k for k in _SOLVERS if k[0][0] != token or k[0] == chunk.key]:
            del _SOLVERS[stale]
        _SOLVERS[key] = solver
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
    solver = _solver(chunk, message["rho"], message["lower"], message["upper"])
    solver.update(
        q=linear_cost(chunk, message["rho"], message["target_kw"]),
        l=message["lower"],
        u=message["upper"],
    )
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
