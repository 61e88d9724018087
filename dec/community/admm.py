"""``mpc-distributed``: the MPC window problem solved by ADMM between house and community agents.

The window problem of :mod:`dec.community.mpc` is a sharing problem (Boyd et al. 2011,
§7.3): ``min Σ_i f_i(x_i) + g(Σ_i x_i)`` with ``x_i`` house ``i``'s consumption
including its battery (kW per step), ``f_i`` its battery limits and tie-breaks, and
``g`` the community's import. Scaled ADMM, one round::

    x_i ← argmin f_i(x_i) + ρ/2 Δt ‖x_i - x_i + x̄ - z̄ + u‖²      house agents (batched)
    z̄   ← argmin g(N z̄) + Nρ/2 Δt ‖z̄ - x̄ - u‖²                   community agent (closed form)
    u   ← u + x̄ - z̄

Residuals (``r_i = x̄ - z̄``, ``s_i = ρ Δ(x_i - x̄ + z̄)``) and the stopping test come from
:mod:`dec.admm.convergence`, with tolerances far tighter than its defaults
(``eps_abs = eps_rel = 1e-7``, scenario field ``admm``); ρ adapts by residual balancing.
Tight, because matching the import of one window is not enough: the window's import
optimum is degenerate (many schedules give it), the tie-breaks of :mod:`dec.community.mpc`
pick one, and only a schedule accurate to about 1e-5 kW leaves the next window the same
SoC as the centralized solve (with ``eps = 1e-5`` and a ten times smaller smoothing
tie-break, the import of a window matched within 1e-4 but SoCs after the applied day
were up to 1.5 kWh apart, and over a week of 40 kWh batteries the import differed by 19 %).
The local solves are inexact (up to ``inner_iter`` warm-started OSQP iterations per
round, OSQP tolerance 1e-8), so rounds stop only when the local solves' own residuals
are small too (``INNER_TOLERANCE``): inexact solves can make successive iterates look
converged, and their error drifts the SoC. Each window starts from the previous window's
solution shifted by the applied steps.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from agents.community import CommunityAgent
from dec.admm.convergence import History, ResidualBalancing, Tolerances, thresholds
from dec.admm.engine import Engine, split
from dec.community.battery import Batteries
from dec.community.houseqp import HouseChunk, bounds, local_update
from dec.community.mpc import Window, smooth_weights
from dec.errors import SolverFailed

_TOKENS = itertools.count()
#: Largest OSQP residual (primal or dual, kW-scale) of the local solves at which rounds may stop.
INNER_TOLERANCE = 1e-6


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

    """

    batteries: Batteries
    window_steps: int
    apply_steps: int
    time_step_h: float
    community: CommunityAgent
    engine: Engine
    settings: dict[str, float]
    stats: list[WindowStats] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.batteries.n
        token = next(_TOKENS)
        self._slices = split(n, getattr(self.engine, "n_workers", 1))
        self._chunks = [
            HouseChunk(
                key=(token, k),
                eta_ch=self.batteries.eta_ch[s],
                eta_dis=self.batteries.eta_dis[s],
                smooth_weight=smooth_weights(self.batteries.p_kw[s]),
                steps=self.window_steps,
                time_step_h=self.time_step_h,
            )
            for k, s in enumerate(self._slices)
        ]
        self._rho = float(self.settings["rho"])
        self._warm: dict | None = None

    def _initial_state(self, window: Window) -> tuple[np.ndarray, np.ndarray, list]:
        if self._warm is None:
            return (
                window.load_kw.copy(),
                np.zeros(self.window_steps),
                [(None, None)] * len(self._chunks),
            )
        k = self.apply_steps
        warm = self._warm
        starts = [
            (
                _shift(x.reshape(c.m, 3, self.window_steps), k).ravel(),
                _shift(y.reshape(c.m, 4, self.window_steps), k).ravel(),
            )
            for c, (x, y) in zip(self._chunks, warm["xy"], strict=True)
        ]
        battery_kw = _shift(warm["x_kw"] - warm["load_kw"], k)
        return window.load_kw + battery_kw, _shift(warm["u"], k), starts

    def __call__(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Run ADMM on one window; return the planned charging and discharging powers, kW."""
        n, steps = window.load_kw.shape
        tol = Tolerances(
            self.settings["eps_abs"], self.settings["eps_rel"], int(self.settings["max_iter"])
        )
        balancing = ResidualBalancing()
        x, u, xy = self._initial_state(window)
        z_bar = (
            x.mean(axis=0) if self._warm is None else _shift(self._warm["z_bar"], self.apply_steps)
        )
        limits = [
            bounds(
                c,
                window.p_max_kw[s],
                window.e_start_kwh[s],
                window.e_end_min_kwh[s],
                window.e_max_kwh[s],
            )
            for c, s in zip(self._chunks, self._slices, strict=True)
        ]
        history = History()
        ch = np.zeros((n, steps))
        dis = np.zeros((n, steps))
        for _ in range(tol.max_iter):
            rho = self._rho
            x_bar = x.mean(axis=0)
            target = x - x_bar + z_bar - u - window.load_kw
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
                }
                for c, s, (lo, up), w in zip(self._chunks, self._slices, limits, xy, strict=True)
            ]
            replies = self.engine.map(local_update, messages)
            _check_replies(replies, window.start)
            for s, reply in zip(self._slices, replies, strict=True):
                ch[s], dis[s] = reply["ch_kw"], reply["dis_kw"]
            xy = [(r["x"], r["y"]) for r in replies]
            x_new = window.load_kw + ch - dis
            x_bar_new = x_new.mean(axis=0)
            z_bar_new = self.community.update_target(x_bar_new, u, rho, window.pv_kw, n)
            u = u + x_bar_new - z_bar_new
            # residuals of the sharing form: z_i = x_i - x̄ + z̄
            z_old = x - x_bar + z_bar
            z_new = x_new - x_bar_new + z_bar_new
            r_norm = math.sqrt(n) * float(np.linalg.norm(x_bar_new - z_bar_new))
            s_norm = rho * float(np.linalg.norm(z_new - z_old))
            eps_pri, eps_dual = thresholds(
                n * steps,
                n * steps,
                tol,
                max(float(np.linalg.norm(x_new)), float(np.linalg.norm(z_new))),
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
            x, z_bar = x_new, z_bar_new
            if r_norm <= eps_pri and s_norm <= eps_dual and inner_residual <= INNER_TOLERANCE:
                break
            factor = balancing.factor(r_norm, s_norm, history.iterations)
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
        self._warm = {"xy": xy, "x_kw": x, "load_kw": window.load_kw, "u": u, "z_bar": z_bar}
        return ch, dis
