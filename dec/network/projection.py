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
on the active ones, as in a common curtailment fraction seen at many buses).

``A`` is applied by O(nodes) tree sweeps of the linear model (``z ↦ A z``,
``y ↦ Aᵀ y``); the dense node × node matrix is never formed. On a small map the rows
of the active limits, and every row met so far, are also kept dense (nodes × components
at most ``dense_floats``): the Gram products are then matrix-vector products and a limit
costs one sweep. On a large map nothing of size active × components is stored: adding a
limit ``p`` costs four sweeps (its row ``a_p = Aᵀ e_p``; the column ``A W⁻¹ a_p``,
whose entries at the active nodes are the new row of the Gram matrix
``A_act W⁻¹ A_actᵀ``; the point ``z = w − W⁻¹ A_actᵀ λ``; its voltages).

The Cholesky factor of the Gram matrix grows by one row per added limit and is
downdated (a rank-one update) when one is dropped, O(active²) each. The active set, its
factor and multipliers of one call warm-start the next, so a round of ADMM usually
costs a few sweeps. The result meets the limits to ``tol_pu``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg.blas import dtrsv

from dec.errors import SubproblemInfeasible

#: Largest nodes × components for which the rows of the active limits are stored (32 MB).
DENSE_FLOATS = 4_000_000


@dataclass
class AffineVoltageMap:
    """``v(z) = v_base + A z`` given by its operators.

    Attributes
    ----------
    v_base
        Voltage at ``z = 0`` at every constrained node, pu.
    apply
        ``z -> A z`` (pu), vectorised over the constrained nodes.
    apply_transpose
        ``y -> Aᵀ y``: node weights to a gradient in ``z`` (``Aᵀ e_k`` is the sensitivity
        of node ``k``'s voltage to ``z``).
    v_min, v_max
        Limits of the voltage at every constrained node, pu (±inf: unconstrained; None:
        the map carries no limits).
    blocks
        Independent parts of the map, or None: for each, the components of ``z`` it holds
        and the map (with its limits) of the nodes that those components alone move. Every
        component is in one block; nodes in no block do not move and meet their limits.
    """

    v_base: np.ndarray
    apply: Callable[[np.ndarray], np.ndarray]
    apply_transpose: Callable[[np.ndarray], np.ndarray]
    v_min: np.ndarray | None = None
    v_max: np.ndarray | None = None
    blocks: list[tuple[np.ndarray, AffineVoltageMap]] | None = None

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Voltage at every constrained node, pu."""
        return self.v_base + self.apply(z)

    def row(self, k: int) -> np.ndarray:
        """``A[k, :]``: the sensitivity of node ``k``'s voltage to ``z``."""
        unit = np.zeros(len(self.v_base))
        unit[k] = 1.0
        return self.apply_transpose(unit)


def _drop_from_cholesky(lower: np.ndarray, drop: int) -> np.ndarray:
    """Cholesky factor of ``L Lᵀ`` without row and column ``drop``, O(n²).

    With ``L = [[L11, 0, 0], [l21ᵀ, l22, 0], [L31, l32, L33]]``, the reduced matrix has the
    factor ``[[L11, 0], [L31, L33']]`` with ``L33' L33'ᵀ = L33 L33ᵀ + l32 l32ᵀ``: a rank-one
    update of the trailing block (Givens-style, stable).
    """
    kept = np.delete(np.delete(lower, drop, axis=0), drop, axis=1)
    x = lower[drop + 1 :, drop].copy()
    tail = kept[drop:, drop:]
    for k in range(len(x)):
        diag = tail[k, k]
        r = np.hypot(diag, x[k])
        c, s = r / diag, x[k] / diag
        tail[k, k] = r
        tail[k + 1 :, k] = (tail[k + 1 :, k] + s * x[k + 1 :]) / c
        x[k + 1 :] = c * x[k + 1 :] - s * tail[k + 1 :, k]
    return kept


def _solve_lower(lower: np.ndarray, rhs: np.ndarray, transposed: bool = False) -> np.ndarray:
    """Solve ``L x = rhs`` (or ``Lᵀ x = rhs``) with BLAS ``trsv``.

    The C-ordered ``L`` is handed over as its Fortran-ordered transpose, without a copy; the
    direct call costs a quarter of ``scipy.linalg.solve_triangular``'s checks and copies,
    which dominated the small solves of a round.
    """
    return dtrsv(lower.T, rhs, lower=0, trans=0 if transposed else 1)


