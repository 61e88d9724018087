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


class CommunityProx:
    """Prox of the community's key problem in each period of a window (vectorised).

    The members given here (those without battery) import ``I`` and export ``E`` in
    each period while the rest of the community (the battery members) imports ``y``
    net: ``Σ E − Σ I = y``. With ``h(y)`` the least cost ``Σ s E − b I`` of this,
    :meth:`__call__` returns the minimiser of ``h(y) + ρ/2 (y − a)²`` per period. At
    the optimum the community price ``π = ρ (a − y)`` clears the merit order: members
    export fully if ``s < π`` and import fully if ``b > π`` (members at ``π`` share),
    so ``y = S(π) − D(π)``, a non-decreasing step function of π with steps at the
    members' price levels. ``a`` then lies either in the range ``[S − D](ℓ) + ℓ/ρ`` of
    a level ℓ (π = ℓ) or between two levels (π = ρ (a − y), ``y`` the constant
    ``S − D`` there); the levels and these ranges are built once per window.

    Parameters
    ----------
    consumption_kwh, production_kwh
        Meters of the members per window period, kWh (n, L).
    buy_eur_per_kwh, sell_eur_per_kwh
        Their prices per window period, EUR/kWh (n, L).

    """

    def __init__(
        self,
        consumption_kwh: np.ndarray,
        production_kwh: np.ndarray,
        buy_eur_per_kwh: np.ndarray,
        sell_eur_per_kwh: np.ndarray,
    ):
        cons, prod = np.asarray(consumption_kwh, float), np.asarray(production_kwh, float)
        buy, sell = np.asarray(buy_eur_per_kwh, float), np.asarray(sell_eur_per_kwh, float)
        # Price levels of each period (columns of cons are periods), padded with +inf.
        n_periods = cons.shape[1]
        candidates = np.concatenate(
            [
                np.where(cons > 0, buy, np.inf),
                np.where(prod > 0, sell, np.inf),
                np.full((1, n_periods), np.inf),  # at least one column, also for n = 0
            ],
            axis=0,
        ).T  # (L, 2n + 1)
        levels = np.sort(candidates, axis=1)
        repeated = np.zeros_like(levels, dtype=bool)
        repeated[:, 1:] = levels[:, 1:] == levels[:, :-1]
        levels[repeated] = np.inf
        self.levels = np.sort(levels, axis=1)  # (L, m)
        at = self.levels[None, :, :]  # members × periods × levels
        sell_, prod_ = sell[:, :, None], prod[:, :, None]
        buy_, cons_ = buy[:, :, None], cons[:, :, None]
        supply_below = np.sum(np.where(sell_ < at, prod_, 0.0), axis=0)
        supply_upto = np.sum(np.where(sell_ <= at, prod_, 0.0), axis=0)
        demand_above = np.sum(np.where(buy_ > at, cons_, 0.0), axis=0)
        demand_from = np.sum(np.where(buy_ >= at, cons_, 0.0), axis=0)
        #: S − D just below and just above each level, kWh (L, m); below the first
        #: level it is ``net_low[:, 0]``, between levels j − 1 and j ``net_low[:, j]``
        #: (the padding level +inf closes the last gap)
        self.net_low = supply_below - demand_from
        self.net_high = supply_upto - demand_above

    def __call__(self, target_kwh: np.ndarray, rho: float) -> np.ndarray:
        """Return ``y`` (L,), kWh, for the targets ``a`` (L,), kWh, and penalty ρ (EUR/kWh²)."""
        a = np.asarray(target_kwh, dtype=float)
        shift = self.levels / rho
        ends = np.stack([self.net_low + shift, self.net_high + shift], axis=2)
        below = np.sum(ends.reshape(len(a), -1) < a[:, None], axis=1)
        rows, level = np.arange(len(a)), below // 2
        inside = below % 2 == 1  # π is the level; else π lies in the gap below it
        return np.where(inside, a - shift[rows, level], self.net_low[rows, level])
