"""Agent ADMM for fair curtailment.

Two blocks (Boyd et al. 2011, consensus form with a weighted metric):

- **PV agents** (``x``): each solves its own proximal problem in closed form
  (:func:`agents.pv.curtail_local_update`): curtailment fraction ``a_i``, reactive
  fraction ``b_i``, equal-kW share ``θ_i``, within its own bounds and with its own cost.
- **Coordinator** (``z``): the network. It averages the agents' proposals per fairness
  group (``y``), projects ``(y, b)`` onto the voltage-feasible set of the linear model
  exactly (:class:`dec.network.projection.VoltageProjection`; one per independent area of
  the feeder where the fairness scheme allows), and averages the
  equal-kW shares (``θ̄``).

Coupling ``a = Γ y``, ``b = b̂``, ``θ_i = θ̄``; scaled duals ``u`` are updated by every
agent from its own residual. Messages are explicit arrays (:class:`agents.pv.CurtailLocalMessage`)
and the agents' updates run on any engine. Stopping: primal and dual residuals (in the
metric ``w_a``, ``w_b``, ``κ = problem.theta_weight``) below ``ε_abs·√n + ε_rel·scale``;
the penalty is adapted by residual balancing. Rounds are Anderson-accelerated
(:mod:`dec.admm.anderson`, memory ``settings.anderson_memory``; 0 gives plain ADMM): on
ieee123, 5-8× fewer rounds for equal-kW and efficient curtailment.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from agents.coordinator import CoordinatorAgent
from agents.pv import CurtailLocalMessage, curtail_local_update
from dec.admm.anderson import AndersonAcceleration
from dec.admm.convergence import History, ResidualBalancing, thresholds
from dec.admm.engine import Engine, SerialEngine, split
from dec.curtail.centralized import CurtailDecision
from dec.curtail.problem import CurtailProblem
from dec.network.projection import AffineVoltageMap, make_projection
from dec.progress import progress


@dataclass
class AdmmState:
    """ADMM iterates, kept between solves to warm-start the next one (re-linearisation, next step)."""

    y: np.ndarray
    b_hat: np.ndarray
    theta_bar: float
    a: np.ndarray
    b: np.ndarray
    theta: np.ndarray
    u_a: np.ndarray
    u_b: np.ndarray
    u_theta: np.ndarray
    rho: float

    @classmethod
    def cold(cls, problem: CurtailProblem) -> AdmmState:
        """Start from no curtailment, no reactive power, zero duals."""
        n = problem.n_agents
        zeros = np.zeros(n)
        return cls(
            y=np.zeros(problem.n_y),
            b_hat=zeros.copy(),
            theta_bar=0.0,
            a=zeros.copy(),
            b=zeros.copy(),
            theta=zeros.copy(),
            u_a=zeros.copy(),
            u_b=zeros.copy(),
            u_theta=zeros.copy(),
            rho=problem.settings.rho,
        )

    def vector(self) -> np.ndarray:
        """Return the fixed-point variable of a round: consensus variables and scaled duals."""
        return np.concatenate(
            [self.y, self.b_hat, [self.theta_bar], self.u_a, self.u_b, self.u_theta]
        )

    def set_vector(self, s: np.ndarray) -> None:
        """Set the consensus variables and scaled duals from :meth:`vector`'s layout."""
        n_y, n = len(self.y), len(self.u_a)
        self.y, self.b_hat, theta, self.u_a, self.u_b, self.u_theta = np.split(
            s.copy(), np.cumsum([n_y, n, 1, n, n])
        )
        self.theta_bar = float(theta[0])

    def decision(self, problem: CurtailProblem) -> CurtailDecision:
        """Return the agents' decisions (each within its own bounds) as a solution."""
        theta = self.theta_bar if problem.settings.fairness == "equal-kw" else None
        return CurtailDecision(a=self.a.copy(), b=self.b.copy(), theta=theta, y=self.y.copy())


def _messages(
    problem: CurtailProblem, state: AdmmState, chunks: list[slice]
) -> list[CurtailLocalMessage]:
    g = problem.y_of_agent
    target_a = state.y[g] - state.u_a
    target_b = state.b_hat - state.u_b if problem.settings.reactive else None
    target_theta = (
        state.theta_bar - state.u_theta if problem.settings.fairness == "equal-kw" else None
    )
    w_a, w_b, b_max = problem.w_a, problem.w_b, problem.b_max
    return [
        CurtailLocalMessage(
            scheme=problem.settings.fairness,
            rho=state.rho,
            target_a=target_a[c],
            target_b=None if target_b is None else target_b[c],
            target_theta=None if target_theta is None else target_theta[c],
            w_a=w_a[c],
            w_b=w_b[c],
            b_max=b_max[c],
            theta_weight=problem.theta_weight,
            reg=problem.reg,
            q_cost=problem.settings.q_cost,
        )
        for c in chunks
    ]