class _DenseRows:
    """``A_act`` as dense rows (signed), and every row met so far: for small maps.

    Rows live in the first ``size`` rows of a buffer that doubles when full.
    """

    def __init__(self, vmap: AffineVoltageMap, weight: np.ndarray):
        self.vmap, self.weight = vmap, weight
        self.buffer = np.zeros((0, len(weight)))
        self.size = 0
        self.seen: dict[int, np.ndarray] = {}

    @property
    def rows(self) -> np.ndarray:
        return self.buffer[: self.size]

    def limit_row(self, node: int, sign: int, nodes: np.ndarray, signs: np.ndarray) -> tuple:
        """``a_p`` of a limit and ``A_act W⁻¹ a_p``."""
        if node not in self.seen:
            self.seen[node] = self.vmap.row(node)
        a_p = sign * self.seen[node]
        return a_p, self.rows @ (a_p / self.weight)

    def values(self, w: np.ndarray, nodes: np.ndarray, signs: np.ndarray) -> np.ndarray:
        """``A_act w``."""
        return self.rows @ w

    def point(self, w: np.ndarray, lam: np.ndarray, nodes: np.ndarray, signs: np.ndarray):
        """``w − W⁻¹ A_actᵀ λ``."""
        return w - (self.rows.T @ lam) / self.weight

    def add(self, a_p: np.ndarray) -> None:
        if self.size == len(self.buffer):
            grown = np.zeros((max(8, 2 * self.size), len(self.weight)))
            grown[: self.size] = self.rows
            self.buffer = grown
        self.buffer[self.size] = a_p
        self.size += 1

    def drop(self, k: int) -> None:
        self.buffer[k : self.size - 1] = self.buffer[k + 1 : self.size]
        self.size -= 1


