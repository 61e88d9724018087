"""When the meters of a battery member can be modelled exactly by a linear program.

The meters accumulate ``max(−n, 0)`` and ``max(n, 0)`` of a net position ``n``. A
linear program writes ``n = g⁺ − g⁻`` with ``g⁺, g⁻ ≥ 0`` and bills ``g⁻`` on the
consumption meter and ``g⁺`` on the production meter; it is exact only if the
optimum never prefers both to be positive in a step. Raising both meters of
member i by δ changes the period's optimal bill by
``δ · (min(b_i, π) − max(s_i, π))`` where π is the community's marginal price of
the period (the dual of ``Σ I = Σ E``): it never increases the bill, and it lowers
it (a fictitious surplus sold to the community, or bought from the grid and sold back
to it) exactly when ``b_i < π`` or ``s_i > π``, i.e. unless some optimal π lies in
``[s_i, b_i]``. The optimal π form an interval reaching down to at most the highest
buying price of the members that can consume and up to at least the lowest selling
price of the members that can produce, so

    b_i,t ≥ max_j b_j,t   (j: members that can consume: consumption > 0 or a battery)
    s_i,t ≤ min_j s_j,t   (j: members that can produce: production > 0 or a battery)
    s_i,t ≤ b_i,t         (the member never sells above its own buying price)

at every step is sufficient for the LP to be exact (the bill of the LP equals the
bill of its actions metered with ``max``). Without the last condition raising both
meters of a step gains ``s_i − b_i`` per kWh without limit: the relaxation is unbounded
(e.g. a feed-in tariff above the retail price). Case 0 and the shipped Cases I and II
satisfy it. A battery member that does not is given one binary per step
(``g⁺ ≤ M z``, ``g⁻ ≤ M (1 − z)``): the policies' problems become MILPs (HiGHS),
exact but slower; ``meter_model: lp`` forces the relaxation and ``milp`` the
binaries for every battery member.
"""

from __future__ import annotations

import numpy as np

from dec.reckeys.case import RecCase


def lp_is_exact(case: RecCase) -> np.ndarray:
    """Return, for each battery member, whether the sufficient condition above holds (B,)."""
    has_battery = np.zeros(case.n_members, dtype=bool)
    has_battery[case.battery_index] = True
    can_consume = has_battery | (case.consumption_kwh.max(axis=1) > 0)
    can_produce = has_battery | (case.production_kwh.max(axis=1) > 0)
    buy, sell = case.buying_price_eur_per_kwh, case.selling_price_eur_per_kwh
    top_buy = buy[can_consume].max(axis=0, initial=-np.inf)  # no other consumer: no bound
    low_sell = sell[can_produce].min(axis=0, initial=np.inf)
    return np.array(
        [
            bool(
                np.all(buy[i] >= top_buy)
                and np.all(sell[i] <= low_sell)
                and np.all(sell[i] <= buy[i])
            )
            for i in case.battery_index
        ],
        dtype=bool,
    )


def binary_members(case: RecCase) -> np.ndarray:
    """Return, for each battery member, whether its meters get binaries (per ``meter_model``)."""
    n_batteries = len(case.battery_index)
    if case.meter_model == "lp":
        return np.zeros(n_batteries, dtype=bool)
    if case.meter_model == "milp":
        return np.ones(n_batteries, dtype=bool)
    return ~lp_is_exact(case)


def selling_above_buying(case: RecCase) -> list[str]:
    """Return the battery members that sell above their own buying price at some step.

    Their LP meters are unbounded (see the module docstring), so ``meter_model: lp``
    cannot be used for them.
    """
    buy, sell = case.buying_price_eur_per_kwh, case.selling_price_eur_per_kwh
    return [case.member_ids[i] for i in case.battery_index if np.any(sell[i] > buy[i])]
