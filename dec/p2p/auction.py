"""Double auction per hour, with three pricing rules, and its centralized reference.

Clearing one hour: bids are sorted by descending price and asks by ascending
price (orders at the same price in a seeded random order), and matched while the
bid price is at least the ask price, with partial fills: a buyer can be served by
several sellers and a seller can serve several buyers. Laid end to end, the
sorted bids and asks are two staircases over the traded volume; every stretch
of volume where one bid meets one ask is a trade. Pricing rules:

- ``uniform`` (k-double auction): every trade at ``k·b + (1−k)·a`` of the
  marginal (last matched) pair; k = 0.5 is its midpoint;
- ``discriminatory``: every trade at the midpoint of its own bid and ask;
- ``pay_as_ask``: every trade at its seller's ask (the reference study).

The reference is the welfare-maximising allocation of the same orders, a
transportation linear program (:func:`max_welfare_eur`): the auction reaches its
welfare whatever the pricing rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linprog

from dec.errors import SolverFailed
from dec.p2p.orders import OrderBook
from dec.p2p.trades import Trades

#: Stretches of matched volume shorter than this are rounding noise, kW.
VOLUME_TOL_KW = 1e-9


def tie_order(prices: np.ndarray, descending: bool, rng: np.random.Generator) -> np.ndarray:
    """Return the positions of ``prices`` sorted by price, ties in a seeded random order."""
    tie_break = rng.permutation(len(prices))
    key = -prices if descending else prices
    return np.lexsort((tie_break, key))


def match_hour(
    bid_kw: np.ndarray,
    bid_price: np.ndarray,
    ask_kw: np.ndarray,
    ask_price: np.ndarray,
    rule: str = "uniform",
    k: float = 0.5,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clear one hour's double auction.

    Parameters
    ----------
    bid_kw, bid_price
        Quantity (kW) and limit price (EUR/kWh) of each bid.
    ask_kw, ask_price
        Quantity (kW) and limit price (EUR/kWh) of each ask.
    rule
        ``uniform``, ``discriminatory`` or ``pay_as_ask``.
    k
        Weight of the bid in the uniform price, in [0, 1].
    rng
        Generator of the tie-breaking order (default: seed 0).

    Returns
    -------
    tuple of ndarray
        ``(bid, ask, quantity_kw, price_eur_per_kwh)`` of each trade: the positions
        of its bid and ask in the inputs, its quantity and its price. Trades come
        in matching order (highest bid and lowest ask first).

    """
    rng = np.random.default_rng(0) if rng is None else rng
    empty = (np.zeros(0, dtype=int), np.zeros(0, dtype=int), np.zeros(0), np.zeros(0))
    if len(bid_kw) == 0 or len(ask_kw) == 0:
        return empty
    bids = tie_order(np.asarray(bid_price, dtype=float), True, rng)
    asks = tie_order(np.asarray(ask_price, dtype=float), False, rng)
    bid_end = np.cumsum(np.asarray(bid_kw, dtype=float)[bids])
    ask_end = np.cumsum(np.asarray(ask_kw, dtype=float)[asks])
    volume = min(bid_end[-1], ask_end[-1])
    marks = np.unique(np.concatenate(([0.0], bid_end, ask_end)))
    marks = marks[marks <= volume]
    start, stop = marks[:-1], marks[1:]
    middle = 0.5 * (start + stop)
    b = bids[np.searchsorted(bid_end, middle, side="right")]
    a = asks[np.searchsorted(ask_end, middle, side="right")]
    crossing = bid_price[b] >= ask_price[a]
    n_matched = len(crossing) if crossing.all() else int(np.argmin(crossing))
    quantity = (stop - start)[:n_matched]
    b, a = b[:n_matched], a[:n_matched]
    keep = quantity > VOLUME_TOL_KW
    b, a, quantity = b[keep], a[keep], quantity[keep]
    if len(quantity) == 0:
        return empty
    if rule == "uniform":
        price = np.full(len(quantity), k * bid_price[b[-1]] + (1 - k) * ask_price[a[-1]])
    elif rule == "discriminatory":
        price = 0.5 * (bid_price[b] + ask_price[a])
    elif rule == "pay_as_ask":
        price = ask_price[a].astype(float)
    else:
        raise ValueError(f"unknown pricing rule {rule!r}")
    return b, a, quantity, price


