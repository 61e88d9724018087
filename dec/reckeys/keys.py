"""Repartition keys of one metering period and the members' bills.

Given the meters of a period (consumption ``C_i`` and production ``P_i``, kWh) and
the period's prices ``b_i``, ``s_i`` (EUR/kWh), the keys allocate imports ``I_i``
and exports ``E_i`` (kWh) that minimise the sum of the members' bills

    Σ_i b_i (C_i − I_i) − s_i (P_i − E_i)
    s.t. 0 ≤ I_i ≤ C_i,  0 ≤ E_i ≤ P_i,  Σ_i I_i = Σ_i E_i.

This LP is a transportation problem with one node, solved exactly by a greedy
rule: the community surplus goes to the members with the highest buying price
first and comes from the members with the lowest selling price first, as long as
the buyer's price exceeds the seller's. Members with equal prices share pro rata
to their meters (this fixes the keys where the LP has several optimal ones; the
bill total does not depend on it). A member may import and export in the same
period: it is metered on both sides because meters are not netted within a period.

Keys as fractions: the import key of a member is its share of the community
surplus ``I_i / Σ_j E_j`` (the import keys sum to 1 when there is a surplus); the
export key is the share of its production it gives to the community ``E_i / P_i``.
Both are 0 where the denominator is 0.
"""

from __future__ import annotations

import itertools

import numpy as np


