"""Stopping test, adaptive penalty and residual history of ADMM.

Notation of Boyd et al., "Distributed Optimization and Statistical Learning via the
Alternating Direction Method of Multipliers" (2011), §3.3-3.4: for
``min f(x) + g(z) s.t. Ax + Bz = c`` with scaled dual ``u = y / ρ``,

- primal residual ``r = Ax + Bz - c``, dual residual ``s = ρ Aᵀ B (z - z_prev)``;
- stop when ``‖r‖ ≤ ε_pri = √p ε_abs + ε_rel max(‖Ax‖, ‖Bz‖, ‖c‖)`` and
  ``‖s‖ ≤ ε_dual = √n ε_abs + ε_rel ‖Aᵀ y‖``;
- residual balancing (§3.4.1): multiply ρ by τ when ``‖r‖ > μ ‖s‖``, divide it
  by τ when ``‖s‖ > μ ‖r‖``; the scaled dual ``u`` must then be divided by the same factor.
  Changes are spaced geometrically (see :class:`ResidualBalancing`) so that ρ settles.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Tolerances:
    """Stopping tolerances and round limit of an ADMM run."""

    eps_abs: float = 1e-4
    eps_rel: float = 1e-3
    max_iter: int = 500


@dataclass
class ResidualBalancing:
    """Adaptive penalty by residual balancing (``mu``, ``tau`` of Boyd §3.4.1); off if ``tau`` = 1.

    Changes of ρ are spaced further and further apart: after the ``k``-th change the next
    one may come no earlier than ``2**k`` rounds later. ρ then settles, so the fixed-penalty
    convergence guarantee applies in the end (without spacing, linear programs can make ρ
    cycle forever), while a badly balanced run can still correct ρ late.
    """

    mu: float = 10.0
    tau: float = 2.0
    changes: int = 0
    last_change: int = 0

    def factor(self, r_norm: float, s_norm: float, iteration: int) -> float:
        """Return the factor by which to multiply ρ after round ``iteration`` (1 = unchanged)."""
        if self.tau == 1.0 or iteration - self.last_change < 2**self.changes:
            return 1.0
        if r_norm > self.mu * s_norm:
            factor = self.tau
        elif s_norm > self.mu * r_norm:
            factor = 1.0 / self.tau
        else:
            return 1.0
        self.changes += 1
        self.last_change = iteration
        return factor


def thresholds(
    n_primal: int,
    n_dual: int,
    eps: Tolerances,
    primal_scale: float,
    dual_scale: float,
) -> tuple[float, float]:
    """Return ``(ε_pri, ε_dual)``.

    Parameters
    ----------
    n_primal
        Number of coupling constraints p (length of r).
    n_dual
        Number of variables n (length of s).
    eps
        Absolute and relative tolerances.
    primal_scale
        ``max(‖Ax‖, ‖Bz‖, ‖c‖)``.
    dual_scale
        ``‖Aᵀ y‖`` (with the unscaled dual ``y = ρ u``).
    """
    eps_pri = math.sqrt(n_primal) * eps.eps_abs + eps.eps_rel * primal_scale
    eps_dual = math.sqrt(n_dual) * eps.eps_abs + eps.eps_rel * dual_scale
    return eps_pri, eps_dual


@dataclass
class History:
    """Residual history of an ADMM run, one row per round."""

    rows: list[dict] = field(default_factory=list)
    _last: float = field(default_factory=time.perf_counter)

    def record(
        self, r_norm: float, s_norm: float, eps_pri: float, eps_dual: float, rho: float, **extra
    ) -> dict:
        """Append one round and return its row (with the round's wall time in seconds)."""
        now = time.perf_counter()
        row = {
            "iteration": len(self.rows) + 1,
            "primal_residual": r_norm,
            "dual_residual": s_norm,
            "eps_primal": eps_pri,
            "eps_dual": eps_dual,
            "rho": rho,
            "round_time_s": now - self._last,
            **extra,
        }
        self._last = now
        self.rows.append(row)
        return row

    @property
    def iterations(self) -> int:
        """Number of rounds run."""
        return len(self.rows)

    @property
    def converged(self) -> bool:
        """Whether the last round met both tolerances."""
        if not self.rows:
            return False
        last = self.rows[-1]
        return (
            last["primal_residual"] <= last["eps_primal"]
            and last["dual_residual"] <= last["eps_dual"]
        )

    def frame(self) -> pd.DataFrame:
        """Return the history as a table, one row per round (columns: residuals, thresholds, ρ, time)."""
        return pd.DataFrame(self.rows)