class _SweptRows:
    """``A_act`` applied by sweeps of the map, nothing stored: memory O(nodes + agents)."""

    def __init__(self, vmap: AffineVoltageMap, weight: np.ndarray):
        self.vmap, self.weight = vmap, weight

    def limit_row(self, node: int, sign: int, nodes: np.ndarray, signs: np.ndarray) -> tuple:
        """``a_p`` and ``A_act W⁻¹ a_p``, read off the column ``A W⁻¹ a_p``: two sweeps."""
        a_p = sign * self.vmap.row(node)
        return a_p, signs * self.vmap.apply(a_p / self.weight)[nodes]

    def values(self, w: np.ndarray, nodes: np.ndarray, signs: np.ndarray) -> np.ndarray:
        return signs * self.vmap.apply(w)[nodes]

    def point(self, w: np.ndarray, lam: np.ndarray, nodes: np.ndarray, signs: np.ndarray):
        weights = np.zeros(len(self.vmap.v_base))
        weights[nodes] = signs * lam
        return w - self.vmap.apply_transpose(weights) / self.weight

    def add(self, a_p: np.ndarray) -> None:
        """Nothing to store."""

    def drop(self, k: int) -> None:
        """Nothing stored."""


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
    dense_floats
        Rows of ``A`` are stored (dense, faster on small maps) when nodes × components
        is at most this (None: ``DENSE_FLOATS``); otherwise they are applied by sweeps.

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
    dense_floats: int | None = None
    active: list[tuple[int, int]] = field(default_factory=list)
    multipliers: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _lower: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    _nodes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    _signs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _rows: _DenseRows | _SweptRows = field(init=False)

    def __post_init__(self) -> None:
        limit = DENSE_FLOATS if self.dense_floats is None else self.dense_floats
        dense = len(self.vmap.v_base) * len(self.weight) <= limit
        self._rows = (_DenseRows if dense else _SweptRows)(self.vmap, self.weight)

    # --- building blocks -------------------------------------------------------------
    def _rhs(self) -> np.ndarray:
        """``b_act``: the active limits are ``A_act z ≤ b_act`` (rows signed)."""
        nodes, signs = self._nodes, self._signs
        bound = np.where(signs > 0, self.v_max[nodes], self.v_min[nodes])
        return signs * (bound - self.vmap.v_base[nodes])

    def _point(self, w: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """``z = w − W⁻¹ A_actᵀ λ``."""
        if not self.active:
            return w.copy()
        return self._rows.point(w, lam, self._nodes, self._signs)

    def _solve(self, rhs: np.ndarray) -> np.ndarray:
        """``(A_act W⁻¹ A_actᵀ)⁻¹ rhs`` with the Cholesky factor."""
        if not self.active:
            return np.zeros(0)
        return _solve_lower(self._lower, _solve_lower(self._lower, rhs), transposed=True)

    def _add(self, limit: tuple[int, int], a_p: np.ndarray, l_row: np.ndarray, delta: float):
        """Append a limit with row ``a_p`` whose factor row is ``[l_row, delta]``."""
        n = len(self.active)
        lower = np.empty((n + 1, n + 1))
        lower[:n, :n] = self._lower
        lower[:n, n] = 0.0
        lower[n, :n] = l_row
        lower[n, n] = delta
        self._lower = lower
        self.active.append(limit)
        self._nodes = np.append(self._nodes, limit[0])
        self._signs = np.append(self._signs, float(limit[1]))
        self._rows.add(a_p)

    def _drop(self, k: int) -> None:
        """Remove the ``k``-th active limit."""
        del self.active[k]
        self._nodes, self._signs = np.delete(self._nodes, k), np.delete(self._signs, k)
        self._lower = _drop_from_cholesky(self._lower, k)
        self._rows.drop(k)

    def _most_violated(self, z: np.ndarray) -> tuple[float, tuple[int, int]]:
        v = self.vmap(z)
        over, under = v - self.v_max, self.v_min - v
        k_over, k_under = int(np.argmax(over)), int(np.argmax(under))
        if over[k_over] >= under[k_under]:
            return float(over[k_over]), (k_over, 1)
        return float(under[k_under]), (k_under, -1)

    def _warm_start(self, w: np.ndarray) -> np.ndarray:
        """Re-solve the previous active set for the new ``w``; drop limits with negative multipliers.

        Returns the multipliers (one forward sweep, then O(active²) per dropped limit).
        """
        if not self.active:
            return np.zeros(0)
        values = self._rows.values(w, self._nodes, self._signs)
        rhs = self._rhs()
        while self.active:
            lam = self._solve(values - rhs)
            if np.all(lam >= 0.0):
                return lam
            drop = int(np.argmin(lam))
            self._drop(drop)
            values, rhs = np.delete(values, drop), np.delete(rhs, drop)
        return np.zeros(0)

    def project(self, w: np.ndarray) -> np.ndarray:
        """Return the W-weighted projection of ``w`` onto the voltage-feasible set.

        Raises
        ------
        SubproblemInfeasible
            If the voltage limits cannot all be met.
        """
        w = np.asarray(w, dtype=float)
        inv_w = 1.0 / self.weight
        lam = self._warm_start(w)
        max_steps = 20 * len(self.vmap.v_base) + 20
        for _ in range(max_steps):
            z = self._point(w, lam)
            violation, limit = self._most_violated(z)
            if violation <= self.tol_pu:
                self.multipliers = lam
                return z
            node_p, sign_p = limit
            a_p, g_ap = self._rows.limit_row(node_p, sign_p, self._nodes, self._signs)
            g_pp = float(a_p @ (inv_w * a_p))
            lam_p = 0.0
            while True:
                r = self._solve(g_ap)
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
                lam = lam - t * r
                lam_p += t
                violation -= t * kappa
                if t_full <= t_dual:
                    # add the limit: extend the Cholesky factor by one row
                    l_row = _solve_lower(self._lower, g_ap) if self.active else np.zeros(0)
                    delta = np.sqrt(max(g_pp - float(l_row @ l_row), 1e-300))
                    self._add(limit, a_p, l_row, delta)
                    lam = np.append(lam, lam_p)
                    break
                # partial step: drop the blocking limit, downdate, continue with the same limit
                drop = int(blocking[np.argmin(ratios)])
                self._drop(drop)
                lam, g_ap = np.delete(lam, drop), np.delete(g_ap, drop)
        raise SubproblemInfeasible("the network coordinator", "active-set method did not terminate")


class BlockProjection:
    """The projection of a map made of independent blocks: one :class:`VoltageProjection` each.

    The weighted projection separates: each block's components are projected onto its own
    nodes' limits, with its own active set and factor, so the cost grows with the blocks'
    sizes, not with the whole map's (the areas of :meth:`LinearVoltageModel.root_areas`).

    Parameters
    ----------
    vmap
        A map with :attr:`AffineVoltageMap.blocks`.
    weight
        Diagonal metric, one entry per component of ``z``.
    tol_pu, dense_floats
        As for :class:`VoltageProjection`, per block.
    """

    def __init__(
        self,
        vmap: AffineVoltageMap,
        weight: np.ndarray,
        tol_pu: float = 1e-10,
        dense_floats: int | None = None,
    ):
        self.parts = [
            (comp, VoltageProjection(sub, sub.v_min, sub.v_max, weight[comp], tol_pu, dense_floats))
            for comp, sub in vmap.blocks
        ]

    @property
    def active(self) -> list[tuple[int, int, int]]:
        """Active limits ``(block, node in the block, ±1)`` of the last projection."""
        return [(k, *limit) for k, (_, part) in enumerate(self.parts) for limit in part.active]

    def project(self, w: np.ndarray) -> np.ndarray:
        """Return the W-weighted projection of ``w`` (block by block).

        Raises
        ------
        SubproblemInfeasible
            If the voltage limits of a block cannot all be met.
        """
        w = np.asarray(w, dtype=float)
        z = w.copy()
        for comp, part in self.parts:
            z[comp] = part.project(w[comp])
        return z


def make_projection(
    vmap: AffineVoltageMap,
    v_min: np.ndarray,
    v_max: np.ndarray,
    weight: np.ndarray,
    dense_floats: int | None = None,
) -> VoltageProjection | BlockProjection:
    """Return the projection onto a map's voltage limits: by blocks where the map has them."""
    if vmap.blocks:
        return BlockProjection(vmap, weight, dense_floats=dense_floats)
    return VoltageProjection(vmap, v_min, v_max, weight, dense_floats=dense_floats)
