"""PV agent: a rooftop or utility-scale PV inverter (one pandapower ``sgen``).

The agent's local subproblem in fair curtailment is a proximal step on its own
curtailment fraction ``a`` (of available power), reactive fraction ``b`` (of its
kVA rating, negative = absorbing) and, for equal-kW fairness, its copy ``θ`` of
the common curtailment (in units of the mean available power). Every scheme has
a closed form, written here once and vectorised over a batch of agents
(:func:`curtail_local_update`), so engines can run chunks of agents anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import DecAgent


class PVAgent(DecAgent):
    """A PV unit: kWp in ``spec.p_rated_kw``, inverter kVA in ``spec.s_rated_kva``."""

    agent_type = "pv"


@dataclass
class CurtailLocalMessage:
    """What the coordinator sends a chunk of PV agents each round (explicit, picklable).

    Attributes
    ----------
    scheme
        Fairness scheme (``efficient``, ``feeder``, ``transformer``, ``equal-kw``, ``proportional``).
    rho
        ADMM penalty.
    target_a, target_b, target_theta
        Consensus targets minus scaled duals (``z − u``) for the curtailment fraction,
        the reactive fraction (None without reactive power) and the equal-kW share
        (None unless ``equal-kw``).
    w_a
        Available power over the mean available power of all agents (metric weight of ``a``).
    w_b
        kVA rating over the mean available power (metric weight of ``b``).
    b_max
        Largest reactive absorption as a fraction of the kVA rating.
    theta_weight
        Metric weight ``κ`` of the equal-kW share's copy.
    reg
        Quadratic regularisation of linear curtailment costs.
    q_cost
        Quadratic cost of reactive power.
    """

    scheme: str
    rho: float
    target_a: np.ndarray
    target_b: np.ndarray | None
    target_theta: np.ndarray | None
    w_a: np.ndarray
    w_b: np.ndarray
    b_max: np.ndarray
    theta_weight: float
    reg: float
    q_cost: float


@dataclass
class CurtailLocalReply:
    """The chunk's new local decisions."""

    a: np.ndarray
    b: np.ndarray | None
    theta: np.ndarray | None


def curtail_local_update(msg: CurtailLocalMessage) -> CurtailLocalReply:
    """Solve every agent's local proximal problem of fair curtailment in closed form.

    Each agent minimises its own cost plus ``ρ/2 [w_a (a − m_a)² + w_b (b − m_b)² + κ (θ − m_θ)²]``
    over its own bounds ``0 ≤ a ≤ 1``, ``−b_max ≤ b ≤ 0``:

    - ``efficient``, ``feeder``, ``transformer``: cost ``w_a (a + reg·a²/2)`` (curtailed kW over
      the mean kW), so ``a = clip((ρ m_a − 1) / (ρ + reg), 0, 1)``;
    - ``proportional``: cost ``−log(1 − a)``; with ``k = ρ w_a`` the stationarity condition is a
      quadratic in ``y = 1 − a``: ``y = ((1 − m_a) + √((1 − m_a)² + 4/k)) / 2``;
    - ``equal-kw``: cost ``θ`` (at the coordinator) plus ``reg · w_a a²/2`` with ``w_a a ≤ θ``
      (curtailed kW at most the common share): the unconstrained minimiser
      ``a = clip(ρ m_a / (ρ + reg), 0, 1)``, ``θ = m_θ`` if it satisfies the coupling, else the
      minimiser on ``θ = w_a a``: ``a = clip(ρ (m_a + κ m_θ) / (reg + ρ (1 + κ w_a)), 0, 1)``;
    - reactive power, all schemes: cost ``q_cost · w_b b² / 2``, so ``b = clip(ρ m_b / (ρ + q_cost))``.
    """
    rho, m_a = msg.rho, msg.target_a
    theta = None
    if msg.scheme == "proportional":
        k = rho * msg.w_a
        one_minus = 1.0 - m_a
        a = np.maximum(1.0 - 0.5 * (one_minus + np.sqrt(one_minus**2 + 4.0 / k)), 0.0)
    elif msg.scheme == "equal-kw":
        m_t = msg.target_theta
        a = np.clip(rho * m_a / (rho + msg.reg), 0.0, 1.0)
        theta = m_t.copy()
        bound = msg.w_a * a > theta
        kappa = msg.theta_weight
        a_on = np.clip(
            rho * (m_a + kappa * m_t) / (msg.reg + rho * (1.0 + kappa * msg.w_a)), 0.0, 1.0
        )
        a = np.where(bound, a_on, a)
        theta = np.where(bound, msg.w_a * a_on, theta)
    else:
        a = np.clip((rho * m_a - 1.0) / (rho + msg.reg), 0.0, 1.0)
    b = None
    if msg.target_b is not None:
        b = np.clip(rho * msg.target_b / (rho + msg.q_cost), -msg.b_max, 0.0)
    return CurtailLocalReply(a=a, b=b, theta=theta)
