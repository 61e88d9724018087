"""Exact projection onto the voltage-feasible set of a linear voltage model.

The coordinator of a distributed algorithm holds the network constraints
``v_min ≤ v(z) = v_base + A z ≤ v_max`` on an affine voltage map of its decision
vector ``z`` and must solve, every round,

    min_z ½ ‖z − w‖²_W   s.t.   v_min ≤ v_base + A z ≤ v_max,

with ``W`` a positive diagonal metric. This is done by the dual active-set method of
Goldfarb and Idnani (1983), which suits a projection exactly: it starts from the
unconstrained minimiser ``w``, adds the most violated voltage limit, and moves along
the direction that keeps the active limits tight, dropping a limit whose multiplier
would turn negative (a "partial step", which also handles limits that depend linearly
on the active ones, as in a common curtailment fraction seen at many buses). The
Cholesky factor of ``A_act W⁻¹ A_actᵀ`` is extended by one row per added limit.

Every step needs ``A z`` at all nodes and the rows of ``A`` of the active limits
only, each an O(nodes) tree sweep: the dense node × node matrix is never formed.
The active set and multipliers of one call warm-start the next, so a round of ADMM
usually costs a few sweeps. The result meets the limits to ``tol_pu``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import cho_solve, solve_triangular

from dec.errors import SubproblemInfeasible


@dataclass
class AffineVoltageMap:
    """``v(z) = v_base + A z`` given by its operators.

    Attributes
    ----------
    v_base
        Voltage at ``z = 0`` at every constrained node, pu.
    apply
        ``z -> A z`` (pu), vectorised over the constrained nodes.
    row
        ``k -> A[k, :]``: the sensitivity of node ``k``'s voltage to ``z``.
    v_min, v_max
        Limits of the voltage at every constrained node, pu (±inf: unconstrained; None:
        the map carries no limits).
    """

    v_base: np.ndarray
    apply: Callable[[np.ndarray], np.ndarray]
    row: Callable[[int], np.ndarray]
    v_min: np.ndarray | None = None
    v_max: np.ndarray | None = None

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Voltage at every constrained node, pu."""
        return self.v_base + self.apply(z)


