"""Anderson acceleration of ADMM (dec.admm.anderson): fixed points, rejections, curtail rounds."""

from __future__ import annotations

import numpy as np
import pytest

import feeders
from dec.admm.anderson import AndersonAcceleration
from dec.curtail.problem import CurtailSettings
from dec.curtail.simulate import run_snapshot


def _iterate(memory: int, m: np.ndarray, c: np.ndarray, tol: float = 1e-10):
    """Iterate s <- M s + c with acceleration until the step is below ``tol``."""
    anderson = AndersonAcceleration(memory)
    s = np.zeros(len(c))
    for k in range(10_000):
        out = m @ s + c
        if np.linalg.norm(out - s) < tol:
            return out, k, anderson
        s = anderson.next_point(s, out, np.ones(len(c)))
    raise AssertionError("no convergence")


def test_linear_contraction_reaches_the_fixed_point_in_far_fewer_steps():
    # a symmetric contraction with rate 0.99: plain iteration needs ~2,300 steps to 1e-10
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    m = q @ np.diag(np.linspace(0.0, 0.99, 50)) @ q.T
    c = rng.normal(size=50)
    fixed_point = np.linalg.solve(np.eye(50) - m, c)
    plain, k_plain, _ = _iterate(0, m, c)
    fast, k_fast, anderson = _iterate(5, m, c)
    # both within 1e-10 / (1 - 0.99) of the fixed point
    assert np.abs(plain - fixed_point).max() < 1e-8
    assert np.abs(fast - fixed_point).max() < 1e-8
    assert k_fast < k_plain / 5
    assert anderson.extrapolations > 0


def test_memory_zero_is_the_plain_step():
    anderson = AndersonAcceleration(0)
    out = np.array([1.0, 2.0])
    assert anderson.next_point(np.zeros(2), out, np.ones(2)) is out


def test_an_extrapolation_that_raises_the_residual_is_rejected():
    anderson = AndersonAcceleration(5)
    w = np.ones(1)
    s0, s1, s2 = np.array([0.0]), np.array([1.0]), np.array([1.5])
    assert anderson.next_point(s0, s1, w) is s1  # no memory yet
    extrapolated = anderson.next_point(s1, s2, w)  # residual 0.5 after 1.0: rate 0.5 -> 2.0
    assert extrapolated == pytest.approx([2.0])
    # the step from the extrapolated point moves by 3 (> 0.5): back to the plain step s2
    fallback = anderson.next_point(extrapolated, np.array([5.0]), w)
    assert fallback is s2
    assert anderson.rejections == 1


def test_no_extrapolation_when_the_map_changes():
    anderson = AndersonAcceleration(5)
    w = np.ones(1)
    anderson.next_point(np.array([0.0]), np.array([1.0]), w)
    out = np.array([1.5])
    assert anderson.next_point(np.array([1.0]), out, w, extrapolate=False) is out
    # the memory is cleared: the next step has nothing to extrapolate from
    nxt = np.array([1.7])
    assert anderson.next_point(out, nxt, w) is nxt


@pytest.mark.parametrize("scheme", ["equal-kw", "efficient", "proportional"])
def test_accelerated_curtail_admm_matches_plain_admm_in_fewer_rounds(scheme):
    # cigre_lv default scenario: the accelerated and plain runs reach the same optimum
    # (centralized reference within 1e-6 relative, setpoints within 1e-3 kW of each other),
    # with fewer rounds (plain / accelerated: 336 / 110, 42 / 20, 119 / 26 rounds)
    feeder = feeders.load("cigre_lv")
    runs = {
        memory: run_snapshot(feeder, CurtailSettings(fairness=scheme, anderson_memory=memory))
        for memory in (0, 5)
    }
    rounds = {memory: run.solutions[0].history.iterations for memory, run in runs.items()}
    assert rounds[5] < rounds[0]
    plain, fast = runs[0].solutions[0], runs[5].solutions[0]
    assert fast.converged and plain.converged
    assert fast.objective == pytest.approx(fast.objective_centralized, rel=1e-6)
    assert np.abs(fast.curtailment_kw - plain.curtailment_kw).max() < 1e-3
