"""Anderson acceleration of an ADMM run, seen as a fixed-point iteration.

One ADMM round maps the consensus variables and scaled duals ``s`` to ``T(s)``; ADMM
is the iteration ``s ← T(s)``, which converges slowly (linearly, often with a rate
close to 1) on linear and near-degenerate problems such as minimum curtailment.
Anderson acceleration (type II, Walker & Ni, "Anderson acceleration for fixed-point
iterations", SIAM J. Numer. Anal. 2011) replaces ``T(s_k)`` by the combination of the
last ``m + 1`` outputs whose combined fixed-point residual ``g = T(s) − s`` is
smallest:

    γ = argmin ‖g_k − ΔG γ‖,    s_{k+1} = T(s_k) − ΔT γ,

with ``ΔG`` and ``ΔT`` the differences of successive residuals and outputs, in the
metric of the ADMM residuals. As in Anderson-accelerated Douglas–Rachford splitting
(Fu, Zhang & Boyd, "Anderson accelerated Douglas–Rachford splitting", SIAM J. Sci.
Comput. 2020), the least-squares problem is regularised and every extrapolated point
must earn its place: if the fixed-point residual at an extrapolated point is larger
than at the point before it, the extrapolation is rejected, the iteration resumes from
the plain ADMM step it replaced and the memory is cleared (also when a plain step
increases the residual). The iteration thus falls back to ADMM wherever extrapolation
does not help, at the cost of one round per rejection. A change of the penalty ρ
changes ``T``: the caller then asks for the rejection test only, which clears the
memory.

Distributed, the extrapolation needs only the ``m × m`` Gram matrix ``ΔGᵀ ΔG`` and
``ΔGᵀ g_k``, sums of the agents' own contributions (one all-reduce), and the
coefficients ``γ`` broadcast back: each agent combines its own history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class AndersonAcceleration:
    """Type-II Anderson acceleration with restarts.

    Parameters
    ----------
    memory
        Number of past differences ``m`` (0: no acceleration, every step is ``T(s)``).
    regularisation
        Tikhonov weight ``η`` of the least-squares problem, relative to
        ``‖ΔG‖² + ‖ΔT‖²`` (A2DR's choice: large steps with little change of the residual
        get small coefficients).

    Attributes
    ----------
    extrapolations, rejections
        Numbers of extrapolated steps taken and rejected so far.
    """

    memory: int = 5
    regularisation: float = 1e-8
    extrapolations: int = 0
    rejections: int = 0
    _last: tuple[np.ndarray, np.ndarray] | None = None
    _d_out: list[np.ndarray] = field(default_factory=list)
    _d_res: list[np.ndarray] = field(default_factory=list)
    _gram: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    _sizes: list[float] = field(default_factory=list)
    _last_norm: float = math.inf
    _extrapolated: bool = False

    def reset(self) -> None:
        """Forget the history (after the map ``T`` has changed, e.g. a new penalty)."""
        self._last = None
        self._d_out.clear()
        self._d_res.clear()
        self._gram = np.zeros((0, 0))
        self._sizes.clear()
        self._last_norm = math.inf
        self._extrapolated = False

    def _push(self, d_out: np.ndarray, d_res: np.ndarray, metric_sqrt: np.ndarray) -> None:
        """Append one difference pair, dropping the oldest beyond the memory (O(m·n))."""
        if len(self._d_res) == self.memory:
            del self._d_out[0], self._d_res[0], self._sizes[0]
            self._gram = self._gram[1:, 1:]
        cross = np.array([float(d @ d_res) for d in self._d_res])
        own = float(d_res @ d_res)
        m = len(cross)
        gram = np.empty((m + 1, m + 1))
        gram[:m, :m], gram[:m, m], gram[m, :m], gram[m, m] = self._gram, cross, cross, own
        self._gram = gram
        self._d_out.append(d_out)
        self._d_res.append(d_res)
        self._sizes.append(own + float(np.sum((metric_sqrt * d_out) ** 2)))

    def next_point(
        self,
        s_in: np.ndarray,
        s_out: np.ndarray,
        metric_sqrt: np.ndarray,
        extrapolate: bool = True,
    ) -> np.ndarray:
        """Return the next iterate, given one plain step ``s_out = T(s_in)``.

        Parameters
        ----------
        s_in, s_out
            The point the step started from and its image.
        metric_sqrt
            Square roots of the positive diagonal metric of the residual, per component.
        extrapolate
            False when ``T`` is about to change (new penalty): only the rejection test is
            made, and the memory is cleared.

        Returns
        -------
        numpy.ndarray
            If ``s_in`` was extrapolated and its residual is larger than that of the point
            before, the plain step from that point (the extrapolation is rejected); else
            the extrapolated point, or ``s_out`` itself (no memory yet, a restart, or
            ``extrapolate`` false).

        Notes
        -----
        The differences and their Gram matrix are updated incrementally: a call costs
        ``O(m·n)`` for ``n`` components (``m + 2`` inner products and one combination).
        """
        if self.memory == 0:
            return s_out
        residual = metric_sqrt * (s_out - s_in)
        norm = float(np.linalg.norm(residual))
        if norm > self._last_norm:
            fallback = self._last[0] if self._extrapolated else s_out
            self.rejections += self._extrapolated
            self.reset()
            return fallback
        if not extrapolate:
            self.reset()
            return s_out
        if self._last is not None:
            last_out, last_res = self._last
            self._push(s_out - last_out, residual - last_res, metric_sqrt)
        self._last, self._last_norm = (s_out, residual), norm
        self._extrapolated = bool(self._d_res)
        if not self._extrapolated:
            return s_out
        m = len(self._d_res)
        gram = self._gram + self.regularisation * max(sum(self._sizes), 1e-300) * np.eye(m)
        gamma = np.linalg.solve(gram, [float(d @ residual) for d in self._d_res])
        self.extrapolations += 1
        step = s_out.copy()
        for g, d in zip(gamma, self._d_out, strict=True):
            step -= g * d
        return step