def solve_admm(
    problem: CurtailProblem,
    vmap: AffineVoltageMap,
    state: AdmmState | None = None,
    engine: Engine | None = None,
    balancing: ResidualBalancing | None = None,
    coordinator: CoordinatorAgent | None = None,
) -> tuple[AdmmState, History]:
    """Run agent ADMM on the linearised curtailment problem until the residuals are small.

    Parameters
    ----------
    problem
        The curtailment problem.
    vmap
        The coordinator's affine voltage map around the current operating point.
    state
        Iterates to warm-start from (None: cold start).
    engine
        Where the agents' local updates run (default: serial).
    balancing
        Residual-balancing rule for the penalty (default: μ = 10, τ = 2).
    coordinator
        The coordinator agent doing the network update (default: a detached one).

    Returns
    -------
    tuple
        The final iterates and the residual history (``history.converged`` says whether the
        tolerances were met within the round limit).
    """
    settings = problem.settings
    tol = settings.tolerances
    engine = engine or SerialEngine()
    balancing = balancing or ResidualBalancing()
    state = state or AdmmState.cold(problem)
    reactive, equal_kw = settings.reactive, settings.fairness == "equal-kw"
    kappa = problem.theta_weight
    g, w_a, w_b = problem.y_of_agent, problem.w_a, problem.w_b
    v_min, v_max = vmap.v_min, vmap.v_max
    metric = np.concatenate([problem.y_weight, w_b]) if reactive else problem.y_weight
    coordinator = coordinator or CoordinatorAgent(mesa.Model())
    coordinator.projection = make_projection(vmap, v_min, v_max, metric)
    chunks = split(problem.n_agents, getattr(engine, "n_workers", 1))
    n_coupling = problem.n_agents * (1 + reactive + equal_kw)
    anderson = AndersonAcceleration(settings.anderson_memory)
    # metric of AdmmState.vector(): that of the residuals (y, b̂, θ̄, then the duals)
    metric_sqrt = np.sqrt(
        np.concatenate(
            [problem.y_weight, w_b, [kappa * problem.n_agents], w_a, w_b, np.full(len(w_a), kappa)]
        )
    )
    history = History()
    # a round counter without a total: most solves stop far below the round limit
    rounds = progress(desc=f"ADMM {settings.fairness} rounds")
    for _ in range(tol.max_iter):
        s_in = state.vector()
        # 1. agents: local proximal steps (explicit messages, any engine)
        replies = engine.map(curtail_local_update, _messages(problem, state, chunks))
        state.a = np.concatenate([r.a for r in replies])
        if reactive:
            state.b = np.concatenate([r.b for r in replies])
        if equal_kw:
            state.theta = np.concatenate([r.theta for r in replies])
        # 2. coordinator: group averages, exact projection onto the voltage limits
        y_prev, b_prev, theta_prev = state.y, state.b_hat, state.theta_bar
        state.y, b_hat = coordinator.curtail_update(
            g, w_a, state.a + state.u_a, state.b + state.u_b if reactive else None, problem.n_y
        )
        if reactive:
            state.b_hat = b_hat
        if equal_kw:
            state.theta_bar = float(np.mean(state.theta + state.u_theta)) - 1.0 / (
                state.rho * kappa
            )
        # 3. duals, by each agent from its own residual
        r_a, r_b = state.a - state.y[g], state.b - state.b_hat
        r_t = state.theta - state.theta_bar if equal_kw else np.zeros(0)
        state.u_a += r_a
        state.u_b += r_b if reactive else 0.0
        if equal_kw:
            state.u_theta += r_t
        # 4. residuals and stopping test (weighted norms)
        r_norm = np.sqrt(np.sum(w_a * r_a**2) + np.sum(w_b * r_b**2) + kappa * np.sum(r_t**2))
        dz2 = np.sum(w_a * (state.y[g] - y_prev[g]) ** 2) + np.sum(
            w_b * (state.b_hat - b_prev) ** 2
        )
        dz2 += kappa * problem.n_agents * (state.theta_bar - theta_prev) ** 2 if equal_kw else 0.0
        s_norm = state.rho * np.sqrt(dz2)
        x_norm = np.sqrt(
            np.sum(w_a * state.a**2) + np.sum(w_b * state.b**2) + kappa * np.sum(state.theta**2)
        )
        z_norm = np.sqrt(
            np.sum(w_a * state.y[g] ** 2)
            + np.sum(w_b * state.b_hat**2)
            + (kappa * problem.n_agents * state.theta_bar**2 if equal_kw else 0.0)
        )
        u_norm = np.sqrt(
            np.sum(w_a * state.u_a**2)
            + np.sum(w_b * state.u_b**2)
            + kappa * np.sum(state.u_theta**2)
        )
        eps_pri, eps_dual = thresholds(
            n_coupling, n_coupling, tol, max(x_norm, z_norm), state.rho * u_norm
        )
        history.record(
            r_norm,
            s_norm,
            eps_pri,
            eps_dual,
            state.rho,
            active_limits=coordinator.state["active_limits"],
        )
        rounds.update()
        if r_norm <= eps_pri and s_norm <= eps_dual:
            break
        # 5. Anderson extrapolation (or its rejection), adaptive penalty (scaled duals rescaled)
        factor = balancing.factor(r_norm, s_norm, history.iterations)
        s_next = anderson.next_point(s_in, state.vector(), metric_sqrt, extrapolate=factor == 1.0)
        state.set_vector(s_next)
        if factor != 1.0:
            state.rho *= factor
            state.u_a /= factor
            state.u_b /= factor
            state.u_theta /= factor
    rounds.close()
    return state, history
