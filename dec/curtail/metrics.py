"""Fairness and curtailment metrics."""

from __future__ import annotations

import numpy as np


def jain_index(x: np.ndarray) -> float:
    """Jain's fairness index ``(Σx)² / (n Σx²)`` of non-negative shares, in [1/n, 1].

    All-zero shares (nobody curtailed) count as perfectly fair: 1. Rounding can put
    equal shares a few ulps above 1; the index is clipped to 1.
    """
    x = np.asarray(x, dtype=float)
    total_sq = float(np.sum(x**2))
    if len(x) == 0 or total_sq <= 0.0:
        return 1.0
    return min(1.0, float(np.sum(x) ** 2 / (len(x) * total_sq)))