def _pro_rata(totals: np.ndarray, groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    group_weight = np.bincount(groups, weights=weights, minlength=len(totals))
    share = np.divide(
        weights, group_weight[groups], out=np.zeros_like(weights), where=group_weight[groups] > 0
    )
    return totals[groups] * share


def allocate(
    consumption_kwh: np.ndarray,
    production_kwh: np.ndarray,
    buy_eur_per_kwh: np.ndarray,
    sell_eur_per_kwh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the cost-minimising imports and exports of one period.

    Parameters
    ----------
    consumption_kwh, production_kwh
        Metered consumption ``C`` and production ``P`` of each member, kWh (N,).
    buy_eur_per_kwh, sell_eur_per_kwh
        Buying and selling prices of the period, EUR/kWh (N,).

    Returns
    -------
    imports_kwh, exports_kwh
        ``I`` and ``E``, kWh (N,), with ``Σ I = Σ E``.

    """
    cons = np.maximum(np.asarray(consumption_kwh, dtype=float), 0.0)
    prod = np.maximum(np.asarray(production_kwh, dtype=float), 0.0)
    buy_levels, buy_group = np.unique(
        -np.asarray(buy_eur_per_kwh, dtype=float), return_inverse=True
    )
    sell_levels, sell_group = np.unique(
        np.asarray(sell_eur_per_kwh, dtype=float), return_inverse=True
    )
    demand = np.bincount(buy_group, weights=cons, minlength=len(buy_levels))
    supply = np.bincount(sell_group, weights=prod, minlength=len(sell_levels))
    to_group = np.zeros_like(demand)
    from_group = np.zeros_like(supply)
    g = h = 0
    while g < len(demand) and h < len(supply) and -buy_levels[g] > sell_levels[h]:
        q = min(demand[g] - to_group[g], supply[h] - from_group[h])
        to_group[g] += q
        from_group[h] += q
        if demand[g] - to_group[g] <= supply[h] - from_group[h]:
            g += 1
        else:
            h += 1
    return _pro_rata(to_group, buy_group, cons), _pro_rata(from_group, sell_group, prod)


def key_fractions(
    imports_kwh: np.ndarray, exports_kwh: np.ndarray, production_kwh: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the import keys (share of the surplus) and export keys (share of production).

    Arrays of any shape whose last axis is the members; the surplus is summed over it.
    """
    surplus = exports_kwh.sum(axis=-1, keepdims=True)
    import_key = np.divide(imports_kwh, surplus, out=np.zeros_like(imports_kwh), where=surplus > 0)
    export_key = np.divide(
        exports_kwh, production_kwh, out=np.zeros_like(exports_kwh), where=production_kwh > 0
    )
    return import_key, export_key


def retail_cost(
    consumption_kwh: np.ndarray,
    production_kwh: np.ndarray,
    imports_kwh: np.ndarray,
    exports_kwh: np.ndarray,
    buy_eur_per_kwh: np.ndarray,
    sell_eur_per_kwh: np.ndarray,
) -> np.ndarray:
    """Return ``b (C − I) − s (P − E)``, EUR, elementwise (the bill without battery fees)."""
    return buy_eur_per_kwh * (consumption_kwh - imports_kwh) - sell_eur_per_kwh * (
        production_kwh - exports_kwh
    )


def _at_price(price: float, levels: np.ndarray, qty: np.ndarray) -> tuple[float, float]:
    """Return (Σ qty with level < price, Σ qty with level ≤ price)."""
    return float(qty[levels < price].sum()), float(qty[levels <= price].sum())


def community_prox(
    consumption_kwh: np.ndarray,
    production_kwh: np.ndarray,
    buy_eur_per_kwh: np.ndarray,
    sell_eur_per_kwh: np.ndarray,
    target_kwh: float,
    rho: float,
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Prox of the community's key problem for one period, with extra net import ``y``.

    The members in the arrays (those without battery) import ``I`` and export ``E``
    while the rest of the community (the battery members) imports ``y`` net:
    ``Σ E − Σ I = y``. With ``h(y)`` the least cost ``Σ s E − b I`` of this, return the
    minimiser of ``h(y) + ρ/2 (y − a)²`` (``a`` = ``target_kwh``). At the optimum the
    community price ``π = ρ (a − y)`` clears the merit order: members export fully if
    ``s < π`` and import fully if ``b > π`` (members at ``π`` share pro rata), and
    ``y = S(π) − D(π)``; ``S − D`` is non-decreasing in π, so π is found among the
    price levels or between two of them.

    Returns
    -------
    y_kwh, price_eur_per_kwh, imports_kwh, exports_kwh

    """
    cons, prod = np.asarray(consumption_kwh, float), np.asarray(production_kwh, float)
    buy, sell = np.asarray(buy_eur_per_kwh, float), np.asarray(sell_eur_per_kwh, float)
    levels = np.unique(np.concatenate([buy[cons > 0], sell[prod > 0]]))

    def net_range(price: float) -> tuple[float, float]:
        s_lt, s_le = _at_price(price, sell, prod)
        d_gt = float(cons[buy > price].sum())
        d_ge = float(cons[buy >= price].sum())
        return s_lt - d_ge, s_le - d_gt

    price = None
    for level in levels:  # at a level: 0 ∈ [low, high] + level/ρ − a
        low, high = net_range(level)
        if low + level / rho - target_kwh <= 0 <= high + level / rho - target_kwh:
            price = level
            break
    if price is None:  # strictly between levels (or outside them): S − D is constant
        edges = np.concatenate([[-np.inf], levels, [np.inf]])
        for lo, hi in itertools.pairwise(edges):
            probe = hi - 1.0 if np.isinf(lo) else (lo + 1.0 if np.isinf(hi) else (lo + hi) / 2)
            net = net_range(probe)[0]
            candidate = rho * (target_kwh - net)
            if lo < candidate < hi:
                price = candidate
                break
    y = target_kwh - price / rho
    s_lt, s_le = _at_price(price, sell, prod)
    d_gt, d_ge = float(cons[buy > price].sum()), float(cons[buy >= price].sum())
    demand = min(max(d_gt, s_lt - y), d_ge)
    supply = min(max(y + demand, s_lt), s_le)
    imports = np.where(buy > price, cons, 0.0)
    exports = np.where(sell < price, prod, 0.0)
    tie_d, tie_s = (buy == price) & (cons > 0), (sell == price) & (prod > 0)
    if d_ge > d_gt:
        imports = imports + np.where(tie_d, cons * (demand - d_gt) / (d_ge - d_gt), 0.0)
    if s_le > s_lt:
        exports = exports + np.where(tie_s, prod * (supply - s_lt) / (s_le - s_lt), 0.0)
    return y, price, imports, exports
