"""Repartition keys of one period: greedy allocation and the manager's prox.

References: the key LP (and the prox QP) written with cvxpy and solved with tight
tolerances, on random instances; a hand case for the tie rule.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from dec.reckeys.keys import CommunityProx, allocate, key_fractions, retail_cost

TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


def random_period(rng, n):
    cons = rng.random(n) * (rng.random(n) < 0.7)
    prod = rng.random(n) * (rng.random(n) < 0.5)
    buy = rng.choice([0.2, 0.3, 0.3, 0.45], n)
    sell = rng.choice([0.0, 0.04, 0.04, 0.3], n)
    return cons, prod, buy, sell


def test_allocation_is_the_key_lp_optimum():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 7))
        cons, prod, buy, sell = random_period(rng, n)
        imports, exports = allocate(cons, prod, buy, sell)
        assert imports.sum() == pytest.approx(exports.sum(), abs=1e-12)
        assert (imports >= 0).all() and (imports <= cons + 1e-12).all()
        assert (exports >= 0).all() and (exports <= prod + 1e-12).all()
        i, e = cp.Variable(n, nonneg=True), cp.Variable(n, nonneg=True)
        lp = cp.Problem(
            cp.Minimize(buy @ (cons - i) - sell @ (prod - e)),
            [i <= cons, e <= prod, cp.sum(i) == cp.sum(e)],
        )
        lp.solve(solver=cp.HIGHS)
        mine = retail_cost(cons, prod, imports, exports, buy, sell).sum()
        assert mine == pytest.approx(lp.value, abs=1e-9)


def test_hand_case_priority_and_pro_rata_ties():
    # Surplus 3 kWh from P (sells at 0.04); C1 and C2 buy at 0.3 (2 and 4 kWh), C3 at
    # 0.45 (1 kWh). C3 is served first (1 kWh), the remaining 2 kWh go to C1 and C2 in
    # proportion to their consumption (2:4).
    cons = np.array([2.0, 4.0, 1.0, 0.0])
    prod = np.array([0.0, 0.0, 0.0, 3.0])
    buy = np.array([0.3, 0.3, 0.45, 0.3])
    sell = np.array([0.0, 0.0, 0.0, 0.04])
    imports, exports = allocate(cons, prod, buy, sell)
    assert imports == pytest.approx([2 / 3, 4 / 3, 1.0, 0.0], abs=1e-12)
    assert exports == pytest.approx([0, 0, 0, 3.0], abs=1e-12)
    import_key, export_key = key_fractions(imports, exports, prod)
    assert import_key == pytest.approx([2 / 9, 4 / 9, 1 / 3, 0.0])
    assert export_key == pytest.approx([0, 0, 0, 1.0])


def test_no_trade_when_the_seller_values_more_than_the_buyer():
    imports, exports = allocate(
        np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.1, 0.5]), np.array([0.0, 0.2])
    )
    assert not imports.any() and not exports.any()


def test_community_prox_is_the_prox_qp_optimum():
    # 40 windows of 5 periods each, every period checked against its prox QP; targets
    # are spread so that some fall at price levels and some between them.
    rng = np.random.default_rng(1)
    for _ in range(40):
        n, n_periods = int(rng.integers(0, 6)), 5
        columns = [random_period(rng, n) for _ in range(n_periods)]
        cons, prod, buy, sell = (np.column_stack([c[k] for c in columns]) for k in range(4))
        prox = CommunityProx(cons, prod, buy, sell)
        target, rho = rng.normal(size=n_periods) * 2, float(10 ** rng.uniform(-1, 1))
        y = prox(target, rho)
        for l_, (c, p, b, s) in enumerate(columns):
            i, e, yv = cp.Variable(n, nonneg=True), cp.Variable(n, nonneg=True), cp.Variable()
            qp = cp.Problem(
                cp.Minimize(s @ e - b @ i + rho / 2 * cp.square(yv - target[l_])),
                [i <= c, e <= p, cp.sum(e) - cp.sum(i) == yv],
            )
            qp.solve(solver=cp.CLARABEL, **TIGHT)
            assert y[l_] == pytest.approx(yv.value, abs=1e-6)
