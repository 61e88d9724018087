"""DC network check: the largest share of each hour's trades the lines and transformers carry.

For hour ``h`` with trades ``k`` (seller ``s_k``, quantity ``q_k``), branch flows in the
DC model (pandapower's PTDF ``H``, slack connected, MW) are

    F(x) = H · p_base + Σ_k x_k q_k H[:, s_k],

``p_base`` being the injections without P2P: the buyers' full demand, the sellers' output
less what they sold (:mod:`dec.p2p.grid`). The linear
program

    maximise Σ_k q_k x_k   subject to   −R ≤ F(x) ≤ R,   0 ≤ x ≤ 1

chooses the executed fraction ``x_k`` of each trade (HiGHS). ``R`` is each
branch's rating times ``max_loading_percent``; where the base point alone
already exceeds it, the limit becomes the base flow (trades may not make it
worse) and the hour is reported. The optimum may not be unique: the executed
energy is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from dec.errors import SolverFailed
from dec.network.ptdf import PTDF
from dec.p2p.case import P2PCase
from dec.p2p.grid import (
    branch_ratings_mva,
    bus_columns,
    bus_injections_mw,
    element_powers_kw,
    matched_sales_kw,
    transfer_matrix_mw,
)
from dec.p2p.trades import Trades

#: Sensitivities below this are numerical noise of the PTDF, MW per trade.
SENSITIVITY_TOL_MW = 1e-12


@dataclass(frozen=True)
class DcCheck:
    """Result of the DC check.

    Attributes
    ----------
    fraction
        Executed fraction of every trade, in [0, 1].
    max_loading_percent
        Largest DC branch loading per hour after the check, % of rating.
    binding
        Number of branches at their limit per hour after the check.
    base_violations
        Number of branches above their limit without any P2P trade, per hour.

    """

    fraction: np.ndarray
    max_loading_percent: np.ndarray
    binding: np.ndarray
    base_violations: np.ndarray


def solve_hour(
    base_flow_mw: np.ndarray, transfer_mw: np.ndarray, limit_mw: np.ndarray, q_kw: np.ndarray
) -> np.ndarray:
    """Solve one hour's LP; return the executed fraction of each trade.

    Parameters
    ----------
    base_flow_mw
        Branch flows without P2P, MW.
    transfer_mw
        Flow change per branch when each trade is executed in full (branches × trades), MW.
    limit_mw
        Branch limits, MW (already relaxed to the base flow where that exceeds them).
    q_kw
        Trade quantities, kW (the objective's weights).

    Raises
    ------
    SolverFailed
        If HiGHS ends the LP without an optimum.

    """
    n = len(q_kw)
    rows = np.any(np.abs(transfer_mw) > SENSITIVITY_TOL_MW, axis=1)
    if n == 0:
        return np.zeros(0)
    if not rows.any():
        return np.ones(n)
    a = transfer_mw[rows]
    upper = limit_mw[rows] - base_flow_mw[rows]
    lower = limit_mw[rows] + base_flow_mw[rows]
    result = linprog(
        -np.asarray(q_kw),
        A_ub=np.vstack([a, -a]),
        b_ub=np.concatenate([upper, lower]),
        bounds=(0.0, 1.0),
        method="highs",
    )
    if result.status != 0:
        raise SolverFailed("the DC check LP", "HiGHS", result.message)
    return np.clip(result.x, 0.0, 1.0)


def dc_check(case: P2PCase, trades: Trades, ptdf: PTDF, max_loading_percent: float) -> DcCheck:
    """Run the DC check of every hour.

    Parameters
    ----------
    case
        The traders and their network.
    trades
        The market's trades (requested quantities).
    ptdf
        DC PTDF of ``case.net``.
    max_loading_percent
        Loading limit of lines and transformers, % of rating.

    Returns
    -------
    DcCheck

    """
    rating_mw = branch_ratings_mva(case, ptdf) * max_loading_percent / 100.0
    fraction = np.zeros(len(trades))
    loading = np.zeros(case.n_hours)
    binding = np.zeros(case.n_hours, dtype=int)
    base_violations = np.zeros(case.n_hours, dtype=int)
    for hour in range(case.n_hours):
        rows = trades.of_hour(hour)
        sold = matched_sales_kw(case, trades, hour)
        base_flow = ptdf.flows_mw(
            bus_injections_mw(case, ptdf, *element_powers_kw(case, hour, sold))
        )
        over = np.abs(base_flow) > rating_mw * (1 + 1e-9)
        base_violations[hour] = int(over.sum())
        limit = np.where(over, np.abs(base_flow), rating_mw)
        transfer = transfer_matrix_mw(
            ptdf, bus_columns(ptdf, case.bus[trades.seller[rows]]), trades.quantity_kw[rows]
        )
        fraction[rows] = solve_hour(base_flow, transfer, limit, trades.quantity_kw[rows])
        flow = base_flow + transfer @ fraction[rows]
        loading[hour] = 100.0 * float(
            np.max(np.abs(flow) / (rating_mw * 100.0 / max_loading_percent))
        )
        binding[hour] = int(np.sum(np.abs(flow) >= limit * (1 - 1e-7)))
    return DcCheck(fraction, loading, binding, base_violations)