def hour_rng(seed: int, hour_of_day: int) -> np.random.Generator:
    """Return the tie-breaking generator of one hour of the day (independent of the other hours)."""
    return np.random.default_rng([seed, hour_of_day])


def clear(
    book: OrderBook,
    rule: str = "uniform",
    k: float = 0.5,
    seed: int = 0,
    hours_of_day: Sequence[int] | None = None,
) -> Trades:
    """Clear the double auction of every hour of an order book.

    Parameters
    ----------
    book
        Orders of every hour (``book.hour`` is the block: a position in ``hours_of_day``).
    rule, k
        Pricing rule and uniform-price weight (see :func:`match_hour`).
    seed
        Seed of the tie-breaking order; the hour of day ``h`` uses ``[seed, h]``, so an
        hour clears the same whatever other hours the run holds.
    hours_of_day
        Hour of the day (0-23) of each block; default: the block itself.

    Returns
    -------
    Trades

    """
    parts = []
    for block in np.unique(book.hour):
        orders = book.of_hour(int(block))
        bids, asks = orders.bids(), orders.asks()
        hour_of_day = block if hours_of_day is None else hours_of_day[block]
        b, a, quantity, price = match_hour(
            bids.quantity_kw,
            bids.price_eur_per_kwh,
            asks.quantity_kw,
            asks.price_eur_per_kwh,
            rule,
            k,
            hour_rng(seed, int(hour_of_day)),
        )
        parts.append(
            Trades(
                hour=np.full(len(b), int(block)),
                buyer=bids.trader[b],
                seller=asks.trader[a],
                quantity_kw=quantity,
                price_eur_per_kwh=price,
                bid_eur_per_kwh=bids.price_eur_per_kwh[b],
                ask_eur_per_kwh=asks.price_eur_per_kwh[a],
                charge_eur_per_kwh=np.zeros(len(b)),
            )
        )
    return Trades.concat(parts)


def max_welfare_eur(book: OrderBook) -> float:
    """Welfare of the best allocation of the orders, Σ over hours, EUR (HiGHS LP).

    Per hour: maximise Σ_i b_i x_i − Σ_j a_j y_j over 0 ≤ x_i ≤ bid_i and 0 ≤ y_j ≤ ask_j with
    Σ x = Σ y. Every buyer-seller pair may trade, and the welfare of pairwise trades t_ij is
    Σ (b_i − a_j) t_ij = Σ b_i x_i − Σ a_j y_j for their totals x, y; any totals with Σ x = Σ y
    split into pairwise trades, so this LP of one variable per order has the optimum of the
    pairwise one (independently of the auction's merit-order matching).

    Raises
    ------
    SolverFailed
        If HiGHS ends an hour's LP without an optimum.
    """
    total = 0.0
    for hour in np.unique(book.hour):
        orders = book.of_hour(int(hour))
        bids, asks = orders.bids(), orders.asks()
        if len(bids) == 0 or len(asks) == 0:
            continue
        result = linprog(
            np.concatenate([-bids.price_eur_per_kwh, asks.price_eur_per_kwh]),
            A_eq=np.concatenate([np.ones(len(bids)), -np.ones(len(asks))])[None, :],
            b_eq=[0.0],
            bounds=np.column_stack(
                [
                    np.zeros(len(bids) + len(asks)),
                    np.concatenate([bids.quantity_kw, asks.quantity_kw]),
                ]
            ),
            method="highs",
        )
        if result.status != 0:
            raise SolverFailed(f"the welfare LP of hour {hour}", "HiGHS", result.message)
        total += -result.fun
    return float(total)
