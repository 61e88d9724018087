"""The PV agents' closed-form proximal steps equal their local problems solved by cvxpy.

Each agent's local problem in fair curtailment (see :func:`agents.pv.curtail_local_update`)
is solved for a batch of random targets, weights and penalties with Clarabel; the closed
forms must agree to 1e-6 (Clarabel's accuracy on these small strictly convex problems is
about 1e-8). Strict convexity makes the minimisers unique, so the comparison is exact.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from agents.pv import CurtailLocalMessage, curtail_local_update

N = 200
RHO = 1.3
Q_COST = 0.1


def _message(scheme: str, theta_weight: float, reg: float) -> CurtailLocalMessage:
    rng = np.random.default_rng(7)
    return CurtailLocalMessage(
        scheme=scheme,
        rho=RHO,
        target_a=rng.uniform(-0.5, 1.5, N),
        target_b=rng.uniform(-1.0, 0.5, N),
        target_theta=rng.uniform(-0.5, 2.0, N) if scheme == "equal-kw" else None,
        w_a=rng.uniform(0.2, 3.0, N),
        w_b=rng.uniform(0.3, 3.5, N),
        b_max=rng.uniform(0.0, 0.6, N),
        theta_weight=theta_weight,
        reg=reg,
        q_cost=Q_COST,
    )


def _prox_by_cvxpy(msg: CurtailLocalMessage) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Every agent's local problem, written from its definition (separable, one solve)."""
    a, b = cp.Variable(N), cp.Variable(N)
    w_a, w_b = msg.w_a, msg.w_b
    prox = (
        RHO
        / 2
        * (
            cp.sum(cp.multiply(w_a, cp.square(a - msg.target_a)))
            + cp.sum(cp.multiply(w_b, cp.square(b - msg.target_b)))
        )
    )
    reactive_cost = Q_COST / 2 * cp.sum(cp.multiply(w_b, cp.square(b)))
    constraints = [a >= 0, a <= 1, b >= -msg.b_max, b <= 0]
    theta = None
    if msg.scheme == "proportional":
        cost = -cp.sum(cp.log(1 - a))
    elif msg.scheme == "equal-kw":
        theta = cp.Variable(N)
        cost = msg.reg / 2 * cp.sum(cp.multiply(w_a, cp.square(a)))
        prox += RHO / 2 * msg.theta_weight * cp.sum_squares(theta - msg.target_theta)
        constraints.append(cp.multiply(w_a, a) <= theta)
    else:
        cost = cp.sum(cp.multiply(w_a, a + msg.reg / 2 * cp.square(a)))
    problem = cp.Problem(cp.Minimize(cost + reactive_cost + prox), constraints)
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    assert problem.status == cp.OPTIMAL
    return a.value, b.value, None if theta is None else theta.value


@pytest.mark.parametrize(
    ("scheme", "theta_weight", "reg"),
    [
        ("feeder", 1.0, 0.0),
        ("efficient", 1.0, 0.01),
        ("proportional", 1.0, 0.0),
        ("equal-kw", 1.0, 0.0),
        ("equal-kw", 10.0, 0.0),
        ("equal-kw", 10.0, 0.01),
    ],
)
def test_closed_form_equals_the_local_problem(scheme, theta_weight, reg):
    msg = _message(scheme, theta_weight, reg)
    reply = curtail_local_update(msg)
    a, b, theta = _prox_by_cvxpy(msg)
    np.testing.assert_allclose(reply.a, a, atol=1e-6)
    np.testing.assert_allclose(reply.b, b, atol=1e-6)
    if theta is not None:
        np.testing.assert_allclose(reply.theta, theta, atol=1e-6)