@dataclass
class VoltageProjection:
    """Projection onto ``{z : v_min ≤ v(z) ≤ v_max}`` with a warm-started active set.

    Parameters
    ----------
    vmap
        The affine voltage map.
    v_min, v_max
        Limits per constrained node, pu (±inf leaves a node unconstrained).
    weight
        Diagonal metric ``W`` (positive), one entry per component of ``z``.
    tol_pu
        Largest voltage violation accepted at the solution, pu.

    Attributes
    ----------
    active
        Active limits ``(node, +1 upper | −1 lower)`` of the last projection.
    multipliers
        Their multipliers (≥ 0).
    """

    vmap: AffineVoltageMap
    v_min: np.ndarray
    v_max: np.ndarray
    weight: np.ndarray
    tol_pu: float = 1e-10
    active: list[tuple[int, int]] = field(default_factory=list)
    multipliers: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _rows: dict[int, np.ndarray] = field(default_factory=dict)
    _cache: tuple[np.ndarray, np.ndarray] | None = None

    # --- building blocks -------------------------------------------------------------
    def _row(self, limit: tuple[int, int]) -> np.ndarray:
        node, sign = limit
        if node not in self._rows:
            self._rows[node] = self.vmap.row(node)
        return sign * self._rows[node]

    def _rhs(self, limit: tuple[int, int]) -> float:
        node, sign = limit
        bound = self.v_max[node] if sign > 0 else self.v_min[node]
        return sign * (bound - self.vmap.v_base[node])

    def _most_violated(self, z: np.ndarray) -> tuple[float, tuple[int, int]]:
        v = self.vmap(z)
        over, under = v - self.v_max, self.v_min - v
        k_over, k_under = int(np.argmax(over)), int(np.argmax(under))
        if over[k_over] >= under[k_under]:
            return float(over[k_over]), (k_over, 1)
        return float(under[k_under]), (k_under, -1)

    def _cholesky(self, rows: np.ndarray) -> np.ndarray:
        """Lower Cholesky factor of the Gram matrix ``rows W⁻¹ rowsᵀ`` of the active limits."""
        if not len(rows):
            return np.zeros((0, 0))
        return np.linalg.cholesky((rows / self.weight) @ rows.T)

    def _warm_start(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Re-solve the previous active set for the new ``w``; drop limits with negative multipliers.

        The rows and Cholesky factor of the previous call are reused while the set is unchanged.
        """
        rows, lower = self._cache
        while self.active:
            rhs = rows @ w - np.array([self._rhs(a) for a in self.active])
            lam = cho_solve((lower, True), rhs)
            if np.all(lam >= 0.0):
                return rows, lower, lam, w - (rows.T @ lam) / self.weight
            drop = int(np.argmin(lam))
            del self.active[drop]
            rows = np.delete(rows, drop, axis=0)
            lower = self._cholesky(rows)
        return np.zeros((0, len(w))), np.zeros((0, 0)), np.zeros(0), w.copy()

    def project(self, w: np.ndarray) -> np.ndarray:
        """Return the W-weighted projection of ``w`` onto the voltage-feasible set.

        Raises
        ------
        SubproblemInfeasible
            If the voltage limits cannot all be met.
        """
        w = np.asarray(w, dtype=float)
        inv_w = 1.0 / self.weight
        if self._cache is None:
            self._cache = (np.zeros((0, len(w))), np.zeros((0, 0)))
        rows, lower, lam, z = self._warm_start(w)
        max_steps = 20 * len(self.vmap.v_base) + 20
        for _ in range(max_steps):
            violation, limit = self._most_violated(z)
            if violation <= self.tol_pu:
                self.multipliers = lam
                self._cache = (rows, lower)
                return z
            a_p = self._row(limit)
            g_pp = float(a_p @ (inv_w * a_p))
            lam_p = 0.0
            while True:
                g_ap = rows @ (inv_w * a_p)
                r = cho_solve((lower, True), g_ap) if len(rows) else np.zeros(0)
                kappa = g_pp - float(g_ap @ r)
                t_full = violation / kappa if kappa > 1e-12 * g_pp else np.inf
                blocking = np.flatnonzero(r > 1e-14)
                ratios = lam[blocking] / r[blocking]
                t_dual = float(ratios.min()) if len(blocking) else np.inf
                if not np.isfinite(min(t_full, t_dual)):
                    raise SubproblemInfeasible(
                        "the network coordinator", "voltage limits cannot all be met"
                    )
                t = min(t_full, t_dual)
                z = z - t * inv_w * (a_p - rows.T @ r)
                lam = lam - t * r
                lam_p += t
                violation -= t * kappa
                if t_full <= t_dual:
                    # add the limit: extend the Cholesky factor by one row
                    l_row = solve_triangular(lower, g_ap, lower=True) if len(rows) else np.zeros(0)
                    delta = np.sqrt(max(g_pp - float(l_row @ l_row), 1e-300))
                    n_act = len(rows)
                    grown = np.zeros((n_act + 1, n_act + 1))
                    grown[:n_act, :n_act] = lower
                    grown[n_act, :n_act] = l_row
                    grown[n_act, n_act] = delta
                    lower = grown
                    rows = np.vstack([rows, a_p[None, :]])
                    lam = np.append(lam, lam_p)
                    self.active.append(limit)
                    break
                # partial step: drop the blocking limit, refactor, continue with the same limit
                drop = int(blocking[np.argmin(ratios)])
                del self.active[drop]
                rows, lam = np.delete(rows, drop, axis=0), np.delete(lam, drop)
                lower = self._cholesky(rows)
            # re-anchor z on the multipliers (no drift from accumulated steps)
            z = w - (rows.T @ lam) * inv_w
        raise SubproblemInfeasible("the network coordinator", "active-set method did not terminate")
