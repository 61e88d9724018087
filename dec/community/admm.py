"""``mpc-distributed``: the MPC window problem solved by ADMM between house and community agents.

The window problem of :mod:`dec.community.mpc` is a sharing problem (Boyd et al. 2011,
§7.3): ``min Σ_i f_i(x_i) + g(Σ_i x_i)`` with ``x_i`` house ``i``'s consumption
including its battery (kW per step), ``f_i`` its battery limits and tie-breaks, and
``g`` the community's import. Scaled ADMM, one round, from the houses' targets
``z_i = x_i - x̄ + z̄`` and the scaled duals ``u``::

    x_i ← argmin f_i(x_i) + ρ/2 Δt ‖x_i - z_i + u‖²              house agents (batched)
    z̄   ← argmin g(N z̄) + Nρ/2 Δt ‖z̄ - x̄ - u‖²                   community agent (closed form)
    u   ← u + x̄ - z̄,    z_i ← x_i - x̄ + z̄

Residuals (``r_i = x̄ - z̄``, ``s_i = ρ Δz_i``) and the stopping test come from
:mod:`dec.admm.convergence`, with tolerances far tighter than its defaults
(``eps_abs = eps_rel = 1e-7``, scenario field ``admm``); ρ adapts by residual balancing,
and the rounds ``(z, u) ← T(z, u)`` are Anderson-accelerated (:mod:`dec.admm.anderson`).
Tight, because matching the import of one window is not enough: the window's import
optimum is degenerate (many schedules give it), the tie-breaks of :mod:`dec.community.mpc`
pick one, and only a schedule accurate to about 1e-5 kW leaves the next window the same
SoC as the centralized solve (with ``eps = 1e-5`` and a ten times smaller smoothing
tie-break, the import of a window matched within 1e-4 but SoCs after the applied day
were up to 1.5 kWh apart, and over a week of 40 kWh batteries the import differed by 19 %).

The local solves are inexact at first (up to ``inner_iter`` warm-started OSQP iterations
per round, OSQP tolerance 1e-8): cheap, but their error is a floor the ADMM residuals
can hover over for hundreds of rounds (on a January week the rounds went on only because
OSQP had not reached its tolerance, at a small ρ; with a 150 kWh battery among 2 to
10 kWh ones, the inexact solves' error kept the residuals between 0.05 and 0.2 for 20,000
rounds). Once both residuals are within :data:`EXACT_WITHIN` of their tolerances, or once
the rounds stall (no halving of the residuals' distance to their tolerances in
:data:`STALL_ROUNDS` rounds), the local problems are solved exactly
(Clarabel, about 5 times the cost of an inexact round) for the rest of the window, and
rounds stop only when the local solves' residuals are small too (``INNER_TOLERANCE``):
inexact solves can make successive iterates look converged, and their error drifts the
SoC. Each window starts from the previous window's solution shifted by the applied steps.

A house's local problem does not involve its load (its target for ``ch - dis`` is
``z_i - u - load_i = b_i - b̄ + z̄ - u - mean load``): houses whose batteries are alike in
ratings and state get the same message and reply the same, round after round, so one of
them solves for all (``group_identical``, as ``mpc`` plans them as one row).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from agents.community import CommunityAgent
from dec.admm.anderson import AndersonAcceleration
from dec.admm.convergence import History, ResidualBalancing, Tolerances, thresholds
from dec.admm.engine import Engine, split
from dec.community.battery import Batteries
from dec.community.houseqp import HouseChunk, bounds, local_update
from dec.community.mpc import Window, identical_groups, smooth_weights
from dec.errors import SolverFailed

_TOKENS = itertools.count()
#: Largest OSQP residual (primal or dual, kW-scale) of the local solves at which rounds may stop.
INNER_TOLERANCE = 1e-6
#: Once both ADMM residuals are within this factor of their tolerances, the local problems
#: are solved exactly (Clarabel) for the rest of the window.
EXACT_WITHIN = 10.0
#: ... and also once the rounds stall: when the larger of the residuals' ratios to their
#: tolerances has not halved (:data:`STALL_IMPROVEMENT`) in this many rounds.
STALL_ROUNDS = 100
STALL_IMPROVEMENT = 0.5


def _shift(values: np.ndarray, steps: int) -> np.ndarray:
    """Move a series ``steps`` to the left along its last axis, repeating its last value."""
    if steps <= 0:
        return values
    tail = np.repeat(values[..., -1:], steps, axis=-1)
    return np.concatenate([values[..., steps:], tail], axis=-1)


def _check_replies(replies: list[dict], start: int) -> None:
    """Raise :class:`SolverFailed` if a house chunk's local solve returned non-finite powers.

    OSQP may stop a local solve at its iteration limit (the rounds go on), but its powers
    must be numbers: NaN or inf would spread through the shared target.
    """
    for reply in replies:
        if not (np.isfinite(reply["ch_kw"]).all() and np.isfinite(reply["dis_kw"]).all()):
            raise SolverFailed(
                f"the house agents' local problems of the MPC window starting at step {start}",
                "OSQP",
                "non-finite charging or discharging powers",
            )


@dataclass
class WindowStats:
    """ADMM figures of one window."""

    start: int
    iterations: int
    converged: bool
    primal_residual: float
    dual_residual: float


@dataclass
class DistributedPlanner:
    """ADMM planner of a receding-horizon run (a :data:`dec.community.mpc.Planner`).

    Parameters
    ----------
    batteries
        The houses' batteries.
    window_steps, apply_steps
        Window length and applied steps (for warm starts).
    time_step_h
        Step length, h.
    community
        The community agent (updates the shared target).
    engine
        Runs the house chunks' local updates.
    settings
        ``rho``, ``eps_abs``, ``eps_rel``, ``max_iter``, ``inner_iter``.
    group_identical
        One house of every group of interchangeable batteries solves for its group
        (exact; see :meth:`_groups`), as ``mpc`` plans them as one row.

    """

    batteries: Batteries
    window_steps: int
    apply_steps: int
    time_step_h: float
    community: CommunityAgent
    engine: Engine
    settings: dict[str, float]
    group_identical: bool = True
    anderson_memory: int = 5
    stats: list[WindowStats] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rho = float(self.settings["rho"])
        self._warm: dict | None = None
        self._grouping = b""
        self._chunks: list[HouseChunk] = []
        self._slices: list[slice] = []

    def _groups(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Return the houses that solve (one per group) and every house's group.

        Without ``group_identical`` every house solves its own problem. The chunks of
        solving houses are rebuilt when the groups change.
        """
        n = self.batteries.n
        if self.group_identical:
            first, label, _ = identical_groups(self.batteries, window)
        else:
            first, label = np.arange(n), np.arange(n)
        grouping = np.concatenate([first, label]).tobytes()
        if grouping != self._grouping:
            self._grouping = grouping
            token = next(_TOKENS)
            b = self.batteries
            self._slices = split(len(first), getattr(self.engine, "n_workers", 1))
            self._chunks = [
                HouseChunk(
                    key=(token, k),
                    eta_ch=b.eta_ch[first[s]],
                    eta_dis=b.eta_dis[first[s]],
                    smooth_weight=smooth_weights(b.p_kw[first[s]]),
                    steps=self.window_steps,
                    time_step_h=self.time_step_h,
                )
                for k, s in enumerate(self._slices)
            ]
        return first, label

    def _initial_state(self, window: Window, first: np.ndarray) -> tuple:
        """Return the starting consumptions, scaled duals and the chunks' OSQP warm starts."""
        if self._warm is None:
            return (
                window.load_kw.copy(),
                np.zeros(self.window_steps),
                [(None, None)] * len(self._chunks),
            )
        k = self.apply_steps
        warm = self._warm
        primal = _shift(warm["primal"][first], k)
        dual = _shift(warm["dual"][first], k)
        starts = [(primal[s].ravel(), dual[s].ravel()) for s in self._slices]
        battery_kw = _shift(warm["x_kw"] - warm["load_kw"], k)
        return window.load_kw + battery_kw, _shift(warm["u"], k), starts

    def __call__(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Run ADMM on one window; return the planned charging and discharging powers, kW."""
        n, steps = window.load_kw.shape
        tol = Tolerances(
            self.settings["eps_abs"], self.settings["eps_rel"], int(self.settings["max_iter"])
        )
        balancing = ResidualBalancing()
        first, label = self._groups(window)
        x, u, xy = self._initial_state(window, first)
        z_bar = (
            x.mean(axis=0) if self._warm is None else _shift(self._warm["z_bar"], self.apply_steps)
        )
        limits = [
            bounds(
                c,
                window.p_max_kw[first[s]],
                window.e_start_kwh[first[s]],
                window.e_end_min_kwh[first[s]],
                window.e_max_kwh[first[s]],
            )
            for c, s in zip(self._chunks, self._slices, strict=True)
        ]
        history = History()
        anderson = AndersonAcceleration(self.anderson_memory)
        # the iteration's state: the houses' targets z_i = x_i - x̄ + z̄ and the scaled duals u
        z = x - x.mean(axis=0) + z_bar
        metric_sqrt = np.concatenate([np.ones(n * steps), np.full(steps, math.sqrt(n))])
        ch = np.zeros((len(first), steps))
        dis = np.zeros((len(first), steps))
        exact = False
        best_progress, best_round = math.inf, 0
        for round_ in range(tol.max_iter):
            rho = self._rho
            s_in = np.concatenate([z.ravel(), u])
            target = (z - u - window.load_kw)[first]
            messages = [
                {
                    "chunk": c,
                    "rho": rho,
                    "target_kw": target[s],
                    "lower": lo,
                    "upper": up,
                    "x": w[0],
                    "y": w[1],
                    "max_iter": self.settings["inner_iter"],
                    "exact": exact,
                }
                for c, s, (lo, up), w in zip(self._chunks, self._slices, limits, xy, strict=True)
            ]
            replies = self.engine.map(local_update, messages)
            _check_replies(replies, window.start)
            for s, reply in zip(self._slices, replies, strict=True):
                ch[s], dis[s] = reply["ch_kw"], reply["dis_kw"]
            xy = [(r["x"], r["y"]) for r in replies]
            x = window.load_kw + ch[label] - dis[label]
            x_bar = x.mean(axis=0)
            z_bar = self.community.update_target(x_bar, u, rho, window.pv_kw, n)
            u = u + x_bar - z_bar
            z_new = x - x_bar + z_bar
            r_norm = math.sqrt(n) * float(np.linalg.norm(x_bar - z_bar))
            s_norm = rho * float(np.linalg.norm(z_new - z))
            z = z_new
            eps_pri, eps_dual = thresholds(
                n * steps,
                n * steps,
                tol,
                max(float(np.linalg.norm(x)), float(np.linalg.norm(z))),
                rho * math.sqrt(n) * float(np.linalg.norm(u)),
            )
            inner_residual = max(r["residual"] for r in replies)
            history.record(
                r_norm,
                s_norm,
                eps_pri,
                eps_dual,
                rho,
                window_start=window.start,
                inner_residual=inner_residual,
                inner_iterations=sum(r["iterations"] for r in replies),
            )
            if r_norm <= eps_pri and s_norm <= eps_dual and inner_residual <= INNER_TOLERANCE:
                break
            progress = max(r_norm / eps_pri, s_norm / eps_dual)
            if progress < STALL_IMPROVEMENT * best_progress:
                best_progress, best_round = progress, round_
            if progress <= EXACT_WITHIN or round_ - best_round >= STALL_ROUNDS:
                exact = True  # finishing or stalled: local solves to Clarabel's accuracy
            factor = balancing.factor(r_norm, s_norm, history.iterations)
            s_next = anderson.next_point(
                s_in, np.concatenate([z.ravel(), u]), metric_sqrt, extrapolate=factor == 1.0
            )
            z, u = s_next[: n * steps].reshape(n, steps), s_next[n * steps :]
            if factor != 1.0:
                self._rho *= factor
                u = u / factor
        converged = history.converged and history.rows[-1]["inner_residual"] <= INNER_TOLERANCE
        self.stats.append(
            WindowStats(
                window.start,
                history.iterations,
                converged,
                history.rows[-1]["primal_residual"],
                history.rows[-1]["dual_residual"],
            )
        )
        self.history.extend(history.rows)
        self._warm = {
            "primal": np.concatenate([p.reshape(-1, 3, steps) for p, _ in xy])[label],
            "dual": np.concatenate([d.reshape(-1, 4, steps) for _, d in xy])[label],
            "x_kw": x,
            "load_kw": window.load_kw,
            "u": u,
            "z_bar": z_bar,
        }
        return ch[label], dis[label]
